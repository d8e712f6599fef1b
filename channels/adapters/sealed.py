"""Secrets of a channel's config (app secrets, secret keys): sealed at rest (crm.secrets),
never shown back by the config forms, opened by the endpoint to check a delivery."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from django import forms
from django.utils.translation import gettext as _

from channels import outbound
from channels.adapters import Forbidden
from channels.health import channel_recovered, channel_trouble
from crm.secrets import SecretUnreadable, is_sealed, seal, unseal

if TYPE_CHECKING:
    from channels.models import Channel

logger = logging.getLogger(__name__)


def config_secret(channel: Channel, name: str) -> str:
    """The channel's sealed config value `name`, opened ("" when not set). One that no
    configured key opens (FIELD_ENCRYPTION_KEYS or SECRET_KEY changed) is the channel's
    problem, shown on its page and told to admins (channels.health), and the delivery is
    refused (Forbidden); once it opens again, the problem is cleared."""
    try:
        secret = unseal(str(channel.config.get(name) or ""))
    except SecretUnreadable:
        logger.error("Channel %s: its %s cannot be unsealed.", channel.pk, name)
        problem = _(
            "A secret of the channel cannot be decrypted (the encryption keys changed?): "
            "enter it again (Edit)."
        )
        channel_trouble(channel=channel, problem=problem)
        raise Forbidden from None
    if channel.problem:
        channel_recovered(channel=channel)
    return secret


def sealed_field(label: Any, help_text: Any, *, max_length: int) -> forms.CharField:
    """A password field for a secret: its value is never rendered back."""
    return forms.CharField(
        label=label,
        max_length=max_length,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=help_text,
    )


class SealedConfigForm(forms.Form):
    """A kind's options form whose secrets are stored sealed and never shown back; when
    editing, an empty secret field keeps the saved value. `sealed_fields`: (name, format
    the value must match, the message when it does not)."""

    sealed_fields: tuple[tuple[str, re.Pattern[str], Any], ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, _format, _message in self.sealed_fields:
            if self.initial.get(name):
                field = self.fields[name]
                field.required = False
                saved = _("A value is saved; leave empty to keep it.")
                field.help_text = f"{field.help_text} {saved}".strip()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        for name, pattern, message in self.sealed_fields:
            if name not in cleaned:  # already refused (required, too long)
                continue
            value = cleaned[name]
            if not value:
                saved = str(self.initial.get(name) or "")
                cleaned[name] = saved if is_sealed(saved) else seal(saved)
            elif not pattern.match(value):
                self.add_error(name, message)
            else:
                cleaned[name] = seal(value)
        return cleaned


def sending_secret(channel: Channel, name: str) -> str:
    """The sealed config value `name` a reply or a download needs ("" when not set), read
    outside the tenant's context (the worker's call): a value no key opens refuses it
    (outbound.Refused) with the reason; the channel's health is left to the endpoint and
    the poller (config_secret), which write it inside the tenant."""
    try:
        return unseal(str(channel.config.get(name) or ""))
    except SecretUnreadable:
        logger.error("Channel %s: its %s cannot be unsealed.", channel.pk, name)
        raise outbound.Refused(
            _(
                "A secret of the channel cannot be decrypted (the encryption keys changed?): "
                "enter it again (Edit)."
            )
        ) from None
