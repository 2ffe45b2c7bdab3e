"""One page per alert: the sentence the trader sees, the decision with every check, the orders with their state
history, fills and fees, and the worst-case stop."""

from __future__ import annotations

import pytest
from django.utils.html import escape

from audit.display import number
from audit.models import Fill, Order

pytestmark = pytest.mark.django_db


def page(client, alert) -> str:
    response = client.get(f"/admin/audit/alert/{alert.pk}/change/")
    assert response.status_code == 200
    return response.content.decode()


def test_a_sent_alert_tells_the_whole_story(story, support):
    sent = story["sent"]
    html = page(support, sent)
    decision = sent.decision
    assert f'data-testid="explanation">{escape(decision.message)}</p>' in html  # exactly the trader's sentence
    assert decision.message.startswith("Order sent: buy 0.1 PF_XBTUSD")
    for check in decision.checks:
        assert f"<td>{check['name']}</td>" in html
    order = Order.objects.get(decision=decision)
    assert order.client_order_id in html and "<strong>Filled</strong>" in html
    for event in order.events.all():
        assert event.cause in html
    fill = Fill.objects.get(order=order)
    assert fill.fee and f"fees {number(fill.fee)}" in html
    assert f"<td>{number(fill.price)}</td>" in html
    stop = Order.objects.get(purpose=Order.Purpose.WORST_CASE_STOP)
    assert f"{stop.client_order_id}</a>\n        sell 0.1 stop {number(stop.stop_price)}" in html
    assert "(resting now)" in html
    assert sent.received_at.strftime("%Y-%m-%d %H:%M:%S UTC") in html


def test_a_skipped_alert_shows_the_failing_check(story, support):
    skipped = story["skipped"]
    html = page(support, skipped)
    assert escape(skipped.decision.message) in html
    assert "failed: max_position_size" in html and "<td>0.9</td>" in html and "<td>0.5</td>" in html
    assert "No order was sent." in html


def test_rejections_by_the_webhook_and_by_the_exchange(story, support):
    refused = page(support, story["refused"])
    assert escape(story["refused"].decision.message) in refused and "no checks ran" in refused
    rejected = page(support, story["rejected"])
    assert "insufficientAvailableFunds" in rejected and escape(story["rejected"].decision.message) in rejected
