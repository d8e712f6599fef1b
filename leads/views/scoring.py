"""Settings → Lead scoring: the frameworks and thresholds, the scoring rules (add, edit,
reorder, turn on and off, delete), and the preview of unsaved changes on the last 90 days'
leads."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from crm.access import TenantRight, require_right
from crm.errors import DomainError
from crm.urlnames import tenant_reverse
from leads import backtest, scoring_rules
from leads.models import ScoringRule, ScoringSettings
from leads.scoring_forms import ScoringRuleForm, ScoringSettingsForm
from leads.selectors import scoring_settings

SETTINGS = TenantRight.SETTINGS
PREVIEW_TEMPLATE = "leads/_scoring_preview.html"


def _to_page(request: HttpRequest) -> HttpResponse:
    return redirect(tenant_reverse("leads:scoring", request.tenant))


@require_http_methods(["GET", "POST"])
@require_right(SETTINGS)
def scoring(request: HttpRequest) -> HttpResponse:
    """The settings form (saved on POST) and the rules, in their order."""
    settings = scoring_settings()
    form = ScoringSettingsForm(request.POST or None, settings=settings)
    if request.method == "POST" and form.is_valid():
        try:
            scoring_rules.scoring_settings_save(actor=request.membership, data=form.cleaned_data)
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Scoring settings saved; open leads are being rescored."))
            return _to_page(request)
    subjects = scoring_rules.subjects(settings)
    # (rule, its condition in words, whether it tests a framework switched off).
    rules = [
        (
            rule,
            scoring_rules.condition_text(rule, subjects),
            rule.subject in subjects and subjects[rule.subject].switched_off,
        )
        for rule in scoring_rules.scoring_rule_list()
    ]
    context = {
        "form": form,
        "rules": rules,
        "section": "scoring",
        "window_days": backtest.WINDOW_DAYS,
    }
    return render(request, "leads/scoring.html", context, status=400 if form.errors else 200)


def _preview(
    request: HttpRequest, *, rules: list[ScoringRule], settings: ScoringSettings
) -> HttpResponse:
    found = backtest.preview(rules=rules, settings=settings)
    context = {"preview": found, "cap": backtest.SAMPLE_CAP}
    return render(request, PREVIEW_TEMPLATE, context)


def _refused_preview(
    request: HttpRequest, form: ScoringRuleForm | ScoringSettingsForm
) -> HttpResponse:
    """What to fix before a preview can be made (swapped in place of the preview)."""
    return render(request, PREVIEW_TEMPLATE, {"form": form}, status=400)


@require_POST
@require_right(SETTINGS)
def scoring_preview(request: HttpRequest) -> HttpResponse:
    """The saved rules with the settings form's unsaved thresholds, on the last 90 days."""
    saved = scoring_settings()
    form = ScoringSettingsForm(request.POST, settings=saved)
    if not form.is_valid():
        return _refused_preview(request, form)
    return _preview(request, rules=backtest.saved_rules(), settings=form.proposed(saved))


def _rule_page(request: HttpRequest, rule: ScoringRule | None) -> HttpResponse:
    subjects = scoring_rules.subjects()
    form = ScoringRuleForm(request.POST or None, subjects=subjects, rule=rule)
    if request.method == "POST" and form.is_valid():
        try:
            scoring_rules.scoring_rule_save(
                actor=request.membership, rule=rule, data=form.rule_data()
            )
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Scoring rule saved; open leads are being rescored."))
            return _to_page(request)
    context = {
        "rule": rule,
        "form": form,
        "section": "scoring",
        "window_days": backtest.WINDOW_DAYS,
        # The rule tests a custom field since deleted: its condition must be chosen anew.
        "subject_gone": rule is not None and rule.subject not in subjects,
    }
    status = 400 if form.errors else 200
    return render(request, "leads/scoring_rule_form.html", context, status=status)


@require_http_methods(["GET", "POST"])
@require_right(SETTINGS)
def scoring_rule_create(request: HttpRequest) -> HttpResponse:
    return _rule_page(request, None)


@require_http_methods(["GET", "POST"])
@require_right(SETTINGS)
def scoring_rule_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _rule_page(request, scoring_rules.scoring_rule_get(rule_id=pk))


def _rule_preview(request: HttpRequest, rule: ScoringRule | None) -> HttpResponse:
    form = ScoringRuleForm(request.POST, subjects=scoring_rules.subjects(), rule=rule)
    if not form.is_valid():
        return _refused_preview(request, form)
    try:
        clean = scoring_rules.clean_rule(form.rule_data(), form.subjects)
    except DomainError as error:
        form.add_error(None, error.message)
        return _refused_preview(request, form)
    edited = ScoringRule(pk=rule.pk if rule else None, enabled=True, **clean)
    return _preview(request, rules=backtest.saved_rules(edited), settings=scoring_settings())


@require_POST
@require_right(SETTINGS)
def scoring_rule_preview_new(request: HttpRequest) -> HttpResponse:
    """The saved rules and the new one (unsaved), on the last 90 days."""
    return _rule_preview(request, None)


@require_POST
@require_right(SETTINGS)
def scoring_rule_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """The saved rules with this one as edited (unsaved, and on), on the last 90 days."""
    return _rule_preview(request, scoring_rules.scoring_rule_get(rule_id=pk))


@require_POST
@require_right(SETTINGS)
def scoring_rule_move(request: HttpRequest, pk: int) -> HttpResponse:
    """One place up (up=1) or down."""
    rule = scoring_rules.scoring_rule_get(rule_id=pk)
    up = request.POST.get("up") == "1"
    scoring_rules.scoring_rule_move(actor=request.membership, rule=rule, up=up)
    return _to_page(request)


@require_POST
@require_right(SETTINGS)
def scoring_rule_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    """Turn on (enabled=1) or off."""
    rule = scoring_rules.scoring_rule_get(rule_id=pk)
    enabled = request.POST.get("enabled") == "1"
    scoring_rules.scoring_rule_set_enabled(actor=request.membership, rule=rule, enabled=enabled)
    messages.success(
        request,
        _("“%(name)s” is on.") % {"name": rule.name}
        if enabled
        else _("“%(name)s” is off.") % {"name": rule.name},
    )
    return _to_page(request)


@require_POST
@require_right(SETTINGS)
def scoring_rule_delete(request: HttpRequest, pk: int) -> HttpResponse:
    rule = scoring_rules.scoring_rule_get(rule_id=pk)
    scoring_rules.scoring_rule_delete(actor=request.membership, rule=rule)
    messages.success(request, _("Scoring rule deleted."))
    return _to_page(request)
