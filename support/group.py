"""The "Support" group: view permission on everything support needs to answer "why didn't my trade happen?",
the support desk's own actions (support.models), and nothing else - no change, no delete, no add, no secret.

Kept exactly in sync (a permission dropped from the list is taken away) after every `migrate` and by
`manage.py support_group`, which can also add a person to it.
"""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

SUPPORT_GROUP = "Support"

# (app label, model) pairs support may view.
VIEW = [
    ("audit", "alert"),
    ("audit", "decision"),
    ("audit", "order"),
    ("audit", "orderevent"),
    ("audit", "fill"),
    ("audit", "ledgerentry"),
    ("audit", "attention"),
    ("audit", "routeevent"),
    ("routing", "route"),
    ("routing", "routestate"),
    ("accounts", "user"),
    ("accounts", "exchangeaccount"),
    ("exchanges", "paperaccount"),
    ("exchanges", "paperorder"),
    ("billing", "liveaccess"),
    ("billing", "accessnotice"),
    ("djstripe", "customer"),
    ("djstripe", "subscription"),
    ("djstripe", "invoice"),
    ("support", "needsattention"),
]
ACTIONS = ["acknowledge_attention", "pause_route", "acknowledge_drift"]


def support_permissions() -> list[Permission]:
    views = Q()
    for app_label, model in VIEW:
        views |= Q(content_type__app_label=app_label, content_type__model=model, codename=f"view_{model}")
    actions = Q(content_type__app_label="support", codename__in=ACTIONS)
    return list(Permission.objects.filter(views | actions))


def ensure_support_group() -> Group:
    group, _ = Group.objects.get_or_create(name=SUPPORT_GROUP)
    group.permissions.set(support_permissions())
    return group
