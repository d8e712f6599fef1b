"""Forms of the core: parse and validate input; choice querysets come from selectors."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm import selectors, timezones
from crm.access import ENTITY_ACTIONS, Action, Entity, Scope, TenantRight
from crm.colours import validate_colour
from crm.models import (
    Activity,
    CustomField,
    Membership,
    Role,
    Team,
    Tenant,
    User,
    normalize_email,
    validate_tenant_slug,
)
from crm.text import clean_line


class TimeZoneSelect(forms.Select):
    """The time zones grouped by region, named in the reader's language; app.js puts a
    search box above it (data-searchable), matching each option's data-search words."""

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(
            {
                "data-searchable": "",
                "data-search-label": _("Find a time zone: a city, a country or UTC+3"),
                **(attrs or {}),
            }
        )

    def create_option(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        option = super().create_option(*args, **kwargs)
        if option["value"]:
            option["attrs"]["data-search"] = timezones.search_words(str(option["value"]))
        return option


class LoginForm(AuthenticationForm):
    username = forms.EmailField(
        label=_("E-mail"), widget=forms.EmailInput(attrs={"autofocus": True})
    )


class PasswordPairMixin(forms.Form):
    password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label=_("Password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean_password2(self) -> str:
        password1, password2 = (
            self.cleaned_data.get("password1"),
            self.cleaned_data.get("password2"),
        )
        if password1 and password2 and password1 != password2:
            raise forms.ValidationError(_("The two passwords do not match."))
        return password2

    def _post_clean(self) -> None:
        super()._post_clean()
        password = self.cleaned_data.get("password2")
        if password:
            user = User(
                email=self.cleaned_data.get("email", ""),
                full_name=self.cleaned_data.get("full_name", ""),
            )
            try:
                password_validation.validate_password(password, user)
            except forms.ValidationError as error:
                self.add_error("password2", error)


class WorkspaceAddressMixin(forms.Form):
    """The new workspace's address (slug): valid and not taken yet."""

    slug = forms.CharField(
        label=_("Workspace address"),
        max_length=40,
        validators=[validate_tenant_slug],
        help_text=_(
            "Lowercase Latin letters, digits and hyphens: it becomes /your-address/ in links."
        ),
    )

    def clean_slug(self) -> str:
        slug = self.cleaned_data["slug"].strip().lower()
        if Tenant.objects.filter(slug=slug).exists():
            raise forms.ValidationError(_("This address is already taken."))
        return slug


class SignupForm(WorkspaceAddressMixin):
    """Step one of sign-up: who and which workspace. Whether the address already has an
    account is not checked here: the answer is the same either way (an e-mail tells)."""

    full_name = forms.CharField(label=_("Your name"), max_length=200)
    email = forms.EmailField(label=_("Work e-mail"))
    company = forms.CharField(label=_("Company"), max_length=200)
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES, initial="ru")
    field_order = ["full_name", "email", "company", "slug", "language"]

    def clean_email(self) -> str:
        return normalize_email(self.cleaned_data["email"])


class SignupPasswordForm(WorkspaceAddressMixin, PasswordPairMixin):
    """Step two of sign-up, from the e-mailed link: the password (checked against the name
    and address given in step one) and the workspace's address, as asked for in step one
    and changeable (someone may have taken it since)."""

    field_order = ["slug", "password1", "password2"]

    def __init__(self, *args: Any, email: str, full_name: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.email, self.full_name = email, full_name

    def _post_clean(self) -> None:
        self.cleaned_data.update(email=self.email, full_name=self.full_name)
        super()._post_clean()


class InvitationSignupForm(PasswordPairMixin):
    full_name = forms.CharField(label=_("Your name"), max_length=200)
    field_order = ["full_name", "password1", "password2"]

    def __init__(self, *args: Any, email: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.email = email

    def _post_clean(self) -> None:
        self.cleaned_data["email"] = self.email
        super()._post_clean()


class TenantSettingsForm(forms.Form):
    name = forms.CharField(label=_("Company name"), max_length=200)
    mode = forms.ChoiceField(
        label=_("Mode"),
        choices=Tenant.Mode.choices,
        help_text=_(
            "In simple mode inquiries become deals with their contacts; existing leads are "
            "hidden, not deleted, and come back when you switch to classic mode."
        ),
    )
    language = forms.ChoiceField(label=_("Default language"), choices=settings.LANGUAGES)
    default_region = forms.CharField(
        label=_("Default phone region"),
        max_length=2,
        help_text=_("Two-letter country code used to read phone numbers written without +."),
    )
    time_zone = forms.ChoiceField(label=_("Time zone"), widget=TimeZoneSelect)
    currency = forms.CharField(label=_("Currency"), max_length=3)
    response_sla_minutes = forms.IntegerField(
        label=_("Response time limit, minutes"),
        min_value=0,
        max_value=7 * 24 * 60,
        required=False,
        help_text=_(
            "A new lead nobody answered within this time is escalated to the team lead "
            "(0 turns escalation off)."
        ),
    )
    sla_reassign = forms.BooleanField(
        label=_("Give escalated leads to the next available manager"), required=False
    )

    def __init__(self, *args: Any, tenant: Tenant, **kwargs: Any) -> None:
        initial = {name: getattr(tenant, name) for name in self.base_fields}
        super().__init__(*args, initial=initial, **kwargs)
        self.tenant = tenant
        self.fields["time_zone"].choices = timezones.zone_choices(current=tenant.time_zone)

    def clean_response_sla_minutes(self) -> int:
        """Left empty, the limit stays as it was."""
        minutes = self.cleaned_data["response_sla_minutes"]
        return self.tenant.response_sla_minutes if minutes is None else minutes

    def clean_default_region(self) -> str:
        region = self.cleaned_data["default_region"].strip().upper()
        if len(region) != 2 or not region.isalpha():
            raise forms.ValidationError(_("Enter a two-letter country code, e.g. RU or KZ."))
        return region

    def clean_currency(self) -> str:
        currency = self.cleaned_data["currency"].strip().upper()
        if len(currency) != 3 or not currency.isalpha():
            raise forms.ValidationError(_("Enter a three-letter currency code, e.g. RUB or USD."))
        return currency


class _MemberChoices(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.user)


class MemberForm(forms.Form):
    """A member's role and team, chosen from the current tenant's."""

    role = forms.ModelChoiceField(label=_("Role"), queryset=Role.objects.none())
    team = forms.ModelChoiceField(label=_("Team"), queryset=Team.objects.none(), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["role"].queryset = selectors.role_list()
        self.fields["team"].queryset = selectors.team_list()


class InviteForm(MemberForm):
    email = forms.EmailField(label=_("E-mail"))
    field_order = ["email", "role", "team"]


class TeamForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    lead = _MemberChoices(label=_("Team lead"), queryset=Membership.objects.none(), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["lead"].queryset = selectors.member_list().filter(is_active=True)


class RoleCreateForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=80)
    copy_from = forms.ModelChoiceField(
        label=_("Start from the rights of"),
        queryset=Role.objects.none(),
        required=False,
        empty_label=_("no rights"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["copy_from"].queryset = selectors.role_list()


def rights_field_name(entity: str, action: str) -> str:
    return f"{entity}__{action}"


class RoleRightsForm(forms.Form):
    """The permission matrix as a grid of selects, plus the tenant-level rights."""

    name = forms.CharField(label=_("Name"), max_length=80)
    tenant_rights = forms.MultipleChoiceField(
        label=_("Workspace rights"),
        choices=TenantRight.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args: Any, role: Role, **kwargs: Any) -> None:
        initial = {
            "name": role.name,
            "tenant_rights": [r for r in TenantRight.values if role.has_right(r)],
        }
        for entity, actions in ENTITY_ACTIONS.items():
            for action in actions:
                initial[rights_field_name(entity, action)] = role.scope(entity, action)
        super().__init__(*args, initial=initial, **kwargs)
        self.role = role
        for entity, actions in ENTITY_ACTIONS.items():
            for action in actions:
                self.fields[rights_field_name(entity, action)] = forms.ChoiceField(
                    label=f"{Entity(entity).label}: {Action(action).label}",
                    choices=Scope.choices,
                    disabled=role.is_admin,
                )
        if role.is_admin:
            self.fields["tenant_rights"].disabled = True

    def grid(self) -> list[dict[str, Any]]:
        """Rows of the matrix for the template: an entity and its cells in action order."""
        rows = []
        for entity, actions in ENTITY_ACTIONS.items():
            cells = [
                self[rights_field_name(entity, action)] if action in actions else None
                for action in Action.values
            ]
            rows.append({"entity": Entity(entity).label, "cells": cells})
        return rows

    def rights(self) -> dict[str, dict[str, str]]:
        return {
            entity: {
                action: self.cleaned_data[rights_field_name(entity, action)] for action in actions
            }
            for entity, actions in ENTITY_ACTIONS.items()
        }


class CustomFieldForm(forms.Form):
    """A custom field definition; records, key and type are fixed after creation."""

    entity = forms.ChoiceField(label=_("Records"), choices=Entity.choices)
    label = forms.CharField(label=_("Label"), max_length=80)
    key = forms.SlugField(
        label=_("Key"),
        max_length=40,
        help_text=_("Lowercase Latin letters, digits and _; used in filters, imports and the API."),
    )
    field_type = forms.ChoiceField(label=_("Type"), choices=CustomField.Type.choices)
    choices = forms.CharField(
        label=_("Choices"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One per line, for choice fields."),
    )
    required = forms.BooleanField(label=_("Required"), required=False)
    position = forms.IntegerField(label=_("Position"), min_value=0, initial=0, required=False)

    def __init__(self, *args: Any, field: CustomField | None = None, **kwargs: Any) -> None:
        if field is not None:
            kwargs.setdefault(
                "initial",
                {
                    "entity": field.entity,
                    "label": field.label,
                    "key": field.key,
                    "field_type": field.field_type,
                    "choices": "\n".join(field.choices),
                    "required": field.required,
                    "position": field.position,
                },
            )
        super().__init__(*args, **kwargs)
        if field is not None:
            for name in ("entity", "key", "field_type"):
                self.fields[name].disabled = True

    def clean_choices(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["choices"].splitlines() if line.strip()]


class LocalDateTimeField(forms.DateTimeField):
    """A date and time typed in the workspace's zone (a datetime-local input), within years
    1900–2200: a time at the calendar's ends would not survive conversion to UTC."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"})

    def validate(self, value: Any) -> None:
        super().validate(value)
        if value is not None and not 1900 <= value.year <= 2200:
            raise forms.ValidationError(_("Enter a date between 1900 and 2200."))


class ActivityForm(forms.Form):
    """An activity on any record: type, subject, note, due and reminder times."""

    kind = forms.ChoiceField(
        label=_("Type"), choices=Activity.Kind.choices, initial=Activity.Kind.CALL
    )
    subject = forms.CharField(label=_("Subject"), max_length=200)
    note = forms.CharField(
        label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    due_at = LocalDateTimeField(label=_("Due"), required=False)
    remind_at = LocalDateTimeField(label=_("Remind at"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Times are typed and shown in the workspace's zone (tenant_context activates it).
        self.fields["due_at"].help_text = _("Workspace time: %(zone)s") % {
            "zone": timezone.get_current_timezone_name()
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("remind_at") and data.get("due_at") and data["remind_at"] > data["due_at"]:
            self.add_error("remind_at", _("The reminder should come before the due time."))
        return data


class ServiceModelForm(forms.ModelForm):
    """A ModelForm whose record a service writes (from `cleaned_data`): the model fields'
    own validators (ranges, lengths) run on the values, so a position of 10**30 is a form
    error, not a database overflow; the instance is left untouched (the service compares
    it with the new values) and uniqueness, the tenant and protected state fields are the
    service's."""

    def _post_clean(self) -> None:
        opts = self._meta.model._meta
        for name, value in list(self.cleaned_data.items()):
            if self.has_error(name):
                continue
            try:
                model_field = opts.get_field(name)
            except FieldDoesNotExist:
                continue
            try:
                model_field.run_validators(value)
            except ValidationError as error:
                self.add_error(name, error)


class ColouredItemForm(ServiceModelForm):
    """A tenant's coloured list item (a lead status, a deal stage): the colour from a colour
    picker; uniqueness and the tenant are checked by the item's service, not here."""

    def clean_color(self) -> str:
        color = self.cleaned_data["color"]
        validate_colour(color)
        return color.lower()


LINE_SEPARATORS = re.compile(r"[\n,;]+")


class LinesField(forms.CharField):
    """Several values in one box, one per line (commas and semicolons work too)."""

    widget = forms.Textarea(attrs={"rows": 2})

    def prepare_value(self, value: Any) -> Any:
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value: Any) -> list[str]:
        text = super().to_python(value)
        return [part.strip() for part in LINE_SEPARATORS.split(text) if part.strip()]


class CleanInputMixin:
    """A form whose one-line values (names, phones, e-mails, handles, titles…) lose their
    invisible and direction characters before they are validated (crm/text.py), so that a
    pasted `anna@example.com` with a zero-width space is an e-mail like any other.

    `line_fields`: one-line fields; `lines_fields`: fields of one value per line.
    """

    line_fields: tuple[str, ...] = ()
    lines_fields: tuple[str, ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        form: Any = self
        if not form.is_bound or not (self.line_fields or self.lines_fields):
            return
        data = form.data.copy()
        for names, clean in (
            (self.line_fields, clean_line),
            (self.lines_fields, lambda v: "\n".join(clean_line(p) for p in v.splitlines())),
        ):
            for name in names:
                key = form.add_prefix(name)
                if hasattr(data, "setlist"):
                    if key in data:
                        data.setlist(key, [clean(v) for v in data.getlist(key)])
                elif isinstance(data.get(key), str):
                    data[key] = clean(data[key])
        form.data = data


class TaskForm(ActivityForm):
    """A new activity from the task page: the record it belongs to ("lead:12", found by a
    search box) and whom it is for. The view resolves the record within the actor's rights."""

    record = forms.CharField(label=_("Record"), max_length=40)
    owner = _MemberChoices(
        label=_("Responsible"), queryset=Membership.objects.none(), required=False
    )

    field_order = ("record", "kind", "subject", "due_at", "remind_at", "owner", "note")

    def __init__(self, *args: Any, members: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = members
        self.fields["owner"].empty_label = _("Me")
        self.fields["kind"].choices = [
            (value, label) for value, label in Activity.Kind.choices if value != "note"
        ]


class RescheduleForm(forms.Form):
    """Where to move an activity: an hour on, tomorrow at the same time, or a picked time."""

    HOUR, TOMORROW, PICK = "hour", "tomorrow", "pick"

    to = forms.ChoiceField(choices=[(HOUR, HOUR), (TOMORROW, TOMORROW), (PICK, PICK)])
    due_at = LocalDateTimeField(label=_("New time"), required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("to") == self.PICK and not data.get("due_at"):
            self.add_error("due_at", _("Pick the new date and time."))
        return data


class AssignActivityForm(forms.Form):
    owner = _MemberChoices(label=_("Give to"), queryset=Membership.objects.none())

    def __init__(self, *args: Any, members: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = members


class AlertsForm(forms.Form):
    """How my open pages announce a new lead (Membership.alert_*)."""

    sound = forms.BooleanField(label=_("Play a sound"), required=False)
    desktop = forms.BooleanField(
        label=_("Show a browser notification"),
        required=False,
        help_text=_("Shown while Voronka is open in a tab you are not looking at."),
    )
