"""Channel settings forms: the common fields, plus the kind's own options form."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from channels.adapters import adapter_for
from channels.models import Channel
from crm.models import Membership
from crm.selectors import assignable_members


class _MemberChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.user)


class ChannelForm(forms.Form):
    """Name, switch, responsible and the deal switch of a channel."""

    name = forms.CharField(label=_("Name"), max_length=120)
    enabled = forms.BooleanField(label=_("Enabled"), required=False, initial=True)
    default_owner = _MemberChoice(
        label=_("Responsible"),
        queryset=Membership.objects.none(),
        required=False,
        empty_label=_("by the assignment rules"),
        help_text=_("Every new lead goes to this person; empty: the assignment rules decide."),
    )
    create_deal = forms.BooleanField(label=_("Create a deal for every submission"), required=False)

    def __init__(self, *args: Any, channel: Channel | None = None, **kwargs: Any) -> None:
        if channel is not None:
            kwargs.setdefault(
                "initial",
                {
                    "name": channel.name,
                    "enabled": channel.enabled,
                    "default_owner": channel.default_owner,
                    "create_deal": channel.create_deal,
                },
            )
        super().__init__(*args, **kwargs)
        self.fields["default_owner"].queryset = assignable_members()


def config_form(kind: str, data: Any = None, channel: Channel | None = None) -> forms.Form | None:
    """The kind's options form (prefix "config"), filled from the channel's config."""
    form_class = adapter_for(kind).config_form
    if form_class is None:
        return None
    initial = dict(channel.config) if channel is not None else None
    return form_class(data, prefix="config", initial=initial)
