"""App config for analytics."""

from django.apps import AppConfig
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate, pre_migrate
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = _("Analytics")

    def ready(self) -> None:
        from analytics import sql, triggers
        from analytics.reports import REPORTS
        from crm import savedfilters
        from crm.access import TenantRight, has_right

        connection_created.connect(sql.install, dispatch_uid="analytics.sql.percentile")
        # The rollups' marks: triggers installed after every migrate (analytics.triggers).
        pre_migrate.connect(triggers.before_migrate, sender=self, dispatch_uid="analytics.pre")
        post_migrate.connect(triggers.after_migrate, sender=self, dispatch_uid="analytics.post")

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
