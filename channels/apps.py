"""App config for channels: registers the provider adapters when Django starts and keeps the
route triggers after every migrate."""

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class ChannelsConfig(AppConfig):
    name = "channels"
    verbose_name = _("Channels")

    def ready(self) -> None:
        from channels import triggers
        from channels.adapters import (  # noqa: F401 - each registers itself
            api,
            email,
            pbx,
            telegram,
            twilio,
            vk,
            webform,
            whatsapp,
            zadarma,
        )

        # SQLite drops a table's triggers when a migration remakes it (channels.triggers).
        post_migrate.connect(triggers.after_migrate, sender=self, dispatch_uid="channels.post")
