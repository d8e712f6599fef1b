"""Forms of the scoring settings page: parse and validate input; leads/scoring_rules.py and
leads/qualification.py do the checking that matters and the writing."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from leads.models import ScoringRule, ScoringSettings
from leads.scoring import BETWEEN, EVENT, EVENTS, IS
from leads.scoring_rules import MAX_HALF_LIFE_DAYS, MAX_POINTS, MAX_TIMES, OPERATORS, Subject

THRESHOLD_LIMIT = 100_000
SETTINGS_FLAGS = ("bant", "champ", "auto_temperature")
THRESHOLDS = (
    "hot_from",
    "warm_from",
    "fit_a_from",
    "fit_b_from",
    "engagement_1_from",
    "engagement_2_from",
)
# (higher, lower, the message when the higher does not start above the lower).
THRESHOLD_ORDER = (
    ("hot_from", "warm_from", _("“Hot from” must be above “warm from”.")),
    ("fit_a_from", "fit_b_from", _("Fit A must start above fit B.")),
    ("engagement_1_from", "engagement_2_from", _("Engagement 1 must start above engagement 2.")),
)


def _threshold(label: Any) -> forms.IntegerField:
    return forms.IntegerField(label=label, min_value=-THRESHOLD_LIMIT, max_value=THRESHOLD_LIMIT)


class ScoringSettingsForm(forms.Form):
    """The frameworks switched on and the score's thresholds."""

    bant = forms.BooleanField(label=_("BANT: budget, authority, need, timing"), required=False)
    champ = forms.BooleanField(
        label=_("CHAMP: challenges, authority, money, prioritization"), required=False
    )
    auto_temperature = forms.BooleanField(
        label=_("Set the temperature from the score (unless set by hand)"), required=False
    )
    hot_from = _threshold(_("Hot from, points"))
    warm_from = _threshold(_("Warm from, points"))
    fit_a_from = _threshold(_("Fit A from"))
    fit_b_from = _threshold(_("Fit B from"))
    engagement_1_from = _threshold(_("Engagement 1 from"))
    engagement_2_from = _threshold(_("Engagement 2 from"))

    def __init__(self, *args: Any, settings: ScoringSettings, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial = {
                name: getattr(settings, name) for name in (*SETTINGS_FLAGS, *THRESHOLDS)
            }

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for higher, lower, message in THRESHOLD_ORDER:
            if higher in data and lower in data and data[higher] <= data[lower]:
                self.add_error(higher, message)
        return data

    def proposed(self, saved: ScoringSettings) -> ScoringSettings:
        """Unsaved settings with the form's values (the preview scores with them)."""
        values = {name: getattr(saved, name) for name in (*SETTINGS_FLAGS, *THRESHOLDS)}
        values.update(self.cleaned_data)
        return ScoringSettings(tenant_id=saved.tenant_id, **values)


def _boxes(label: Any, choices: Any) -> forms.MultipleChoiceField:
    return forms.MultipleChoiceField(
        label=label,
        choices=choices,
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
    )


class ScoringRuleForm(forms.Form):
    """One rule: what it tests and how, or which events it counts; and its points. The
    values come from the inputs of the chosen subject: its answers' boxes, the events'
    boxes and names typed, or values typed one a line."""

    name = forms.CharField(label=_("Name"), max_length=120)
    subject = forms.ChoiceField(label=_("Condition"))
    operator = forms.ChoiceField(label=_("Test"), choices=list(OPERATORS.items()), required=False)
    values_text = forms.CharField(
        label=_("Values"),
        required=False,
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One a line; any of them matches, ignoring case."),
    )
    low = forms.DecimalField(label=_("From"), required=False, max_digits=14, decimal_places=2)
    high = forms.DecimalField(label=_("To"), required=False, max_digits=14, decimal_places=2)
    events = _boxes(_("Events"), list(EVENTS.items()))
    other_events = forms.CharField(
        label=_("Other event names"),
        required=False,
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("One a line, as your site or service posts them to the API."),
    )
    max_times = forms.IntegerField(
        label=_("Count at most times"),
        min_value=1,
        max_value=MAX_TIMES,
        initial=1,
        required=False,
        help_text=_("Each occurrence scores, the latest first."),
    )
    half_life_days = forms.IntegerField(
        label=_("Half-life, days"),
        min_value=1,
        max_value=MAX_HALF_LIFE_DAYS,
        required=False,
        help_text=_(
            "The points of an occurrence halve every so many days; empty: they never fade."
        ),
    )
    points = forms.IntegerField(
        label=_("Points"),
        min_value=-MAX_POINTS,
        max_value=MAX_POINTS,
        help_text=_("Negative points lower the score."),
    )

    def __init__(
        self,
        *args: Any,
        subjects: dict[str, Subject],
        rule: ScoringRule | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.subjects = subjects
        self.fields["subject"].choices = [(key, s.label) for key, s in subjects.items()]
        # The answers' boxes of each subject that has its own (sources, choice questions…).
        self.choice_fields: dict[str, str] = {}
        for key, subject in subjects.items():
            if subject.choices and not subject.is_event:
                name = f"values_{key}"
                self.fields[name] = _boxes(_("Any of"), subject.choices)
                self.choice_fields[key] = name
        if rule is not None and not self.is_bound:
            self.initial = self._initial_of(rule)

    def _initial_of(self, rule: ScoringRule) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "name": rule.name,
            "subject": rule.subject,
            "operator": rule.operator,
            "low": rule.low,
            "high": rule.high,
            "points": rule.points,
            "max_times": rule.max_times,
            "half_life_days": rule.half_life_days,
        }
        values = [str(v) for v in rule.values or []]
        if rule.is_event:
            initial["events"] = [v for v in values if v in EVENTS]
            initial["other_events"] = "\n".join(v for v in values if v not in EVENTS)
        elif rule.subject in self.choice_fields and rule.operator == IS:
            initial[self.choice_fields[rule.subject]] = values
        else:
            initial["values_text"] = "\n".join(values)
        return initial

    def subject_groups(self) -> list[tuple[str, list[Subject]]]:
        """The subjects by group, in order, for the select's option groups."""
        groups: dict[str, list[Subject]] = {}
        for subject in self.subjects.values():
            groups.setdefault(subject.group, []).append(subject)
        return list(groups.items())

    def choice_boxes(self) -> list[tuple[str, forms.BoundField]]:
        """(subject key, its answers' boxes), for the sections shown by subject."""
        return [(key, self[name]) for key, name in self.choice_fields.items()]

    def rule_data(self) -> dict[str, Any]:
        """The input as `scoring_rule_save` takes it: only what the chosen subject and test
        use (a page without JavaScript shows every input)."""
        data = self.cleaned_data
        key = data["subject"]
        lines = (data.get("values_text") or "").splitlines()
        rule: dict[str, Any] = {"name": data["name"], "subject": key, "points": data["points"]}
        if key == EVENT:
            typed = (data.get("other_events") or "").splitlines()
            rule.update(
                values=[*data.get("events", []), *typed],
                max_times=data.get("max_times"),
                half_life_days=data.get("half_life_days"),
            )
            return rule
        operator = data.get("operator") or ""
        rule["operator"] = operator
        if operator == BETWEEN:
            rule.update(low=data.get("low"), high=data.get("high"))
        elif operator == IS and key in self.choice_fields:
            rule["values"] = data.get(self.choice_fields[key], [])
        else:
            rule["values"] = lines
        return rule
