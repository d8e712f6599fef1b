"""Create a tenant with its default roles and an administrator (for scripts and operators)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from crm.errors import DomainError
from crm.models import User, normalize_email, validate_tenant_slug
from crm.services import tenant_create


class Command(BaseCommand):
    help = "Create a tenant (workspace) with its default roles and an administrator."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="URL address of the workspace, e.g. acme")
        parser.add_argument("--name", required=True, help="Company name shown in the UI")
        parser.add_argument("--admin-email", required=True)
        parser.add_argument("--admin-password", help="Required when the e-mail has no account yet")
        parser.add_argument("--admin-name", default="")
        parser.add_argument("--language", default="ru", choices=["ru", "en"])
        parser.add_argument(
            "--region", default="RU", help="Default phone region (ISO 3166 alpha-2)"
        )
        parser.add_argument("--time-zone", default="Europe/Moscow")
        parser.add_argument("--currency", default="RUB")

    def handle(self, *args: Any, **options: Any) -> None:
        slug = options["slug"]
        try:
            validate_tenant_slug(slug)
        except ValidationError as error:
            raise CommandError(f"Invalid slug {slug!r}: {' '.join(error.messages)}") from error
        email = normalize_email(options["admin_email"])
        with transaction.atomic():
            user = User.objects.filter(email=email).first()
            if user is None:
                if not options["admin_password"]:
                    raise CommandError(f"{email} has no account yet: pass --admin-password.")
                user = User.objects.create_user(
                    email, options["admin_password"], full_name=options["admin_name"]
                )
            try:
                tenant, _membership = tenant_create(
                    name=options["name"],
                    slug=slug,
                    owner=user,
                    language=options["language"],
                    default_region=options["region"].upper(),
                    time_zone=options["time_zone"],
                    currency=options["currency"].upper(),
                )
            except DomainError as error:
                raise CommandError(error.message) from error
        self.stdout.write(
            self.style.SUCCESS(f"Created tenant {tenant.slug} ({tenant.name}); admin {email}.")
        )
        self.stdout.write(f"URL path: /{tenant.slug}/")
