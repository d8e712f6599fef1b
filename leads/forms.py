"""Lead forms: parse and validate input; services do the writing."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from contacts.models import Company, Contact
from contacts.names import split_full_name
from contacts.normalize import phones_in, unreadable_phone
from crm import customfields, periods
from crm.access import Action, Entity, Scope, scope_for
from crm.filters import LazyChoices
from crm.forms import (
    CleanInputMixin,
    ColouredItemForm,
    LinesField,
    LocalDateTimeField,
    ServiceModelForm,
)
from crm.ids import parse_id
from crm.lineitems import ProductLine, parse_product_lines
from crm.models import CustomField, Membership
from crm.selectors import assignable_members
from crm.tenancy import current_tenant
from crm.urlnames import tenant_reverse
from deals import selectors as deal_selectors
from deals.models import Outcome, Pipeline, Stage
from deals.services import default_pipeline, first_stage
from leads import distribution, selectors
from leads.models import AssignmentRule, Lead, LeadSource, LeadStatus, Level, Strategy
from leads.services import EDITABLE_FIELDS, LINE_FIELDS, bulk_actions_for

CONTACT_FIELDS = ("phone", "email", "messenger_id")


class _MemberChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.user)


def phone_error(phone: str) -> str:
    """Why a phone typed into a form cannot be used ("" when a number can be read in it)."""
    region = current_tenant().default_region
    return "" if not phone or phones_in(phone, region) else unreadable_phone(phone, region)


def looks_up_duplicates_on(form: forms.Form, *names: str) -> None:
    """Typing into these fields shows the matching leads, contacts and deals (htmx)."""
    include = ",".join(f"#id_{name}" for name in names)
    for name in names:
        form.fields[name].widget.attrs.update(
            {
                "hx-get": tenant_reverse("leads:duplicates", current_tenant()),
                "hx-trigger": "input changed delay:400ms",
                "hx-target": "#duplicate-matches",
                "hx-swap": "outerHTML",
                "hx-include": include,
                "hx-sync": "closest form:replace",
                "autocomplete": "off",
            }
        )


class LeadForm(CleanInputMixin, ServiceModelForm):
    """The full lead form. Products come as parallel lists product_name/qty/price."""

    line_fields = LINE_FIELDS
    lines_fields = ("other_phones",)
    other_phones = LinesField(
        label=_("Other phones"),
        required=False,
        help_text=_("One per line; the first phone is the one to call and to match."),
    )
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

    def __init__(self, *args: Any, actor: Membership | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["title"].required = False
        self.custom_fields = customfields.add_form_fields(
            self, entity=Entity.LEAD, custom=self.instance.custom
        )
        self.fields["owner"].queryset = assignable_members()
        self.fields["amount"].required = False
        if self.instance.pk:
            self.fields["owner"].initial = self.instance.owner_id
        elif actor is not None:
            # A lead made by hand is its creator's unless they give it to someone else
            # (among those their role lets them give leads to) or to the shared inbox.
            self.fields["owner"].queryset = selectors.owners_for(actor=actor)
            self.fields["owner"].initial = actor.pk
            looks_up_duplicates_on(self, "phone", "email")
        self.products: list[ProductLine] = []

    def clean_other_phones(self) -> list[str]:
        phones = self.cleaned_data["other_phones"]
        if "other_phones" in self.changed_data:
            for phone in phones:
                if error := phone_error(phone):
                    raise forms.ValidationError(error)
        return phones

    def clean_phone(self) -> str:
        phone = self.cleaned_data["phone"]
        if "phone" in self.changed_data and (error := phone_error(phone)):
            raise forms.ValidationError(error)
        return phone

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

    def lead_data(self) -> dict[str, Any]:
        data = {f: self.cleaned_data[f] for f in self.Meta.fields}
        data["custom"] = customfields.values_from(self, self.custom_fields, self.instance.custom)
        return data


class MoveForm(forms.Form):
    status = forms.ModelChoiceField(queryset=LeadStatus.objects.none())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["status"].queryset = LeadStatus.objects.all()


class PostponeForm(forms.Form):
    """The card's "Postpone": a day (and, if given, a time) on the workspace's clock, and
    why. Without a time the lead comes back at the start of that day."""

    day = forms.DateField(label=_("Until"), widget=forms.DateInput(attrs={"type": "date"}))
    time = forms.TimeField(
        label=_("Time"), required=False, widget=forms.TimeInput(attrs={"type": "time"})
    )
    reason = forms.CharField(label=_("Reason"), max_length=200)

    def clean_day(self) -> date:
        day = self.cleaned_data["day"]
        if not 1900 <= day.year <= 2200:
            raise forms.ValidationError(_("Enter a date between 1900 and 2200."))
        return day

    def until(self) -> date | datetime:
        """The date, or the date and time (naive: the service reads it on the workspace's
        clock)."""
        day, time = self.cleaned_data["day"], self.cleaned_data.get("time")
        return datetime.combine(day, time) if time is not None else day


class AssignForm(forms.Form):
    """The card's "Responsible": whom the actor may give the lead to, the shared inbox
    (empty), and the lead's present owner."""

    owner = _MemberChoice(queryset=Membership.objects.none(), required=False)

    def __init__(self, *args: Any, actor: Membership, lead: Lead, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"owner": lead.owner_id})
        super().__init__(*args, **kwargs)
        allowed = selectors.owners_for(actor=actor)
        if lead.owner_id is not None:
            allowed = allowed | assignable_members().filter(pk=lead.owner_id)
        self.fields["owner"].queryset = allowed


