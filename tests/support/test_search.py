"""From a trader's complaint to the alert: the alert list finds it by whatever support has, and shows outcome and
reason in full, the trader's sentence, times to the second (sortable) and plain decimals."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.utils.html import escape

from audit.models import Alert, Order
from audit.reasons import explain

pytestmark = pytest.mark.django_db


def found(client, query: str) -> list[int]:
    page = client.get(f"/admin/audit/alert/?q={quote(query)}")
    assert page.status_code == 200
    return sorted(int(pk) for pk in re.findall(r'href="/admin/audit/alert/(\d+)/change/', page.content.decode()))


def test_find_an_alert_by_anything_support_has(story, support, make_route):
    sent, skipped, refused, rejected = (story[k] for k in ("sent", "skipped", "refused", "rejected"))
    everyone = sorted([sent.pk, skipped.pk, refused.pk, rejected.pk])
    assert found(support, str(skipped.pk)) == [skipped.pk]
    assert found(support, f"#{rejected.pk}") == [rejected.pk]
    assert found(support, "trader@example.com") == everyone
    assert found(support, "nobody@example.com") == []
    assert found(support, "BTC trend") == everyone
    assert found(support, "max_position_size") == [skipped.pk]
    assert found(support, "Invalid secret") == [refused.pk]  # a reason's words, as the list shows them
    assert found(support, "skipped") == [skipped.pk]
    assert found(support, "rejected") == sorted([refused.pk, rejected.pk])
    assert found(support, "trader@example.com sent") == [sent.pk]  # words narrow each other
    order = Order.objects.get(decision__alert=rejected)
    assert found(support, order.client_order_id) == [rejected.pk]
    stop = Order.objects.get(purpose=Order.Purpose.WORST_CASE_STOP)
    assert found(support, stop.client_order_id) == []  # a stop belongs to no alert


def test_find_by_the_time_to_the_second(story, support):
    sent = story["sent"]
    moment = sent.received_at
    second = moment.strftime("%Y-%m-%d %H:%M:%S")
    assert sent.pk in found(support, second)
    assert sent.pk in found(support, moment.strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert sent.pk in found(support, second + " UTC")
    before = (moment - timedelta(seconds=1)).strftime("%Y-%m-%d %H:%M:%S")
    Alert.objects.filter(pk=sent.pk).update(fired_at=moment)  # so neither time points a second earlier
    assert sent.pk not in found(support, before)


def test_the_list_shows_outcome_reason_and_sentence_in_full_to_the_second(story, support):
    skipped = story["skipped"]
    html = support.get("/admin/audit/alert/").content.decode()
    assert "Skipped: Max position size (max_position_size)" in html
    assert escape(skipped.decision.message) in html
    assert skipped.decision.message == explain("max_position_size", {"observed": "0.9", "limit": "0.5", "unit": "XBT"})
    assert skipped.received_at.strftime("%Y-%m-%d %H:%M:%S UTC") in html
    # Newest first by default, and sortable by time.
    rows = re.findall(r'href="/admin/audit/alert/(\d+)/change/', html)
    assert [int(r) for r in rows] == sorted((int(r) for r in rows), reverse=True)
    column = html.index("column-plain_received_at")
    assert "sortable" in html[column - 40 : column]
    assert support.get("/admin/audit/alert/?o=2").status_code == 200  # sorted by received time


def test_decimals_and_times_are_plain_everywhere_support_looks(story, support):
    order = Order.objects.get(decision__alert=story["sent"])
    pages = [support.get("/admin/audit/order/"), support.get(f"/admin/audit/order/{order.pk}/change/")]
    for page in pages:
        html = page.content.decode()
        assert "0.100000000000" not in html and "60000.000000000000" not in html
        assert order.created_at.strftime("%Y-%m-%d %H:%M:%S UTC") in html
        assert "p.m." not in html and "a.m." not in html
    assert ">0.1<" in pages[0].content.decode()
