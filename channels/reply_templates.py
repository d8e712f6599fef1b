"""Saved replies (Settings → Reply templates): the form that checks a template's
placeholders, and the services that save and delete one (settings right)."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from channels.conversations import PLACEHOLDERS
from channels.models import ReplyTemplate
from crm.access import AccessDenied, TenantRight, has_right
from crm.errors import DomainError
from crm.models import Membership

_BRACES = re.compile(r"\{\s*([^{}]*?)\s*\}")
# WhatsApp template names: lowercase letters, digits and underscores (Meta's rule).
_WHATSAPP_NAME = re.compile(r"^[a-z0-9_]{1,512}$")
_LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}(_[A-Z]{2})?$")


class ReplyTemplateForm(forms.ModelForm):
    class Meta:
        model = ReplyTemplate
        fields = ["name", "text", "language", "whatsapp_name", "whatsapp_language"]
        widgets = {"text": forms.Textarea(attrs={"rows": 5})}

    def clean_text(self) -> str:
        text = self.cleaned_data["text"].strip()
        known = {word for words in PLACEHOLDERS.values() for word in words}
        unknown = sorted({m for m in _BRACES.findall(text) if m.lower() not in known})
        if unknown:
            raise forms.ValidationError(
                _("Unknown placeholders: %(names)s. Use %(known)s.")
                % {
                    "names": ", ".join(f"{{{name}}}" for name in unknown),
                    "known": ", ".join(f"{{{name}}}" for name in sorted(known)),
                }
            )
        return text

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        name = (cleaned.get("whatsapp_name") or "").strip()
        language = (cleaned.get("whatsapp_language") or "").strip()
        if name and not _WHATSAPP_NAME.match(name):
            self.add_error(
                "whatsapp_name",
                _("As named at Meta: lowercase letters, digits and underscores."),
            )
        if name and not _LANGUAGE_CODE.match(language):
            self.add_error(
                "whatsapp_language", _("Give the template's language, e.g. ru or en_US.")
            )
        if language and not name:
            self.add_error("whatsapp_name", _("Name the approved template, or leave both empty."))
        return cleaned


def _require_settings(actor: Membership) -> None:
    if not has_right(actor, TenantRight.SETTINGS):
        raise AccessDenied


def reply_template_save(
    *, actor: Membership, template: ReplyTemplate | None, data: dict[str, Any]
) -> ReplyTemplate:
    """Add a saved reply (`template` None) or change one."""
    _require_settings(actor)
    template = template or ReplyTemplate()
    for field in ("name", "text", "language", "whatsapp_name", "whatsapp_language"):
        setattr(template, field, str(data.get(field) or "").strip())
    if not template.name:
        raise DomainError(_("Give the template a name."))
    clash = ReplyTemplate.objects.filter(name__iexact=template.name).exclude(pk=template.pk)
    if clash.exists():
        raise DomainError(_("A template with this name already exists."))
    try:
        with transaction.atomic():
            template.save()
    except IntegrityError:
        raise DomainError(_("A template with this name already exists.")) from None
    return template


def reply_template_delete(*, actor: Membership, template: ReplyTemplate) -> None:
    """Delete a saved reply (messages sent from it keep their text)."""
    _require_settings(actor)
    template.delete()
