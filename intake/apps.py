"""App config for intake: "someone asked us" — the normalized inquiry, who the person is,
register or attach, repeat leads, the blocklist check."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntakeConfig(AppConfig):
    name = "intake"
    verbose_name = _("Intake")
