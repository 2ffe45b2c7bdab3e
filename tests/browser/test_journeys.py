"""A new trader's journeys in a real browser, against the real web server, worker and fake Kraken processes.

Sign up → verify the e-mail (from the outbox files) → turn on two-factor authentication (the code computed
as an authenticator app does) → sign out and back in with a recovery code → connect a key on the fake → create a
route → copy its TradingView message with the page's copy button → fire exactly that message at the webhook →
watch the alert's decision, order, fill and fee appear on its timeline → test the route → flatten and pause, first
on a paper route (free, simulated at the fake's marks) and then the same strategy as a live route on the fake."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests

from audit.models import Alert, Order, RouteEvent
from audit.order_states import OrderState
from routing.models import Route
from tests import stack
from tests.browser.browser import (
    Camera,
    as_tradingview_fires_it,
    browser,
    confirmation_link,
    running_stack,
    totp,
    wait_for_text,
)
from tests.routing.conftest import TRADER_KEY, TRADER_SECRET

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

PASSWORD = "a long and unguessable passphrase 42"


def sign_up_and_verify(page, s, camera: Camera, email: str) -> None:
    response = page.goto(s.web + "/")
    # Every page of the journey runs under the production Content-Security-Policy: a refused inline script or
    # style would show up as a console error and fail the test.
    assert "default-src 'self'" in response.headers.get("content-security-policy", "")
    camera.shot(page, "home")
    page.get_by_role("link", name="Create account").first.click()
    camera.shot(page, "sign-up", phone=False)
    page.fill("#id_email", email)
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.locator("main button[type=submit]").click()
    page.wait_for_url("**/confirm-email/**")
    camera.shot(page, "verification-sent", phone=False)
    page.goto(confirmation_link(s.mail_dir, email))
    camera.shot(page, "confirm-email", phone=False)
    page.locator("main button[type=submit]").click()
    page.wait_for_url("**/dashboard/")
    camera.shot(page, "dashboard-new")
    assert "Get to your first route" in page.content()


def turn_on_two_factor(page, s, camera: Camera, email: str) -> None:
    page.goto(s.web + "/account/")
    camera.shot(page, "account", phone=False)
    page.get_by_role("link", name="Two-factor authentication").first.click()
    camera.shot(page, "two-factor", phone=False)
    page.goto(s.web + "/accounts/2fa/totp/activate/")
    if "/reauthenticate/" in page.url:  # signed in by the e-mail link, not the password: allauth asks for it once
        camera.shot(page, "confirm-access", phone=False)
        page.fill("#id_password", PASSWORD)
        page.locator("main button[type=submit]").first.click()
        page.wait_for_url("**/totp/activate/")
    camera.shot(page, "two-factor-activate")
    secret = page.input_value("#authenticator_secret")
    page.fill("#id_code", totp(secret))
    page.locator("main button[type=submit]").click()
    page.wait_for_load_state()
    camera.shot(page, "two-factor-on", phone=False)
    page.goto(s.web + "/accounts/2fa/recovery-codes/")
    camera.shot(page, "recovery-codes", phone=False)
    codes = page.input_value("#recovery_codes").split()
    assert len(codes) >= 5
    # Sign out, and back in: the password alone is not enough any more.
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_load_state()
    page.goto(s.web + "/accounts/login/")
    camera.shot(page, "sign-in")
    page.fill("#id_login", email)
    page.fill("#id_password", PASSWORD)
    page.locator("main button[type=submit]").first.click()
    page.wait_for_url("**/2fa/authenticate/**")
    camera.shot(page, "sign-in-code", phone=False)
    page.fill("#id_code", codes[0])
    page.locator("main button[type=submit]").first.click()
    page.wait_for_url("**/dashboard/")


def connect_key(page, s, camera: Camera) -> None:
    page.goto(s.web + "/exchange/")
    camera.shot(page, "exchange-empty", phone=False)
    page.get_by_role("link", name="Connect a Kraken Futures key").first.click()
    page.fill("#id_label", "Main")
    page.fill("#id_api_key", TRADER_KEY)
    page.fill("#id_api_secret", TRADER_SECRET + "x")  # a typo first: refused, nothing stored
    page.locator("main button[type=submit]").click()
    assert "Kraken refused this key" in page.content() or "not in the form Kraken gives" in page.content()
    camera.shot(page, "connect-refused")
    page.fill("#id_api_key", TRADER_KEY)
    page.fill("#id_api_secret", TRADER_SECRET)
    page.locator("main button[type=submit]").click()
    page.wait_for_url("**/exchange/*/")
    assert "Connected" in page.content()
    camera.shot(page, "exchange-connected")


def create_route(page, s, camera: Camera, *, name: str, account_label: str) -> tuple[str, str, int]:
    page.goto(s.web + "/routes/new/")
    value = page.locator("#id_exchange_account option", has_text=account_label).first.get_attribute("value")
    page.select_option("#id_exchange_account", value)
    page.fill("#id_name", name)
    page.select_option("#id_symbol", "PF_XBTUSD")
    page.fill("#id_tv_alias", "XBTUSD.P")
    page.fill("#id_max_position", "1")
    page.fill("#id_multiplier", "abc")  # a mistake: refused with its message, nothing saved
    page.locator("main button[type=submit]").first.click()
    assert "Enter a number" in page.content() and "Nothing was saved" in page.content()
    camera.shot(page, "route-form-error")
    page.fill("#id_multiplier", "1")
    page.locator("main button[type=submit]").first.click()
    page.wait_for_selector("#alert-message")
    camera.shot(page, "route-secret-once")
    page.locator("button[data-copy-target=webhook-url]").click()
    url = page.evaluate("navigator.clipboard.readText()")
    page.locator("button[data-copy-target=alert-message]").click()
    message = page.evaluate("navigator.clipboard.readText()")
    assert '"secret"' in message and "{{strategy.position_size}}" in message
    page.get_by_role("link", name="I have copied it").click()
    page.wait_for_url("**/routes/*/")
    camera.shot(page, "route-page")
    return url, message, int(page.url.rstrip("/").rsplit("/", 1)[1])


def fire_and_watch(page, s, camera: Camera, url: str, message: str, *, position: str, tag: str) -> int:
    body = as_tradingview_fires_it(
        message,
        **{
            "strategy.order.action": "buy",
            "strategy.position_size": position,
            "strategy.market_position": "long",
            "ticker": "XBTUSD.P",
            "strategy.order.id": "Long",
        },
    )
    answer = requests.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=5)
    assert answer.status_code == 202, answer.text
    alert_id = answer.json()["alert"]
    page.goto(s.web + f"/alerts/{alert_id}/")
    wait_for_text(page, "Order sent")
    wait_for_text(page, "Fill: buy")
    # Fees arrive with the exchange's account log, which reconciliation reads every minute; run it once now.
    subprocess.run([sys.executable, "manage.py", "reconcile"], env=s.env, check=True, capture_output=True, timeout=60)
    wait_for_text(page, 'class="fill-fee"')
    wait_for_text(page, "Worst-case stop: sell")
    camera.shot(page, f"{tag}-timeline")
    page.goto(s.web + "/alerts/")
    camera.shot(page, f"{tag}-alerts")
    return alert_id


def flatten(page, s, camera: Camera, route_id: int, tag: str) -> None:
    page.goto(s.web + f"/routes/{route_id}/")
    page.get_by_role("link", name="Flatten and pause").click()
    camera.shot(page, f"{tag}-flatten-confirm", phone=False)
    page.get_by_role("button", name="Flatten and pause now").click()
    page.wait_for_url(f"**/routes/{route_id}/")
    assert "Route paused" in page.content() and "filled" in page.content()
    camera.shot(page, f"{tag}-flattened")


def make_paper_account(page, s, camera: Camera) -> None:
    page.goto(s.web + "/exchange/")
    page.get_by_role("button", name="New paper account").click()
    page.wait_for_url("**/exchange/*/")
    assert "Paper account" in page.content() and "Equity" in page.content()
    camera.shot(page, "paper-account")


def test_new_trader_journey_paper_route_then_live_route(tmp_path: Path) -> None:
    camera = Camera("journey")
    email = "new.trader@example.com"
    with running_stack(tmp_path, TRADER_KEY, TRADER_SECRET) as s, browser(camera) as (context, page):
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=s.web)
        sign_up_and_verify(page, s, camera, email)
        turn_on_two_factor(page, s, camera, email)
        connect_key(page, s, camera)

        # A paper route first: free, simulated at the fake's mark prices, nothing sent to the exchange.
        make_paper_account(page, s, camera)
        url, message, paper_route = create_route(page, s, camera, name="XBT trend 4h (paper)", account_label="Paper")
        paper_alert = fire_and_watch(page, s, camera, url, message, position="0.05", tag="paper")
        page.goto(s.web + f"/routes/{paper_route}/test/")
        page.fill("#id_position", "2")
        page.get_by_role("button", name="Evaluate now").click()
        assert "Would skip" in page.content() and "your limit is 1" in page.content()
        camera.shot(page, "paper-test-route")
        flatten(page, s, camera, paper_route, "paper")

        # Then the same strategy live, on the connected key (the fake Kraken).
        url, message, live_route = create_route(page, s, camera, name="XBT trend 4h (live)", account_label="Main")
        live_alert = fire_and_watch(page, s, camera, url, message, position="0.03", tag="live")
        page.goto(s.web + "/dashboard/")
        camera.shot(page, "dashboard")
        page.goto(s.web + "/performance/")
        camera.shot(page, "performance")
        flatten(page, s, camera, live_route, "live")
        assert not camera.errors, camera.errors
        orders_on_exchange = stack.fake_orders(s.kraken)

    # What the pages showed is what the records say (read after the browser is closed: the ORM is synchronous).
    for alert_id, route_id, mode in ((paper_alert, paper_route, "paper"), (live_alert, live_route, "live")):
        alert = Alert.objects.get(pk=alert_id)
        route = Route.objects.get(pk=route_id)
        assert route.exchange_account.mode == mode and not route.enabled
        (order,) = alert.decision.orders.all()
        assert order.state == OrderState.FILLED and order.fills.get().fee is not None
        close = Order.objects.get(route=route, decision=None, purpose=Order.Purpose.FLATTEN)
        assert close.reduce_only and close.state == OrderState.FILLED
        assert RouteEvent.objects.filter(route=route, kind=RouteEvent.Kind.POSITION_CLOSED).exists()
        # Paper orders never reach the exchange; live ones do, by their client order id.
        assert (order.client_order_id in orders_on_exchange) == (mode == "live")
