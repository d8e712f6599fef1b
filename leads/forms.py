"""Lead forms: parse and validate input; services do the writing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from crm import customfields
from crm.access import Entity
from crm.lineitems import ProductLine, parse_product_lines
from crm.models import Membership
from leads import selectors
from leads.models import Lead, LeadStatus
from leads.services import EDITABLE_FIELDS

CONTACT_FIELDS = ("phone", "email", "messenger_id")


class _MemberChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.user)


class LeadForm(forms.ModelForm):
    """The full lead form. Products come as parallel lists product_name/qty/price."""

    owner = _MemberChoice(
        label=_("Responsible"),
        queryset=Membership.objects.none(),
        required=False,
        empty_label=_("Nobody (shared inbox)"),
    )

    class Meta:
        model = Lead
        fields = [f for f in EDITABLE_FIELDS if f != "custom"]
        widgets = {"message": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["title"].required = False
        self.custom_fields = customfields.add_form_fields(
            self, entity=Entity.LEAD, custom=self.instance.custom
        )
        self.fields["owner"].queryset = selectors.assignable_members()
        self.fields["amount"].required = False
        if self.instance.pk:
            self.fields["owner"].initial = self.instance.owner_id
        self.products: list[ProductLine] = []

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not any((data.get(f) or "").strip() for f in CONTACT_FIELDS):
            raise forms.ValidationError(
                _("Give at least one way to reach the person: a phone, an e-mail or a messenger."),
                code="no_contact",
            )
        if (data.get("messenger_id") or "").strip() and not data.get("messenger"):
            self.add_error("messenger", _("Choose the messenger of the handle."))
        if data.get("amount") is None:
            data["amount"] = Decimal("0")
        self.products, errors = parse_product_lines(self.data)
        for error in errors:
            self.add_error(None, error)
        return data

    def _post_clean(self) -> None:
        # The state field is protected (django-fsm); the service validates the rest.
        pass

    def lead_data(self) -> dict[str, Any]:
        data = {f: self.cleaned_data[f] for f in self.Meta.fields}
        data["custom"] = customfields.values_from(self, self.custom_fields, self.instance.custom)
        return data


class QuickLeadForm(forms.Form):
    """Name plus a phone or an e-mail: the fastest way to register a call."""

    name = forms.CharField(label=_("Name"), max_length=200)
    contact = forms.CharField(label=_("Phone or e-mail"), max_length=254)

    def lead_data(self) -> dict[str, Any]:
        contact = self.cleaned_data["contact"].strip()
        key = "email" if "@" in contact else "phone"
        return {"name": self.cleaned_data["name"], key: contact}

    def clean_contact(self) -> str:
        contact = self.cleaned_data["contact"].strip()
        if "@" in contact:
            forms.EmailField().clean(contact)
        return contact


class MoveForm(forms.Form):
    status = forms.ModelChoiceField(queryset=LeadStatus.objects.none())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["status"].queryset = LeadStatus.objects.all()


class AssignForm(forms.Form):
    owner = _MemberChoice(queryset=Membership.objects.none(), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = selectors.assignable_members()


class StatusForm(forms.ModelForm):
    class Meta:
        model = LeadStatus
        fields = ["name", "color", "state", "position"]
        widgets = {"color": forms.TextInput(attrs={"type": "color"})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.leads.exists():
            self.fields["state"].disabled = True  # a used status never changes its stage

    def clean_color(self) -> str:
        color = self.cleaned_data["color"]
        if len(color) != 7 or not color.startswith("#"):
            raise forms.ValidationError(_("Pick a colour."))
        return color.lower()

    def _post_clean(self) -> None:
        # Uniqueness and the tenant are checked by the service.
        pass


class StatusDeleteForm(forms.Form):
    replacement = forms.ModelChoiceField(
        label=_("Move its leads to"), queryset=LeadStatus.objects.none()
    )

    def __init__(self, *args: Any, status: LeadStatus, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["replacement"].queryset = LeadStatus.objects.filter(state=status.state).exclude(
            pk=status.pk
        )


class BulkForm(forms.Form):
    """The action bar over the lead list: selected ids plus one action and its argument."""

    ids = forms.TypedMultipleChoiceField(coerce=int, choices=(), required=True)
    action = forms.ChoiceField(
        label=_("With the selected"),
        choices=[
            ("assign", _("Assign to…")),
            ("move", _("Move to status…")),
            ("convert", _("Convert into deals")),
            ("archive", _("Archive junk")),
            ("delete", _("Delete")),
        ],
    )
    owner = _MemberChoice(
        label=_("Responsible"),
        queryset=Membership.objects.none(),
        required=False,
        empty_label=_("Nobody (shared inbox)"),
    )
    status = forms.ModelChoiceField(
        label=_("Status"), queryset=LeadStatus.objects.none(), required=False
    )

    def __init__(
        self, *args: Any, choices: selectors.SharedChoices | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        choices = choices or selectors.SharedChoices()
        owner, status = self.fields["owner"], self.fields["status"]
        owner.queryset, status.queryset = selectors.assignable_members(), LeadStatus.objects.all()
        # Options from the page's shared lists (the querysets still validate the input).
        owner.widget.choices = selectors.LazyChoices(
            lambda: [("", owner.empty_label), *choices.members]
        )
        status.widget.choices = selectors.LazyChoices(
            lambda: [("", status.empty_label), *choices.statuses]
        )
        ids = self.data.getlist("ids") if hasattr(self.data, "getlist") else []
        self.fields["ids"].choices = [(i, i) for i in ids]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("action") == "move" and not data.get("status"):
            self.add_error("status", _("Choose a status."))
        if len(data.get("ids") or []) > 500:
            raise forms.ValidationError(_("Select at most 500 leads at a time."))
        return data
