"""What the benchmark database holds: tenants, their sizes and people (no Django needed)."""

from __future__ import annotations

import math
from dataclasses import dataclass

BENCH_PASSWORD = "bench-voronka-manager"  # noqa: S105 - benchmark data only
MANAGERS_PER_LEADS = 50_000  # one manager per 50k leads (at least 3, at most 200)
TEAM_SIZE = 7


def label(count: int) -> str:
    """1000000 → "1m", 250000 → "250k", 1234 → "1234"."""
    for suffix, unit in (("m", 1_000_000), ("k", 1_000)):
        if count >= unit and count % unit == 0:
            return f"{count // unit}{suffix}"
    return str(count)


@dataclass(frozen=True)
class TenantPlan:
    """A tenant to have: its address, its name and its number of leads."""

    slug: str
    name: str
    leads: int

    @property
    def managers(self) -> int:
        return max(3, min(200, self.leads // MANAGERS_PER_LEADS))

    @property
    def teams(self) -> int:
        return math.ceil(self.managers / TEAM_SIZE)


def big_tenant(leads: int) -> TenantPlan:
    """The measured tenant: `big-1m` for 1M leads, `big-10m` for 10M."""
    return TenantPlan(f"big-{label(leads)}", f"ООО «Большая воронка {label(leads)}»", leads)


def plans(leads: int, tenants: int) -> list[TenantPlan]:
    """The big tenant holding `leads` and `tenants - 1` small ones (5k·n² leads each)."""
    small = [
        TenantPlan(f"small-{n}", f"ООО «Малая воронка {n}»", 5_000 * n * n)
        for n in range(1, tenants)
    ]
    return [big_tenant(leads), *small]


def admin_email(slug: str) -> str:
    return f"admin@{slug}.bench.local"


def manager_email(slug: str, index: int) -> str:
    return f"manager{index:03d}@{slug}.bench.local"


def measured_manager_email(plan: TenantPlan) -> str:
    """The manager the benchmark logs in as: an ordinary member (not a lead) of team 1."""
    return manager_email(plan.slug, plan.teams)
