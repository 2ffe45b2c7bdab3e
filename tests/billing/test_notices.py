"""The trader is told by e-mail (and on the billing page) before live access ends and when it has, with the live
routes it affects - once per end, whatever the schedule does."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone
from django_q.models import Schedule

from accounts.models import ExchangeAccount
from billing.models import AccessNotice, LiveAccess
from billing.notices import send_access_notices
from routing import schedules
from tests.billing.stripe_fake import DAY, deliver

pytestmark = pytest.mark.django_db


@pytest.fixture
def routes(trader, make_route):
    """Two live routes (one disabled), and a paper one: only the enabled live route is affected by billing."""
    make_route(name="BTC trend")
    make_route(name="ETH swing", symbol="PF_ETHUSD", enabled=False)
    paper = ExchangeAccount.objects.create(owner=trader, label="Paper", mode=ExchangeAccount.Mode.PAPER)
    make_route(name="Paper test", exchange_account=paper)


@pytest.fixture
def browser(trader) -> Client:
    client = Client()
    client.force_login(trader)
    return client


@pytest.fixture
def subscription(stripe_api, browser, hook, trader):
    LiveAccess.objects.filter(user=trader).delete()
    browser.post("/billing/subscribe/")
    (customer,) = stripe_api.customers
    return stripe_api.subscribe(customer, start=int(time.time()) - 28 * DAY)  # two days left in the period


def test_a_cancelled_subscription_warns_once_before_it_ends_naming_the_live_routes(
    stripe_api, browser, hook, subscription, routes
):
    stripe_api.cancel_at_period_end(subscription)
    deliver(browser, hook, stripe_api.event("customer.subscription.updated", subscription))
    now = timezone.now()
    assert send_access_notices(now) == 1
    assert send_access_notices(now + timedelta(minutes=15)) == 0  # the next run of the schedule
    (message,) = mail.outbox
    assert message.to == ["trader@example.com"]
    assert message.subject.startswith("OrderRail: live access ends on")
    assert "  - BTC trend\n" in message.body
    assert "ETH swing" not in message.body and "Paper test" not in message.body
    assert "worst-case stop keep working" in message.body
    html = browser.get("/billing/").content.decode()
    assert 'data-testid="routes-affected"' in html and "<li>BTC trend</li>" in html and "Paper test" not in html


def test_a_failed_renewal_warns_before_the_grace_period_runs_out(stripe_api, browser, hook, subscription, routes):
    stripe_api.set_period(subscription, int(time.time()) - 31 * DAY, int(time.time()) - DAY)
    stripe_api.renew(subscription, paid=False)
    deliver(browser, hook, stripe_api.event("customer.subscription.updated", subscription))
    assert send_access_notices(timezone.now()) == 1
    notice = AccessNotice.objects.get()
    access = LiveAccess.objects.get()
    assert notice.kind == AccessNotice.Kind.ENDING
    assert notice.ends_at == access.active_until + timedelta(days=3)


def test_a_subscription_that_renews_normally_sends_nothing(stripe_api, browser, hook, subscription, routes):
    deliver(browser, hook, stripe_api.event("customer.subscription.created", subscription))
    assert send_access_notices(timezone.now()) == 0
    assert mail.outbox == []


def test_the_end_of_live_access_is_told_once_with_the_routes(stripe_api, browser, hook, subscription, routes):
    deliver(browser, hook, stripe_api.event("customer.subscription.created", subscription))
    stripe_api.end(subscription)
    deliver(browser, hook, stripe_api.event("customer.subscription.deleted", subscription))
    assert send_access_notices(timezone.now()) == 1
    assert send_access_notices(timezone.now()) == 0
    (message,) = mail.outbox
    assert message.subject == "OrderRail: live access has ended"
    assert "  - BTC trend\n" in message.body
    html = browser.get("/billing/").content.decode()
    assert "Live access ended on" in html and "<li>BTC trend</li>" in html


def test_an_end_long_past_is_not_news(trader, routes, settings):
    settings.BILLING_ENABLED = True
    LiveAccess.objects.filter(user=trader).update(
        active_until=timezone.now() - timedelta(days=8), renews=False, status="canceled"
    )
    assert send_access_notices(timezone.now()) == 0


def test_billing_off_sends_nothing(trader, routes, settings):
    settings.BILLING_ENABLED = False
    LiveAccess.objects.filter(user=trader).update(active_until=timezone.now() - timedelta(hours=1))
    assert send_access_notices(timezone.now()) == 0


def test_the_notices_job_is_scheduled_once(db, settings):
    settings.BILLING_NOTICE_EVERY_MINUTES = 15
    schedules.ensure_schedules()
    Schedule.objects.create(name=schedules.BILLING_NOTICES_SCHEDULE, func="billing.tasks.send_access_notices")
    schedules.ensure_schedules()  # a racing first start left a duplicate: healed
    (row,) = Schedule.objects.filter(name=schedules.BILLING_NOTICES_SCHEDULE)
    assert (row.func, row.schedule_type, row.minutes, row.repeats) == (
        "billing.tasks.send_access_notices",
        Schedule.MINUTES,
        15,
        -1,
    )
    from pydoc import locate

    task = locate(row.func)
    assert callable(task) and task() == 0


def test_every_page_carries_a_banner_while_access_is_ending(stripe_api, browser, hook, subscription, routes):
    deliver(browser, hook, stripe_api.event("customer.subscription.created", subscription))
    assert 'data-testid="access-banner"' not in browser.get("/dashboard/").content.decode()  # renews: no banner
    stripe_api.cancel_at_period_end(subscription)
    deliver(browser, hook, stripe_api.event("customer.subscription.updated", subscription))
    page = browser.get("/dashboard/").content.decode()
    assert 'data-testid="access-banner"' in page and "then\n  BTC trend stop opening" in page
    assert 'href="/billing/"' in page
    # The billing page says it in full instead.
    assert 'data-testid="access-banner"' not in browser.get("/billing/").content.decode()
