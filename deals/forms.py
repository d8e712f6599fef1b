"""Deal forms: parse and validate input; services do the writing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from contacts.models import Company, Contact
from contacts.selectors import limit_record_choices
from crm import customfields
from crm.access import Entity
from crm.forms import CleanInputMixin, ColouredItemForm, ServiceModelForm
from crm.lineitems import ProductLine, parse_product_lines
from crm.models import Membership
from crm.selectors import assignable_members
from deals import selectors
from deals.models import Deal, LossReason, Outcome, Pipeline, Stage
from deals.services import EDITABLE_FIELDS


class _MemberChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.user)


class _StageChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.pipeline.name}: {obj.name}"


class DealForm(CleanInputMixin, ServiceModelForm):
    """The deal form. A new deal also picks its open stage (and so its pipeline); products
    come as parallel lists product_name/qty/price."""

    line_fields = ("title",)

    owner = _MemberChoice(label=_("Responsible"), queryset=Membership.objects.none())
    stage = _StageChoice(label=_("Stage"), queryset=Stage.objects.none())
    # Declared here: a model field's default queryset would query outside a tenant.
    contact = forms.ModelChoiceField(
        label=_("Contact"), queryset=Contact.objects.none(), required=False
    )
    company = forms.ModelChoiceField(
        label=_("Company"), queryset=Company.objects.none(), required=False
    )

    class Meta:
        model = Deal
        fields = [f for f in EDITABLE_FIELDS if f != "custom"]
        widgets = {"expected_close": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")}

    def __init__(self, *args: Any, actor: Membership, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.actor = actor
        self.fields["title"].required = False
        self.fields["amount"].required = False
        self.fields["contact"].queryset = selectors.contacts_for_choice()
        self.fields["company"].queryset = selectors.companies_for_choice()
        limit_record_choices(self, "contact", "contacts:options", actor=self.actor)
        limit_record_choices(self, "company", "companies:options", actor=self.actor)
        self.fields["owner"].queryset = assignable_members()
        if self.instance.pk:
            del self.fields["stage"]
            self.fields["owner"].initial = self.instance.owner_id
        else:
            self.fields["stage"].queryset = selectors.stages().filter(kind=Outcome.OPEN)
        self.custom_fields = customfields.add_form_fields(
            self, entity=Entity.DEAL, custom=self.instance.custom
        )
        self.products: list[ProductLine] = []

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("amount") is None:
            data["amount"] = Decimal("0")
        self.products, errors = parse_product_lines(self.data)
        for error in errors:
            self.add_error(None, error)
        return data

    def deal_data(self) -> dict[str, Any]:
        data = {f: self.cleaned_data[f] for f in self.Meta.fields}
        data["custom"] = customfields.values_from(self, self.custom_fields, self.instance.custom)
        return data


def _loss_reason_field() -> forms.ModelChoiceField:
    """A lost deal's reason: one of the workspace's active loss reasons (the service says
    when it is missing)."""
    return forms.ModelChoiceField(
        label=_("Loss reason"),
        queryset=LossReason.objects.none(),
        required=False,
        error_messages={"invalid_choice": _("Choose one of the loss reasons in the list.")},
    )


class MoveForm(forms.Form):
    stage = forms.ModelChoiceField(queryset=Stage.objects.none())
    reason = _loss_reason_field()
    # Winning a deal at 0: the amount it is won with (the card's win dialog asks for it).
    amount = forms.DecimalField(max_digits=14, decimal_places=2, min_value=0, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["stage"].queryset = Stage.objects.all()
        self.fields["reason"].queryset = selectors.loss_reasons(active=True)


class LossReasonForm(forms.Form):
    """Settings → Loss reasons: a reason's name."""

    name = forms.CharField(label=_("Name"), max_length=80)


class PipelineForm(ServiceModelForm):
    class Meta:
        model = Pipeline
        fields = ["name", "position"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["position"].required = False


class PipelineDeleteForm(forms.Form):
    replacement = forms.ModelChoiceField(
        label=_("Move its deals to"), queryset=Pipeline.objects.none(), required=False
    )

    def __init__(self, *args: Any, pipeline: Pipeline, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["replacement"].queryset = selectors.pipelines().exclude(pk=pipeline.pk)


class StageForm(ColouredItemForm):
    class Meta:
        model = Stage
        fields = ["name", "color", "kind", "probability", "position"]
        widgets = {"color": forms.TextInput(attrs={"type": "color"})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["position"].required = False
        if self.instance.pk and self.instance.deals.exists():
            self.fields["kind"].disabled = True  # a used stage never changes its kind


class StageDeleteForm(forms.Form):
    replacement = forms.ModelChoiceField(
        label=_("Move its deals to"), queryset=Stage.objects.none()
    )

    def __init__(self, *args: Any, stage: Stage, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["replacement"].queryset = Stage.objects.filter(
            pipeline_id=stage.pipeline_id, kind=stage.kind
        ).exclude(pk=stage.pk)


class BulkMoveForm(forms.Form):
    """The action bar over the deal list: selected ids, a stage, and a reason for lost."""

    ids = forms.TypedMultipleChoiceField(coerce=int, choices=(), required=True)
    stage = _StageChoice(label=_("Move to stage"), queryset=Stage.objects.none())
    reason = _loss_reason_field()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["stage"].queryset = selectors.stages()
        self.fields["reason"].queryset = selectors.loss_reasons(active=True)
        ids = self.data.getlist("ids") if hasattr(self.data, "getlist") else []
        self.fields["ids"].choices = [(i, i) for i in ids]

    def clean_ids(self) -> list[int]:
        ids = self.cleaned_data["ids"]
        if len(ids) > 500:
            raise forms.ValidationError(_("Select at most 500 deals at a time."))
        return ids

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        stage = data.get("stage")
        lost = stage is not None and stage.kind == Outcome.LOST
        if lost and not data.get("reason") and "reason" not in self.errors:
            self.add_error("reason", _("Choose why the deals were lost."))
        return data
