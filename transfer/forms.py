"""The import wizard's forms: the file, its columns, and how to run it."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from crm.access import Action, Scope, scope_for
from crm.models import Membership
from crm.selectors import assignable_members
from crm.sources import LeadSource
from deals.models import Pipeline, Stage
from leads.models import LeadStatus
from transfer import reading, values
from transfer.fields import CUSTOM_ENTITY, field_specs
from transfer.models import Entity, ImportJob, ImportMapping

ENCODING_CHOICES = [
    ("utf-8", "UTF-8"),
    ("utf-8-sig", _("UTF-8 with BOM")),
    ("windows-1251", "Windows-1251"),
    ("koi8-r", "KOI8-R"),
    ("cp866", "CP866 (DOS)"),
    ("utf-16", "UTF-16"),
    ("windows-1252", "Windows-1252"),
]
DELIMITER_CHOICES = [
    (";", _("Semicolon ;")),
    (",", _("Comma ,")),
    ("\t", _("Tab")),
    ("|", _("Bar |")),
]
DATE_CHOICES = [
    (values.DMY, _("Day first: 31.12.2026")),
    (values.MDY, _("Month first: 12/31/2026")),
    (values.YMD, _("Year first: 2026-12-31")),
]


def importable(member: Membership) -> list[tuple[str, Any]]:
    """The kinds of records the member may import."""
    return [
        (value, label)
        for value, label in Entity.choices
        if scope_for(member, CUSTOM_ENTITY[value], Action.IMPORT) != Scope.NONE
    ]


class UploadForm(forms.Form):
    entity = forms.ChoiceField(label=_("What the file holds"))
    file = forms.FileField(
        label=_("File"),
        help_text=_("CSV or XLSX: an export of Bitrix24, amoCRM, HubSpot or any spreadsheet."),
    )

    def __init__(self, *args: Any, member: Membership, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["entity"].choices = importable(member)
        self.fields["file"].widget.attrs["accept"] = ".csv,.txt,.tsv,.xlsx,.xls"

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        limit = settings.IMPORT_MAX_UPLOAD_BYTES
        if upload.size > limit:
            raise forms.ValidationError(
                _("The file is larger than %(size)s MB: split it in parts.") % {"size": limit >> 20}
            )
        return upload


class MappingForm(forms.Form):
    """One field choice per column, and how the file is read."""

    encoding = forms.ChoiceField(label=_("Encoding"), choices=ENCODING_CHOICES, required=False)
    delimiter = forms.ChoiceField(label=_("Delimiter"), choices=DELIMITER_CHOICES, required=False)
    date_order = forms.ChoiceField(label=_("Dates"), choices=DATE_CHOICES)
    save_as = forms.CharField(
        label=_("Save this mapping as"),
        max_length=120,
        required=False,
        help_text=_("For the next file of the same shape."),
    )

    def __init__(self, *args: Any, job: ImportJob, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.job = job
        choices = [("", _("— skip this column —"))]
        choices += [(spec.key, spec.label) for spec in field_specs(job.entity)]
        for index, header in enumerate(job.headers):
            self.fields[f"col_{index}"] = forms.ChoiceField(
                label=header or _("Column %(n)s") % {"n": index + 1},
                choices=choices,
                required=False,
                initial=job.mapping.get(str(index), ""),
            )
        self.fields["date_order"].initial = job.date_order
        if job.file_format == reading.CSV:
            known = {value for value, _label in ENCODING_CHOICES}
            if job.encoding not in known:
                self.fields["encoding"].choices = [*ENCODING_CHOICES, (job.encoding, job.encoding)]
            self.fields["encoding"].initial = job.encoding
            self.fields["delimiter"].initial = job.delimiter
        else:
            del self.fields["encoding"]
            del self.fields["delimiter"]

    def column_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name.startswith("col_")]

    def mapping(self) -> dict[int, str]:
        return {
            int(name[4:]): value
            for name, value in self.cleaned_data.items()
            if name.startswith("col_") and value
        }


class RunForm(forms.Form):
    """What to do with duplicates and the defaults of new records."""

    policy = forms.ChoiceField(
        label=_("When a record already exists"),
        choices=ImportJob.Policy.choices,
        widget=forms.RadioSelect,
        initial=ImportJob.Policy.SKIP,
    )
    match_by = forms.ChoiceField(
        label=_("Find existing records by"),
        choices=ImportJob.MatchBy.choices,
        initial=ImportJob.MatchBy.CONTACTS,
    )
    owner = forms.ModelChoiceField(
        label=_("Responsible for new records"),
        queryset=Membership.objects.none(),
        required=False,
        empty_label=_("— as in the file, else nobody —"),
    )

    def __init__(self, *args: Any, job: ImportJob, member: Membership, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.job = job
        scope = scope_for(member, CUSTOM_ENTITY[job.entity], Action.IMPORT)
        members = assignable_members()
        if scope == Scope.OWN:
            members = members.filter(pk=member.pk)
        elif scope == Scope.TEAM:
            members = (
                members.filter(team_id=member.team_id)
                if member.team_id
                else members.filter(pk=member.pk)
            )
        self.fields["owner"].queryset = members
        self.fields["owner"].label_from_instance = lambda m: str(m.user)
        if scope != Scope.ALL:
            self.fields["owner"].required = True
            self.fields["owner"].initial = member.pk
            self.fields["owner"].empty_label = None
        if job.entity == Entity.LEADS:
            self.fields["status"] = forms.ModelChoiceField(
                label=_("Status of new leads (when the file has none)"),
                queryset=LeadStatus.objects.filter(state__in=["new", "in_progress"]).order_by(
                    "position", "pk"
                ),
                required=False,
            )
            self.fields["source"] = forms.ChoiceField(
                label=_("Source of new leads (when the file has none)"),
                choices=LeadSource.choices,
                initial=LeadSource.IMPORT,
            )
        if job.entity == Entity.DEALS:
            self.fields["pipeline"] = forms.ModelChoiceField(
                label=_("Pipeline (when the file has none)"),
                queryset=Pipeline.objects.order_by("position", "pk"),
                required=False,
            )
            self.fields["stage"] = forms.ModelChoiceField(
                label=_("Stage (when the file has none)"),
                queryset=Stage.objects.select_related("pipeline")
                .filter(kind="open")
                .order_by("pipeline__position", "position"),
                required=False,
            )
            self.fields["stage"].label_from_instance = lambda s: f"{s.pipeline.name} · {s.name}"
        if "external_id" not in job.mapping.values():
            self.fields["match_by"].choices = [
                c for c in ImportJob.MatchBy.choices if c[0] != ImportJob.MatchBy.EXTERNAL_ID
            ]

    def defaults(self) -> dict[str, Any]:
        data = self.cleaned_data
        found: dict[str, Any] = {}
        for key in ("owner", "status", "pipeline", "stage"):
            if data.get(key) is not None:
                found[key] = data[key].pk
        if data.get("source"):
            found["source"] = data["source"]
        return found


class ApplyMappingForm(forms.Form):
    mapping = forms.ModelChoiceField(
        label=_("Saved mapping"), queryset=ImportMapping.objects.none()
    )

    def __init__(self, *args: Any, job: ImportJob, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["mapping"].queryset = ImportMapping.objects.filter(entity=job.entity).order_by(
            "name"
        )
