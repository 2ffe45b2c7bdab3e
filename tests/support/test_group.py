"""The Support group: view-only on what support needs, the support desk's own actions, nothing else."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import User
from support.group import SUPPORT_GROUP, VIEW

pytestmark = pytest.mark.django_db


def test_the_group_exists_after_migrate_with_view_permissions_and_the_desks_actions_only(db):
    group = Group.objects.get(name=SUPPORT_GROUP)  # made by the post_migrate hook, no command needed
    codenames = set(group.permissions.values_list("content_type__app_label", "codename"))
    assert {(app, f"view_{model}") for app, model in VIEW} <= codenames
    assert {c for _, c in codenames if not c.startswith("view_")} == {
        "acknowledge_attention",
        "pause_route",
        "acknowledge_drift",
    }
    assert ("support", "flatten_route") not in codenames  # flattening places an order


def test_the_command_makes_support_staff_and_refreshes_the_group(db):
    person = User.objects.create_user(username="h", email="h@example.com", password="x" * 12)
    group = Group.objects.get(name=SUPPORT_GROUP)
    group.permissions.clear()  # drifted: the command puts it right
    out = io.StringIO()
    call_command("support_group", add="H@example.com", stdout=out)
    person.refresh_from_db()
    assert person.is_staff and not person.is_superuser
    assert list(person.groups.values_list("name", flat=True)) == [SUPPORT_GROUP]
    assert group.permissions.count() == len(VIEW) + 3
    assert "h@example.com is support staff" in out.getvalue()
    with pytest.raises(CommandError, match="no user"):
        call_command("support_group", add="nobody@example.com", stdout=io.StringIO())


def test_support_sees_but_cannot_change_add_or_delete(story, support):
    route, sent = story["route"], story["sent"]
    assert support.get(f"/admin/routing/route/{route.pk}/change/").status_code == 200
    changed = support.post(f"/admin/routing/route/{route.pk}/change/", {"name": "hijacked", "symbol": "PF_ETHUSD"})
    assert changed.status_code == 403
    route.refresh_from_db()
    assert route.name == "BTC trend"
    assert support.post(f"/admin/audit/alert/{sent.pk}/delete/", {"post": "yes"}).status_code == 403
    assert support.get("/admin/accounts/exchangeaccount/add/").status_code == 403
    assert support.get("/admin/auth/group/").status_code == 403  # cannot grant itself anything
    assert support.get("/admin/djstripe/webhookendpoint/").status_code == 403
    assert support.get(f"/admin/routing/route/{route.pk}/flatten/").status_code == 403  # places an order


def test_support_never_gets_a_password_hash_or_permission_editor(story, support, trader):
    page = support.get(f"/admin/accounts/user/{trader.pk}/change/").content.decode()
    assert "pbkdf2" not in page and "algorithm" not in page and trader.password[-10:] not in page
    assert "user_permissions" not in page
