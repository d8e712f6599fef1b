"""The quick-entry forms of a manager's new inquiry: the quick lead (inbox) and simple
mode's quick deal. They only parse; registering is intake.services' business."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from crm.forms import CleanInputMixin
from leads.forms import looks_up_duplicates_on, phone_error


class QuickLeadForm(CleanInputMixin, forms.Form):
    """Name plus a phone or an e-mail: the fastest way to register a call."""

    line_fields = ("name", "contact")
    name = forms.CharField(label=_("Name"), max_length=200)
    contact = forms.CharField(label=_("Phone or e-mail"), max_length=254)

    looks_up_duplicates = True  # simple mode's quick deal (a subclass) has no leads

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.looks_up_duplicates:
            looks_up_duplicates_on(self, "contact")

    def lead_data(self) -> dict[str, Any]:
        contact = self.cleaned_data["contact"].strip()
        key = "email" if "@" in contact else "phone"
        return {"name": self.cleaned_data["name"], key: contact}

    def clean_contact(self) -> str:
        contact = self.cleaned_data["contact"].strip()
        if "@" in contact:
            forms.EmailField().clean(contact)
        elif error := phone_error(contact):
            raise forms.ValidationError(error)
        return contact


class QuickDealForm(QuickLeadForm):
    """Simple mode's quick entry: the person's name plus a phone or an e-mail."""

    looks_up_duplicates = False

    name = forms.CharField(label=_("Contact name"), max_length=200)
