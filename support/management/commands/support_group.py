"""Create or refresh the Support group (view-only, plus the support desk's actions), and optionally put a person in
it: `manage.py support_group [--add someone@example.com]`. The person becomes staff (the admin's door) but never a
superuser."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from support.group import ensure_support_group


class Command(BaseCommand):
    help = "Create or refresh the Support group; --add EMAIL puts a staff member in it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--add", metavar="EMAIL", help="an existing user to make support staff")

    def handle(self, *args: Any, add: str | None, **options: Any) -> None:
        group = ensure_support_group()
        self.stdout.write(f"group {group.name}: {group.permissions.count()} permissions")
        if add:
            user = User.objects.filter(email__iexact=add).first()
            if user is None:
                raise CommandError(f"no user with the e-mail {add}")
            if user.is_superuser:
                raise CommandError(f"{add} is a superuser already; support staff are not")
            user.is_staff = True
            user.save(update_fields=["is_staff"])
            user.groups.add(group)
            self.stdout.write(f"{user.email} is support staff")
