"""App config for the core: wires the RLS policy sync after every migrate, the id lookups
that survive hostile values, and the per-address count of failed logins."""

from django.apps import AppConfig
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = _("Core")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_login_failed

        from crm import auth, lookups, sqlite
        from crm.rls import on_post_migrate

        user_login_failed.connect(auth.count_failure, dispatch_uid="crm.auth.count_failure")
        lookups.register()
        connection_created.connect(sqlite.install, dispatch_uid="crm.sqlite.like")
        # Sent once per app after all migrations ran: crm's turn is enough.
        post_migrate.connect(on_post_migrate, sender=self, dispatch_uid="crm.rls")
