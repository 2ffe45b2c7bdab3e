from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from accounts.models import User
from audit.models import Alert, Decision
from routing import reconcile
from tests.billing.conftest import billing_settings  # noqa: F401  (Stripe settings holding canary keys)

# The trading fixtures (fake Kraken over HTTP, a trader with a live account, a route factory).
from tests.routing.conftest import account, exchange_url, fake, make_route, payload, post, trader  # noqa: F401
from tests.worker import run_queued_tasks


@pytest.fixture
def transport() -> str:
    """The support desk sits above the exchange layer: its tests run once, on REST v3."""
    return "rest"


@pytest.fixture
def support(db: None) -> Client:
    """A support person as the README says to make one: an account, then `manage.py support_group --add`."""
    User.objects.create_user(username="helpdesk", email="helpdesk@example.com", password="x" * 12)
    call_command("support_group", add="helpdesk@example.com", stdout=None)
    client = Client()
    client.force_login(User.objects.get(email="helpdesk@example.com"))
    return client


@pytest.fixture
def superuser(db: None) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "x" * 12))
    return client


_ids = iter(range(1_000_000))


def alert(client: Client, route: Any, **fields: Any) -> Alert:
    fields.setdefault("id", f"s-{next(_ids)}")
    response = post(client, route, payload(**fields))
    assert response.status_code in (202, 401), response.content
    run_queued_tasks()
    return Alert.objects.get(pk=response.json()["alert"])


@pytest.fixture
def story(client: Client, make_route: Any, fake: Any, exchange_url: str) -> dict[str, Any]:  # noqa: F811
    """A route with its worst-case stop and four alerts: sent and filled, skipped by a limit, refused at the
    webhook (wrong secret), rejected by the exchange."""
    fake.set_mark("PF_XBTUSD", Decimal(60000))
    route = make_route(name="BTC trend", worst_case_stop_pct=Decimal(5), max_position=Decimal("0.5"))
    sent = alert(client, route, position="0.1")
    skipped = alert(client, route, position="0.9")
    refused = alert(client, route, position="0.2", secret="not-the-secret")
    fake.add_fault("sendorder", "reject", count=1, status="insufficientAvailableFunds")
    rejected = alert(client, route, position="0.3")
    reconcile.run()  # fills' fees and P&L come in from the account log
    assert sent.decision.action == Decision.Action.SEND and skipped.decision.reason == "max_position_size"
    return {"route": route, "sent": sent, "skipped": skipped, "refused": refused, "rejected": rejected}
