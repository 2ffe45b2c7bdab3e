"""Issue 10 hole 7: seed_demo (a superuser with a published password, a known route secret, ten years of live
access) refuses to run outside development."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from accounts.models import User
from routing.models import Route

pytestmark = pytest.mark.django_db


def test_seed_demo_refuses_with_debug_off(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="development"):
        call_command("seed_demo")
    assert not User.objects.exists() and not Route.objects.exists()


def test_seed_demo_seeds_in_development(settings):
    settings.DEBUG = True
    call_command("seed_demo")
    assert User.objects.filter(is_superuser=True).count() == 1
    assert Route.objects.count() == 1
