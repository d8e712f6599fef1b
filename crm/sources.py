"""Where an inquiry came from: the vocabulary leads, deals' filters, channels, assignment
rules and reports share (a lead keeps it in `Lead.source`)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class LeadSource(models.TextChoices):
    MANUAL = "manual", _("Manual")
    WEB_FORM = "web_form", _("Web form")
    EMAIL = "email", _("E-mail")
    CALL = "call", _("Call")
    TELEGRAM = "telegram", "Telegram"
    WHATSAPP = "whatsapp", "WhatsApp"
    VK = "vk", _("VK")
    IMPORT = "import", _("Import")
    API = "api", _("API")
    OTHER = "other", _("Other")
