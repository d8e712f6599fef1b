"""App config for channels: registers the provider adapters when Django starts."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChannelsConfig(AppConfig):
    name = "channels"
    verbose_name = _("Channels")

    def ready(self) -> None:
        from channels.adapters import (  # noqa: F401 - each registers itself
            api,
            pbx,
            telegram,
            twilio,
            webform,
            zadarma,
        )
