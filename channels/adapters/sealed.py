"""Config forms whose secrets (app secrets, secret keys) are sealed at rest (crm.secrets)
and never shown back."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.utils.translation import gettext as _

from crm.secrets import is_sealed, seal


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
