from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

GROUP = "moderators"
# Exactly what reviewing needs: read the texts, the runs, the training data and the visitors'
# reports and votes; decide on texts. No add/delete, and nothing on users, groups, sessions or
# log entries.
PERMISSIONS = (
    "generator.view_generateddescription",
    "generator.change_generateddescription",
    "generator.view_modelrun",
    "generator.view_generationbatch",
    "titles.view_trainingtitle",
    "titles.view_genre",
    "web.view_report",
    "web.view_vote",
)


class Command(BaseCommand):
    help = (
        f"Create or update the '{GROUP}' group with exactly the permissions reviewing needs, and "
        "optionally add staff users to it. Safe to run again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "usernames",
            nargs="*",
            help="users to add to the group (they become staff, so they can log in to the admin)",
        )

    def handle(self, *args: Any, usernames: list[str], **options: Any) -> None:
        users = _users(usernames)
        with transaction.atomic():
            group, created = Group.objects.get_or_create(name=GROUP)
            group.permissions.set(_permissions())
            for user in users:
                user.is_staff = True
                user.save(update_fields=["is_staff"])
                user.groups.add(group)
        action = "Created" if created else "Updated"
        self.stdout.write(
            self.style.SUCCESS(f"{action} the '{GROUP}' group ({len(PERMISSIONS)} permissions).")
        )
        for user in users:
            self.stdout.write(f"Added {user.get_username()} to '{GROUP}'.")


def _permissions() -> list[Permission]:
    found = []
    for name in PERMISSIONS:
        app_label, codename = name.split(".")
        permission = Permission.objects.filter(
            content_type__app_label=app_label, codename=codename
        ).first()
        if permission is None:
            raise CommandError(f"permission {name} does not exist; run `manage.py migrate` first")
        found.append(permission)
    return found


def _users(usernames: list[str]) -> list[Any]:
    model = get_user_model()
    users = list(model.objects.filter(**{f"{model.USERNAME_FIELD}__in": usernames}))
    missing = sorted(set(usernames) - {user.get_username() for user in users})
    if missing:
        raise CommandError(f"no such user: {', '.join(missing)}. Nothing was changed.")
    return users
