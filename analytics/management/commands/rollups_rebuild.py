"""Rebuild the analytics daily rollups of workspaces from their leads (operators)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from analytics.rollups import rebuild
from crm.models import Tenant
from crm.tenancy import tenant_context


class Command(BaseCommand):
    help = (
        "Throw away the analytics rollups of the given workspaces (or of all with --all) and "
        "roll up every finished day again from the leads. Safe to run at any time: reports "
        "read the days not rolled up yet raw."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slugs", nargs="*", help="URL addresses of the workspaces")
        parser.add_argument("--all", action="store_true", help="every workspace")

    def handle(self, *args: Any, **options: Any) -> None:
        slugs: list[str] = options["slugs"]
        if options["all"] and slugs:
            raise CommandError("Give workspaces or --all, not both.")
        if not options["all"] and not slugs:
            raise CommandError("Give the workspaces to rebuild (their slugs), or --all.")
        if options["all"]:
            tenants = list(Tenant.objects.order_by("slug"))
        else:
            found = {t.slug: t for t in Tenant.objects.filter(slug__in=slugs)}
            unknown = [slug for slug in slugs if slug not in found]
            if unknown:
                raise CommandError(f"No such workspace: {', '.join(unknown)}.")
            tenants = [found[slug] for slug in dict.fromkeys(slugs)]
        for tenant in tenants:
            with tenant_context(tenant):
                done = rebuild(tenant)
            self.stdout.write(f"{tenant.slug}: {done['days']} days rolled up, {done['rows']} rows.")