class StatusForm(ColouredItemForm):
    class Meta:
        model = LeadStatus
        fields = ["name", "color", "state", "position"]
        widgets = {"color": forms.TextInput(attrs={"type": "color"})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.leads.exists():
            self.fields["state"].disabled = True  # a used status never changes its stage


class StatusDeleteForm(forms.Form):
    replacement = forms.ModelChoiceField(
        label=_("Move its leads to"), queryset=LeadStatus.objects.none()
    )

    def __init__(self, *args: Any, status: LeadStatus, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["replacement"].queryset = LeadStatus.objects.filter(state=status.state).exclude(
            pk=status.pk
        )


class _MembersChoice(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.user)


class RuleForm(forms.Form):
    """A distribution rule: conditions (empty ones match anything) and who gets the lead."""

    name = forms.CharField(label=_("Name"), max_length=120)
    sources = forms.MultipleChoiceField(
        label=_("Sources"),
        choices=LeadSource.choices,
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 5}),
        help_text=_("Any of these; none chosen means any source."),
    )
    channel_ids = forms.CharField(
        label=_("Channel numbers"),
        required=False,
        max_length=500,
        help_text=_("Comma-separated, e.g. 3, 7; empty means any channel."),
    )
    utm_source = forms.CharField(label="utm_source", required=False, max_length=200)
    utm_medium = forms.CharField(label="utm_medium", required=False, max_length=200)
    utm_campaign = forms.CharField(label="utm_campaign", required=False, max_length=200)
    regions = forms.CharField(
        label=_("Phone regions"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_(
            "One per line, part of the region of the lead's phone as the phone directory "
            "names it (e.g. Моск matches “Московская обл.”); empty means anywhere."
        ),
    )
    custom_field = forms.ChoiceField(label=_("Custom field"), required=False)
    custom_value = forms.CharField(
        label=_("equals"), required=False, max_length=500, help_text=_("Ignoring case.")
    )
    levels = forms.MultipleChoiceField(
        label=_("On the handover to sales"),
        choices=[(level, Level(level).label) for level in distribution.HANDOVER_LEVELS],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "A rule with a level picks the owner when a lead is qualified up to it (e.g. "
            "marketing hands an MQL to sales as SAL), never for new inquiries."
        ),
    )
    strategy = forms.ChoiceField(label=_("Strategy"), choices=Strategy.choices)
    members = _MembersChoice(
        label=_("Members"),
        queryset=Membership.objects.none(),
        widget=forms.SelectMultiple(attrs={"size": 6}),
        help_text=_("Those away or deactivated are skipped."),
    )

    def __init__(self, *args: Any, rule: AssignmentRule | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.condition_fields = {f.key: f for f in distribution.condition_fields()}
        self.fields["custom_field"].choices = [
            ("", "—"),
            *((key, f.label) for key, f in self.condition_fields.items()),
        ]
        self.fields["members"].queryset = assignable_members()
        if rule is not None and not self.is_bound:
            self.initial = {
                "name": rule.name,
                "sources": rule.sources,
                "channel_ids": ", ".join(str(pk) for pk in rule.channel_ids),
                "utm_source": rule.utm_source,
                "utm_medium": rule.utm_medium,
                "utm_campaign": rule.utm_campaign,
                "regions": "\n".join(rule.regions),
                "custom_field": rule.custom_field,
                "custom_value": rule.custom_value,
                "levels": rule.levels,
                "strategy": rule.strategy,
                "members": rule.members,
            }

    def clean_channel_ids(self) -> list[int]:
        parts = [p.strip() for p in self.cleaned_data["channel_ids"].split(",") if p.strip()]
        ids = [parse_id(p) for p in parts]
        if None in ids:
            raise forms.ValidationError(_("Give channel numbers separated by commas."))
        return sorted(set(ids))

    def clean_regions(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["regions"].splitlines() if line.strip()]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        definition = self.condition_fields.get(data.get("custom_field") or "")
        value = (data.get("custom_value") or "").strip()
        if definition is None:
            if value:
                self.add_error("custom_field", _("Choose the field this value is for."))
            return data
        if not value:
            self.add_error("custom_value", _("Enter the value the custom field must have."))
        elif definition.choices and value not in definition.choices:
            self.add_error("custom_value", _("Choose one of the field's choices."))
        elif definition.field_type == CustomField.Type.NUMBER:
            try:
                Decimal(value.replace(",", "."))
            except InvalidOperation:
                self.add_error("custom_value", _("Enter a number."))
        return data

    def rule_data(self) -> dict[str, Any]:
        """The cleaned input as `rule_save` takes it."""
        data = dict(self.cleaned_data)
        data["members"] = [member.pk for member in data["members"]]
        return data


# The bulk actions in the bar's order, with their labels; an archived list offers its own.
BULK_LABELS = {
    "assign": _("Assign to…"),
    "move": _("Move to status…"),
    "convert": _("Convert into deals"),
    "archive": _("Archive junk"),
    "spam": _("Spam: junk and block the senders"),
    "unarchive": _("Return to the lists"),
    "delete": _("Delete"),
}
ARCHIVED_LIST_ACTIONS = {"unarchive", "delete"}
LIVE_LIST_ACTIONS = set(BULK_LABELS) - {"unarchive"}


def bulk_choices(actor: Membership, *, archived: bool | None) -> list[tuple[str, Any]]:
    """The bulk actions (value, label) the actor's role allows, for the archived list
    (`archived`), the others (not `archived`) or either (None). No query."""
    allowed = set(bulk_actions_for(actor))
    return [
        (action, label)
        for action, label in BULK_LABELS.items()
        if action in allowed
        and (
            archived is None or action in (ARCHIVED_LIST_ACTIONS if archived else LIVE_LIST_ACTIONS)
        )
    ]


class BulkForm(forms.Form):
    """The action bar over the lead list: selected ids plus one action and its argument.
    It offers only the actions the actor's role allows (and, with `archived`, those of the
    archived list or, without, of the others; None: any, to validate what was sent)."""

    ids = forms.TypedMultipleChoiceField(coerce=int, choices=(), required=True)
    action = forms.ChoiceField(label=_("With the selected"), choices=())
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
        self,
        *args: Any,
        actor: Membership,
        archived: bool | None = None,
        choices: selectors.LeadChoices | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = bulk_choices(actor, archived=archived)
        choices = choices or selectors.LeadChoices()
        owner, status = self.fields["owner"], self.fields["status"]
        owner.queryset, status.queryset = (
            selectors.owners_for(actor=actor),
            LeadStatus.objects.all(),
        )
        # Options from the page's shared lists (the querysets still validate the input);
        # a role that gives leads only to some people lists only those.
        if scope_for(actor, Entity.LEAD, Action.EDIT) == Scope.ALL:
            owner.widget.choices = LazyChoices(lambda: [("", owner.empty_label), *choices.members])
        status.widget.choices = LazyChoices(lambda: [("", status.empty_label), *choices.statuses])
        ids = self.data.getlist("ids") if hasattr(self.data, "getlist") else []
        self.fields["ids"].choices = [(i, i) for i in ids]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("action") == "move" and not data.get("status"):
            self.add_error("status", _("Choose a status."))
        if len(data.get("ids") or []) > 500:
            raise forms.ValidationError(_("Select at most 500 leads at a time."))
        return data


def _deal_owners(actor: Membership) -> Any:
    """Whom the actor may give a new deal to (deals.services._check_owner's rule)."""
    scope = scope_for(actor, Entity.DEAL, Action.CREATE)
    members = assignable_members()
    if scope == Scope.ALL:
        return members
    if scope == Scope.TEAM and actor.team_id is not None:
        return members.filter(Q(team_id=actor.team_id) | Q(pk=actor.pk))
    return members.filter(pk=actor.pk)


class ConvertForm(CleanInputMixin, forms.Form):
    """The conversion dialog: for the contact and the company, reuse the match, create a new
    one or none; optionally a deal with its title, pipeline, stage, amount, owner and
    expected close date. Fields come pre-filled from the lead (the contact's name split
    from the lead's full name)."""

    line_fields = ("last_name", "first_name", "middle_name", "phone", "email")
    line_fields += ("company_name", "tax_id", "deal_title")

    contact_mode = forms.ChoiceField(label=_("Contact"), widget=forms.RadioSelect)
    last_name = forms.CharField(label=_("Last name"), max_length=100, required=False)
    first_name = forms.CharField(label=_("First name"), max_length=100, required=False)
    middle_name = forms.CharField(label=_("Middle name"), max_length=100, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=64, required=False)
    email = forms.EmailField(label=_("E-mail"), required=False)
    company_mode = forms.ChoiceField(label=_("Company"), widget=forms.RadioSelect)
    company_name = forms.CharField(label=_("Company name"), max_length=200, required=False)
    tax_id = forms.CharField(label=_("Tax id (INN)"), max_length=20, required=False)
    make_deal = forms.BooleanField(label=_("Create a deal"), required=False)
    deal_title = forms.CharField(label=_("Deal title"), max_length=200, required=False)
    pipeline = forms.ModelChoiceField(
        label=_("Pipeline"), queryset=Pipeline.objects.none(), required=False, empty_label=None
    )
    stage = forms.ModelChoiceField(
        label=_("Stage"), queryset=Stage.objects.none(), required=False, empty_label=None
    )
    amount = forms.DecimalField(
        label=_("Amount"), max_digits=14, decimal_places=2, min_value=0, required=False
    )
    deal_owner = _MemberChoice(
        label=_("Responsible"),
        queryset=Membership.objects.none(),
        required=False,
        empty_label=None,
    )
    expected_close = forms.DateField(
        label=_("Expected close date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def __init__(
        self,
        *args: Any,
        lead: Lead,
        contact: Contact | None,
        company: Company | None,
        actor: Membership,
        deal_owner: Membership | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["contact_mode"].choices = self._modes(
            contact, _("Create a new contact"), _("No contact")
        )
        self.fields["company_mode"].choices = self._modes(
            company, _("Create a new company"), _("No company")
        )
        self.fields["pipeline"].queryset = deal_selectors.pipelines()
        self.fields["stage"].queryset = deal_selectors.stages().filter(kind=Outcome.OPEN)
        self.fields["deal_owner"].queryset = _deal_owners(actor)
        self.has_products = lead.products.exists()
        if self.has_products:
            # The deal gets the lead's products: its amount is their total.
            self.fields["amount"].disabled = True
            self.fields["amount"].help_text = _("The total of the lead's products.")
        today = periods.today()
        self.fields["expected_close"].widget.attrs["min"] = today.isoformat()
        if not self.is_bound:
            name = split_full_name(lead.name)
            pipeline = default_pipeline()
            self.initial = {
                "contact_mode": "match" if contact else "new",
                "last_name": name.last,
                "first_name": name.first,
                "middle_name": name.middle,
                "phone": lead.phone,
                "email": lead.email,
                "company_mode": "match" if company else ("new" if lead.company_name else "none"),
                "company_name": lead.company_name,
                "make_deal": True,
                "deal_title": lead.title,
                "pipeline": pipeline.pk,
                "stage": first_stage(pipeline).pk,
                "amount": lead.amount,
                "deal_owner": deal_owner.pk if deal_owner else None,
            }
        elif self.fields["amount"].disabled:
            self.initial["amount"] = lead.amount
        # The stage menu lists the chosen pipeline's open stages; choosing another pipeline
        # fetches its stages (htmx). The field still accepts any open stage, so one of
        # another pipeline gets clean()'s clear message.
        pipeline = self._chosen_pipeline()
        self.fields["stage"].widget.choices = [
            (s.pk, s.name)
            for s in self.fields["stage"].queryset
            if pipeline is not None and s.pipeline_id == pipeline.pk
        ]
        self.fields["pipeline"].widget.attrs.update(
            {
                "hx-get": tenant_reverse("deals:stage_options", current_tenant()),
                "hx-trigger": "change",
                "hx-target": "#id_stage",
                "hx-swap": "innerHTML",
                "hx-include": "this",
                "data-testid": "convert-pipeline",
            }
        )

    def _chosen_pipeline(self) -> Pipeline | None:
        """The pipeline whose stages the stage menu lists (the one chosen, else the default)."""
        chosen = self.data.get("pipeline") if self.is_bound else self.initial.get("pipeline")
        pipeline_id = parse_id(str(chosen or ""))
        found = self.fields["pipeline"].queryset.filter(pk=pipeline_id).first()
        return found or self.fields["pipeline"].queryset.filter(is_default=True).first()

    @staticmethod
    def _modes(match: Contact | Company | None, new: str, none: str) -> list[tuple[str, str]]:
        modes = [("new", new), ("none", none)]
        if match is not None:
            modes.insert(0, ("match", _("Use the existing “%(name)s”") % {"name": match}))
        return modes

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("company_mode") == "new" and not (data.get("company_name") or "").strip():
            self.add_error("company_name", _("Give the company's name."))
        if (
            data.get("contact_mode") == "none"
            and data.get("company_mode") == "none"
            and not data.get("make_deal")
        ):
            raise forms.ValidationError(
                _("Choose what the lead becomes: a contact, a company or a deal.")
            )
        if data.get("make_deal"):
            self._clean_deal(data)
        return data

    def _clean_deal(self, data: dict[str, Any]) -> None:
        pipeline, stage = data.get("pipeline"), data.get("stage")
        if pipeline is None and "pipeline" not in self.errors:
            self.add_error("pipeline", _("Choose a pipeline."))
        if stage is not None and pipeline is not None and stage.pipeline_id != pipeline.pk:
            self.add_error(
                "stage",
                _("This stage belongs to another pipeline: choose a stage of “%(pipeline)s”.")
                % {"pipeline": pipeline.name},
            )
        if data.get("amount") is None:
            data["amount"] = Decimal("0")
        close = data.get("expected_close")
        if close is not None and close < periods.today():
            self.add_error(
                "expected_close", _("The expected close date is in the past: choose a later one.")
            )

    def deal_data(self) -> dict[str, Any]:
        """The new deal's fields as lead_convert takes them."""
        data = self.cleaned_data
        deal = {"title": data["deal_title"], "expected_close": data["expected_close"]}
        if not self.has_products:
            deal["amount"] = data["amount"]
        return deal


class QualifyTaskForm(forms.Form):
    """Ask a colleague who may qualify the lead (a marketer) to do it, by when."""

    assignee = forms.ModelChoiceField(label=_("Who qualifies"), queryset=Membership.objects.none())
    due_at = LocalDateTimeField(label=_("Due"), required=False)
    note = forms.CharField(
        label=_("What to find out"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, choices: list[Membership], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["assignee"]
        field.queryset = Membership.objects.filter(pk__in=[m.pk for m in choices])
        field.choices = [("", "—")] + [
            (m.pk, f"{m.user} · {m.role.name}" if m.role.kind == "marketer" else str(m.user))
            for m in choices
        ]
