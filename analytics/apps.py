"""App config for analytics."""

from django.apps import AppConfig
from django.db.backends.signals import connection_created
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = _("Analytics")

    def ready(self) -> None:
        from analytics import sql
        from analytics.reports import REPORTS
        from crm import savedfilters
        from crm.access import TenantRight, has_right

        connection_created.connect(sql.install, dispatch_uid="analytics.sql.percentile")

        def analyst(member) -> bool:
            return has_right(member, TenantRight.ANALYTICS)

        # A report's saved views: its period and filters under a name, private or shared
        # with everyone by someone who reads the reports too (colleagues share reports).
        savedfilters.register(
            "analytics:dashboard", savedfilters.SavedList("analytics:dashboard", analyst, analyst)
        )
        for slug in REPORTS:
            savedfilters.register(
                f"analytics:{slug}",
                savedfilters.SavedList(
                    "analytics:report", analyst, analyst, url_kwargs={"slug": slug}
                ),
            )
