"""Support can look at a paper book in the admin, and change nothing there."""

from __future__ import annotations

from decimal import Decimal

import pytest
from paper_testkit import SYMBOL

from accounts.models import User
from exchanges.base import OrderRequest, OrderType, Side

pytestmark = pytest.mark.django_db


def test_the_paper_book_in_the_admin_is_read_only(client, paper, exchange):
    exchange.place_order(
        OrderRequest(
            symbol=SYMBOL, side=Side.BUY, size=Decimal("0.1"), order_type=OrderType.MARKET, client_order_id="a"
        )
    )
    staff = User.objects.create_superuser(username="support", email="support@example.com", password="x" * 12)
    client.force_login(staff)
    listing = client.get("/admin/exchanges/paperaccount/")
    assert listing.status_code == 200
    assert b"PF_XBTUSD 0.1 @ 60000" in listing.content and b"9997" in listing.content
    page = client.get(f"/admin/exchanges/paperaccount/{paper.pk}/change/")
    assert page.status_code == 200 and b"9997" in page.content and b"PF_XBTUSD 0.1 @ 60000" in page.content
    assert client.post(f"/admin/exchanges/paperaccount/{paper.pk}/delete/").status_code == 403
    assert client.get("/admin/exchanges/paperaccount/add/").status_code == 403
    orders = client.get("/admin/exchanges/paperorder/?q=a")
    assert orders.status_code == 200 and b"filled" in orders.content
