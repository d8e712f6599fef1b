"""Prepare the import benchmark's tenants (idempotent); print what the run needs as JSON.

Run by bench/imports/run.py as the owner role, after bench/generate.py loaded the measured
tenant (`big-1m`): the scratch tenant the floor's COPY writes into (`import-floor`, made
by the generator's own setup, no leads), and, for each, its id, time zone and statuses by
name; the measured tenant's managers by name (the file's "Ответственный": only names no
two members share) and the manager who logs in to the inbox; and the file's columns saved
as the measured tenant's mapping `MAPPING` (the import's `--mapping`).

    python -m bench.imports.setup big-1m
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
django.setup()

from bench.generate import ensure_tenant  # noqa: E402
from bench.imports.generate import FIELD_OF  # noqa: E402
from bench.plan import TenantPlan, measured_manager_email  # noqa: E402
from crm.models import Membership, Tenant  # noqa: E402
from crm.tenancy import tenant_context  # noqa: E402
from leads.models import LeadStatus  # noqa: E402
from transfer.models import Entity, ImportMapping  # noqa: E402
from transfer.values import same_name  # noqa: E402

FLOOR = TenantPlan("import-floor", "ООО «Пол импорта»", 0)
MAPPING = "bench-bitrix24"


def facts(tenant: Tenant) -> dict[str, Any]:
    """The tenant's id, zone, statuses by name and members' unique names."""
    with tenant_context(tenant):
        statuses = {s.name: [s.pk, s.state] for s in LeadStatus.objects.all()}
        names = Counter(
            Membership.objects.filter(is_active=True).values_list("user__full_name", flat=True)
        )
    return {
        "id": tenant.pk,
        "slug": tenant.slug,
        "zone": tenant.time_zone,
        "statuses": statuses,
        "owners": sorted(name for name, seen in names.items() if name and seen == 1),
    }


def main() -> None:
    slug = sys.argv[1]
    tenant = Tenant.objects.get(slug=slug)
    with tenant_context(tenant):
        ImportMapping.objects.update_or_create(
            entity=Entity.LEADS,
            name=MAPPING,
            defaults={"columns": {same_name(h): key for h, key in FIELD_OF.items()}},
        )
    leads = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    print(
        json.dumps(
            {
                "tenant": facts(tenant),
                "floor": facts(ensure_tenant(FLOOR)),
                "email": measured_manager_email(TenantPlan(slug, tenant.name, leads)),
                "mapping": MAPPING,
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
