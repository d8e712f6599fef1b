"""Contact and company forms: parse and validate input; services do the writing."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.validators import validate_email
from django.utils.translation import gettext_lazy as _

from contacts import selectors
from contacts.models import BlockedSender, Company, Contact, Party
from contacts.normalize import phone_e164
from contacts.services import COMPANY, CONTACT, merge_fields, merged_ways
from crm import customfields
from crm.forms import CleanInputMixin, LinesField, ServiceModelForm
from crm.models import Membership
from crm.selectors import assignable_members


class _MemberChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.user)


class PartyForm(CleanInputMixin, ServiceModelForm):
    """Shared by contacts and companies: phones and e-mails one per line, the responsible,
    custom fields (cf_<key>)."""

    line_fields = (
        *("last_name", "first_name", "middle_name", "position", "telegram", "whatsapp", "vk"),
        *("name", "tax_id", "website", "address"),
    )
    lines_fields = ("phones", "emails")

    phones = LinesField(label=_("Phones"), required=False, help_text=_("One per line."))
    emails = LinesField(label=_("E-mails"), required=False, help_text=_("One per line."))
    owner = _MemberChoice(
        label=_("Responsible"),
        queryset=Membership.objects.none(),
        required=False,
        empty_label=_("Nobody"),
    )

    def __init__(self, *args: Any, actor: Membership, region: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.actor, self.region = actor, region
        self.custom_fields = customfields.add_form_fields(
            self, entity=self._meta.model.access_entity, custom=self.instance.custom
        )
        self.fields["owner"].queryset = assignable_members()
        if self.instance.pk:
            self.fields["owner"].initial = self.instance.owner_id

    def clean_phones(self) -> list[str]:
        phones = self.cleaned_data["phones"]
        for phone in phones:
            if not phone_e164(phone, self.region):
                raise forms.ValidationError(
                    _("“%(phone)s” does not look like a phone number."), params={"phone": phone}
                )
        return phones

    def clean_emails(self) -> list[str]:
        emails = self.cleaned_data["emails"]
        for email in emails:
            try:
                validate_email(email)
            except forms.ValidationError as error:
                raise forms.ValidationError(
                    _("“%(email)s” is not a valid e-mail address."), params={"email": email}
                ) from error
        return emails

    def record_data(self) -> dict[str, Any]:
        data = {f: self.cleaned_data[f] for f in self._meta.fields}
        data["custom"] = customfields.values_from(self, self.custom_fields, self.instance.custom)
        return data


class ContactForm(PartyForm):
    company = forms.ModelChoiceField(
        label=_("Company"), queryset=Company.objects.none(), required=False
    )

    class Meta:
        model = Contact
        fields = [f for f in CONTACT.editable if f != "custom"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["company"].queryset = selectors.companies_for_choice()
        selectors.limit_record_choices(self, "company", "companies:options", actor=self.actor)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        names = (data.get("last_name") or "").strip() or (data.get("first_name") or "").strip()
        ways = (
            data.get("phones")
            or data.get("emails")
            or any((data.get(m) or "").strip() for m in ("telegram", "whatsapp", "vk"))
        )
        if not names and not ways and not self.errors:
            raise forms.ValidationError(
                _("Give the person's name or a way to reach them."), code="no_name"
            )
        return data


class CompanyForm(PartyForm):
    class Meta:
        model = Company
        fields = [f for f in COMPANY.editable if f != "custom"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}


def _shown(value: Any) -> Any:
    return value.user if isinstance(value, Membership) else value


class MergeForm(forms.Form):
    """Which record to merge in, and for each differing field whose value wins."""

    merged = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(
        self, *args: Any, survivor: Party, merged: Party, region: str, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.survivor, self.merged = survivor, merged
        self.phones, self.emails = merged_ways(survivor, merged, region)
        self.rows: list[tuple[str, str, Any, Any]] = []
        model = type(survivor)
        for attname in merge_fields(survivor):
            name = attname.removesuffix("_id")
            mine, theirs = getattr(survivor, name), getattr(merged, name)
            if (mine or None) == (theirs or None) or not theirs:
                continue
            label = str(model._meta.get_field(name).verbose_name)
            self.rows.append((attname, label, _shown(mine), _shown(theirs)))
        defs = customfields.definitions(entity=model.access_entity)
        mine_lines = dict(customfields.display(defs, survivor.custom))
        theirs_lines = dict(customfields.display(defs, merged.custom))
        for definition in defs:
            mine = (survivor.custom or {}).get(definition.key)
            theirs = (merged.custom or {}).get(definition.key)
            if mine is not None and theirs is not None and mine != theirs:
                self.rows.append(
                    (
                        f"custom.{definition.key}",
                        definition.label,
                        mine_lines.get(definition.label),
                        theirs_lines.get(definition.label),
                    )
                )
        for field, _label, mine, _theirs in self.rows:
            self.fields[f"pick_{field}"] = forms.ChoiceField(
                choices=[("survivor", "survivor"), ("merged", "merged")],
                initial="survivor" if mine not in (None, "") else "merged",
                widget=forms.RadioSelect,
            )

    def table(self) -> list[tuple[str, str, Any, Any, str]]:
        """(radio name, label, this value, other value, the picked side) per differing field."""
        return [
            (f"pick_{field}", label, mine, theirs, self[f"pick_{field}"].value())
            for field, label, mine, theirs in self.rows
        ]

    def taken(self) -> set[str]:
        """The fields whose value comes from the merged record."""
        return {
            field for field, *_rest in self.rows if self.cleaned_data[f"pick_{field}"] == "merged"
        }


class BlockedSenderForm(CleanInputMixin, forms.Form):
    """A blocklist entry; the service normalizes the value and says what is wrong with it."""

    line_fields = ("value",)

    kind = forms.ChoiceField(label=_("Kind"), choices=BlockedSender.Kind.choices)
    value = forms.CharField(
        label=_("Value"),
        max_length=254,
        help_text=_(
            "A phone in any format, an e-mail, a domain (example.com) or a messenger as "
            "provider:id (telegram:12345)."
        ),
    )
    reason = forms.CharField(label=_("Reason"), max_length=200, required=False)
