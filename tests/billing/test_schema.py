"""dj-stripe's migrations squashed into one (billing/stripe_schema) build exactly dj-stripe's own schema, and
replace its three, so a database built either way is the same to Django."""

from __future__ import annotations

from django.db.migrations.autodetector import MigrationAutodetector
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.questioner import NonInteractiveMigrationQuestioner
from django.db.migrations.state import ProjectState
from django.test import override_settings

OURS = {"djstripe": "billing.stripe_schema.migrations"}
DJSTRIPES_OWN: dict[str, str] = {}


def _state(modules: dict[str, str]) -> tuple[ProjectState, MigrationLoader]:
    with override_settings(MIGRATION_MODULES=modules):
        loader = MigrationLoader(None, ignore_no_migrations=True, load=True)
        return loader.project_state(loader.graph.leaf_nodes("djstripe"), at_end=True), loader


def test_the_squashed_migration_builds_djstripes_own_schema() -> None:
    real, real_loader = _state(DJSTRIPES_OWN)
    squashed, loader = _state(OURS)
    assert real_loader.graph.leaf_nodes("djstripe") == [("djstripe", "0003_2_11")]
    for before, after in ((real, squashed), (squashed, real)):
        changes = MigrationAutodetector(before, after, NonInteractiveMigrationQuestioner()).changes(graph=loader.graph)
        assert changes.get("djstripe", []) == []


def test_it_replaces_djstripes_three_and_dependents_follow() -> None:
    _, loader = _state(OURS)
    (squash,) = loader.graph.leaf_nodes("djstripe")
    assert loader.graph.nodes[squash].replaces == [
        ("djstripe", "0001_initial"),
        ("djstripe", "0002_2_10"),
        ("djstripe", "0003_2_11"),
    ]
    # billing's migration names dj-stripe's last migration; it resolves to the squash.
    parents = {parent.key for parent in loader.graph.node_map[("billing", "0003_webhooksecret")].parents}
    assert squash in parents
