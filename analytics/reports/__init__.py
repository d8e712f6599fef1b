"""The standard reports, in the order the analytics menu lists them.

Each module defines `SPEC`: its slug (the URL), title, and `build(params) -> Report`, which
runs aggregate SQL only (a few grouped queries per period, never a loop over rows)."""

from __future__ import annotations

from analytics.reports import (
    deals,
    funnel,
    losses,
    managers,
    sources,
    speed,
    status,
    temperature,
)
from analytics.reports.base import ReportSpec

REPORTS: dict[str, ReportSpec] = {
    spec.slug: spec
    for spec in (
        status.SPEC,
        sources.SPEC,
        temperature.SPEC,
        managers.SPEC,
        funnel.SPEC,
        speed.SPEC,
        losses.SPEC,
        deals.SPEC,
    )
}
