"""Load the demo tenant (used by `make run`); safe to run again."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from crm.demo import DEMO_PASSWORD, DEMO_SLUG, DEMO_USERS, seed_demo


class Command(BaseCommand):
    help = "Create the Russian-speaking demo tenant with one user per role (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        tenant, created = seed_demo()
        state = "Created" if created else "Already present:"
        self.stdout.write(self.style.SUCCESS(f"{state} demo tenant /{DEMO_SLUG}/ ({tenant.name})"))
        self.stdout.write(
            f"Log in at http://127.0.0.1:8000/accounts/login/ — password for all: {DEMO_PASSWORD}"
        )
        for spec in DEMO_USERS:
            self.stdout.write(f"  {spec.role:<9} {spec.email:<32} {spec.full_name}")
