"""The support desk's own permissions. Support staff see everything read-only (view permissions, never change or
delete); what they may *do* is one of these, each recorded with who, when and why:

- acknowledge an attention item (it leaves the queue, with a note);
- pause a route (new alerts are skipped; exits already decided, worst-case stops and reconciliation go on);
- acknowledge position drift (re-base the route on the exchange's position, routing.drift.acknowledge).

`flatten_route` - closing a route's position with a reduce-only market order - places an order, so it is not part
of the support group; give it to the few who may.
"""

from __future__ import annotations

from audit.models import Attention


class NeedsAttention(Attention):
    """The "needs attention" queue in the admin (support.admin): open attention items and orders stuck without a
    definitive answer, oldest first. A proxy of audit.Attention (no table of its own, so every table-scanning canary
    still reads real rows) giving the queue its own page, its view permission, and a home for the desk's actions."""

    class Meta:
        proxy = True
        default_permissions = ("view",)
        verbose_name = "needs attention"
        verbose_name_plural = "needs attention"
        permissions = [
            ("acknowledge_attention", "Can acknowledge an attention item"),
            ("pause_route", "Can pause a route"),
            ("acknowledge_drift", "Can acknowledge position drift (re-base a route)"),
            ("flatten_route", "Can flatten a route (places a reduce-only order)"),
        ]
