"""What the telephony adapters (Twilio, Zadarma, the generic PBX format) share: reading a
form-encoded callback, and an options form whose secrets are sealed at rest
(`crm.secrets.seal`) and never shown back."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from django import forms
from django.core.exceptions import TooManyFieldsSent
from django.http import QueryDict
from django.utils.translation import gettext as _

from channels.adapters import RawDelivery, Rejected
from channels.health import channel_recovered, channel_trouble
from channels.models import Channel
from crm.secrets import SecretUnreadable, seal, unseal

logger = logging.getLogger(__name__)

FORM_TYPE = "application/x-www-form-urlencoded"


def form_params(body: bytes) -> QueryDict:
    """A form-encoded body as Django reads one (UTF-8, undecodable bytes replaced), or
    Rejected when it has more fields than DATA_UPLOAD_MAX_NUMBER_FIELDS allows."""
    try:
        return QueryDict(body, encoding="utf-8")
    except TooManyFieldsSent:
        raise Rejected(_("The callback has too many fields.")) from None


def read_form(raw: RawDelivery) -> dict[str, str]:
    """A stored callback's fields (the last value of a repeated one); Rejected unless it
    is form-encoded, as Twilio and Zadarma send them."""
    if raw.content_type.split(";")[0].strip().lower() != FORM_TYPE:
        raise Rejected(_("A callback must be form-encoded (%(type)s).") % {"type": FORM_TYPE})
    params = form_params(raw.body)
    return {key: str(params.get(key) or "").strip() for key in params}


def number(value: str) -> int | None:
    """A non-negative whole number of seconds, or None."""
    value = (value or "").strip()
    if not value.isdigit() or len(value) > 9:
        return None
    return int(value)


def channel_secret(channel: Channel, name: str) -> str:
    """A sealed option of the channel, opened; "" when it is missing. One that no key opens
    (FIELD_ENCRYPTION_KEYS changed) is the channel's problem, shown on its page and told
    to the admins (channels.health): every delivery is refused until it is entered again."""
    try:
        secret = unseal(str(channel.config.get(name) or ""))
    except SecretUnreadable:
        logger.error("Channel %s: its %s cannot be unsealed with the keys.", channel.pk, name)
        channel_trouble(
            channel=channel,
            problem=_(
                "The saved secret (%(name)s) cannot be read with the configured encryption "
                "keys (FIELD_ENCRYPTION_KEYS): enter it again in the channel's settings."
            )
            % {"name": name},
        )
        return ""
    channel_recovered(channel=channel)
    return secret


class SealedOptionsForm(forms.Form):
    """Options with secrets: each of `sealed` is stored sealed and never shown back; when
    editing, an empty value keeps the saved one."""

    sealed: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in self.sealed:
            if self.initial.get(name):
                field = self.fields[name]
                field.required = False
                field.help_text = _("Saved (never shown). Leave empty to keep it.")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for name in self.sealed:
            value = data.get(name)
            data[name] = seal(value) if value else str(self.initial.get(name) or "")
        return data


def secret_field(label: Any, help_text: Any, max_length: int = 128) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=max_length,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=help_text,
    )
