"""Write use cases of lead qualification (DESIGN §7, seed 002): the funnel level and its
handover to sales, the temperature by hand or by score, framework answers, behaviour events,
the "qualify this lead" task, the score's recomputation and nightly decay. The admins'
rules and settings are leads/scoring_rules.py.

Everything that changes what a score reads queues the lead's recomputation after commit
(`rescore_later`, in the worker); the nightly decay recomputes every open lead with
engagement points, which also catches a recomputation whose publish was lost.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, time, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, Q, Window
from django.db.models.functions import RowNumber
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crm import customfields
from crm.access import AccessDenied, Action, Entity, can, check_object
from crm.background import start_named
from crm.bulk import update_many
from crm.errors import DomainError
from crm.memo import nested_savepoints
from crm.models import Activity, Membership, Tenant
from crm.services import activity_create, timeline_record, timeline_record_each
from crm.tenancy import current_tenant, tenant_context
from leads import scoring
from leads.distribution import HANDOVER_LEVELS, matching_rule, routing_context_for, rule_pick
from leads.frameworks import FRAMEWORKS, answers_of, clean_answers
from leads.models import (
    LEVEL_ORDER,
    OPEN_STATES,
    Lead,
    LeadEvent,
    ScoringRule,
    ScoringSettings,
    Temperature,
)
from leads.rescoring import rescore_later
from leads.selectors import scoring_rules, scoring_settings
from leads.services import owner_change

RESCORE_BATCH = 500
# The engagement of events older than this is not read (a rule's half-life is at most
# a few months; an event a year old is worth nothing).
EVENTS_HORIZON_DAYS = 365
# Occurrences of one event name read per lead (a rule counts at most 100 of them).
EVENTS_PER_LEAD = 200


# --- What scores read ------------------------------------------------------------------


def occurrences_of(lead_ids: Iterable[int], *, now: datetime) -> dict[int, list]:
    """The leads' behaviour events within the horizon — the latest EVENTS_PER_LEAD of each
    name a lead has (a rule counts at most 100) — oldest first, per lead."""
    found: dict[int, list] = defaultdict(list)
    ids = list(lead_ids)
    if not ids:
        return found
    rows = (
        LeadEvent.objects.filter(
            lead_id__in=ids, occurred_at__gte=now - timedelta(days=EVENTS_HORIZON_DAYS)
        )
        .alias(
            newest=Window(
                RowNumber(),
                partition_by=[F("lead_id"), F("name")],
                order_by=[F("occurred_at").desc(), F("pk").desc()],
            )
        )
        .filter(newest__lte=EVENTS_PER_LEAD)
        .order_by("occurred_at", "pk")
        .values_list("lead_id", "name", "occurred_at")
    )
    for lead_id, name, at in rows:
        found[lead_id].append(scoring.Occurrence(name, at))
    return found


def context_now(settings: ScoringSettings, now: datetime | None = None) -> scoring.Context:
    """What the current tenant's rules read besides the leads, at `now`."""
    tenant = current_tenant()
    labels = {d.key: d.label for d in customfields.definitions(entity=Entity.LEAD)}
    return scoring.Context(
        settings=settings, language=tenant.language, now=now or timezone.now(), custom_labels=labels
    )


# --- Recomputing ------------------------------------------------------------------------


def _apply(
    lead: Lead,
    score: scoring.Score,
    settings: ScoringSettings,
    *,
    has_rules: bool,
    now: datetime,
) -> dict[str, Any]:
    """The field values a score gives the lead (the temperature only when the score sets
    it: rules exist, the setting is on and nobody set it by hand)."""
    values: dict[str, Any] = {
        "fit_score": score.fit,
        "engagement_score": score.engagement,
        "score": score.total,
        "score_parts": score.stored_parts(),
        "scored_at": now,
    }
    if has_rules and settings.auto_temperature and not lead.temperature_by_hand:
        values["temperature"] = scoring.temperature_for(score.total, settings)
    return values


SCORE_FIELDS = ("fit_score", "engagement_score", "score", "score_parts", "scored_at", "temperature")


def _save_scores(
    leads: list[Lead], settings: ScoringSettings, rules: list[ScoringRule], now: datetime
) -> int:
    """Score `leads` and write them in one statement; temperature changes go to the
    timeline. The explanations are written in the workspace's language, as everything a
    worker writes."""
    context = context_now(settings, now)
    events = occurrences_of([lead.pk for lead in leads], now=now)
    moved: list[tuple[int, dict[str, Any]]] = []
    with translation.override(context.language):
        scores = [
            scoring.evaluate(lead, rules=rules, events=events.get(lead.pk, []), context=context)
            for lead in leads
        ]
    for lead, score in zip(leads, scores, strict=True):
        before = lead.temperature
        for name, value in _apply(lead, score, settings, has_rules=bool(rules), now=now).items():
            setattr(lead, name, value)
        if lead.temperature != before:
            moved.append((lead.pk, {"from": before, "to": lead.temperature, "score": score.total}))
    update_many(Lead, leads, SCORE_FIELDS)  # one statement a batch; updated_at stays
    timeline_record_each(actor=None, model=Lead, kind="lead.temperature_scored", rows=moved)
    return len(leads)


def lead_rescore(*, lead_id: int, now: datetime | None = None) -> Lead | None:
    """Recompute one lead's score (None when it is gone). Call in tenant_context."""
    now = now or timezone.now()
    rules = scoring_rules()
    with transaction.atomic():
        lead = Lead.objects.select_for_update().filter(pk=lead_id, deleted_at=None).first()
        if lead is None:
            return None
        if lead.state not in OPEN_STATES:
            return lead  # a converted or junk lead keeps the score it closed with
        if not rules and lead.scored_at is None:
            return lead  # the workspace scores nothing and the lead never had a score
        _save_scores([lead], scoring_settings(), rules, now)
    lead.refresh_from_db()
    return lead


def leads_rescore(
    *,
    tenant: Tenant,
    open_only: bool = True,
    engaged_only: bool = False,
    now: datetime | None = None,
) -> int:
    """Recompute a tenant's leads (after its rules or thresholds change; nightly, the
    engaged ones for decay) in batches, each committed in its own tenant transaction — a
    long pass holds no lock on the leads it is not writing. Returns how many were scored."""
    now = now or timezone.now()
    done, after = 0, 0
    while True:
        with tenant_context(tenant):
            # Read each batch: a pass that overlaps a later change scores by the later rules.
            settings, rules = scoring_settings(), scoring_rules()
            leads = Lead.objects.filter(deleted_at=None, pk__gt=after)
            if open_only:
                leads = leads.filter(state__in=OPEN_STATES)
            if engaged_only:
                leads = leads.filter(~Q(engagement_score=0))
            # Locked: a temperature set by hand meanwhile is not overwritten.
            batch = list(leads.order_by("pk").select_for_update()[:RESCORE_BATCH])
            if not batch:
                return done
            done += _save_scores(batch, settings, rules, now)
        after = batch[-1].pk


def scores_decay(*, tenant: Tenant, now: datetime | None = None) -> int:
    """The nightly pass: once per workspace day, after 03:00 there, recompute the open
    leads with engagement points (their events fade). The day is marked done after the
    pass, so a pass cut short runs again at the next hourly check. Returns how many were
    scored."""
    now = now or timezone.now()
    with tenant_context(tenant):
        local = timezone.localtime(now)  # the workspace's zone
        found = ScoringSettings.objects.first()
        if local.time() < time(3) or (found is not None and found.decayed_on == local.date()):
            return 0
    done = leads_rescore(tenant=tenant, engaged_only=True, now=now)
    with tenant_context(tenant):
        settings = ScoringSettings.objects.select_for_update().first()
        if settings is None:
            settings = ScoringSettings.objects.create(tenant=tenant)
        settings.decayed_on = local.date()
        settings.save(update_fields=["decayed_on", "updated_at"])
    return done


# --- Qualifying a lead --------------------------------------------------------------------


def _check_qualify(actor: Membership, lead: Lead) -> None:
    """The qualify right on this lead, and the lead open (a converted or junk lead is kept
    as it was qualified)."""
    check_object(lead, actor=actor, action=Action.QUALIFY)
    if lead.deleted_at is not None:
        raise DomainError(_("This lead is in the trash."))
    if lead.state not in OPEN_STATES:
        raise DomainError(_("Only an open lead is qualified."))


def _handover(actor: Membership, lead: Lead, previous: str, level: str) -> None:
    """Raised from `previous` to `level`: the rule naming the highest handover level passed
    (SQL, then a skipped SAL) gives the lead to its pick; no rule, nobody free — it stays."""
    start, end = LEVEL_ORDER.index(previous), LEVEL_ORDER.index(level)
    for passed in reversed(LEVEL_ORDER[start + 1 : end + 1]):
        if passed not in HANDOVER_LEVELS:
            continue
        rule = matching_rule(routing_context_for(lead, level=passed))
        owner = rule_pick(rule) if rule is not None else None
        if owner is not None:
            if owner.pk != lead.owner_id:
                owner_change(actor=actor, lead=lead, owner=owner, rule=rule.name)
            return


def lead_set_level(*, actor: Membership, lead: Lead, level: str) -> Lead:
    """Set the lead's funnel level ("" for none), recorded with who and when; each level
    reached for the first time (and those skipped on the way up) is dated for the funnel.
    A handover to SAL (or SQL) goes to sales by the assignment rule naming that level."""
    _check_qualify(actor, lead)
    if level not in LEVEL_ORDER:
        raise DomainError(_("Unknown qualification level."))
    now = timezone.now()
    with transaction.atomic(savepoint=nested_savepoints()):
        # Locked and read again: of two clicks at once, the second finds the level set.
        lead = Lead.objects.select_for_update().get(pk=lead.pk)
        _check_qualify(actor, lead)
        previous = lead.level
        if level == previous:
            return lead
        lead.level = level
        lead.level_set_at = now
        lead.level_set_by = actor
        fields = ["level", "level_set_at", "level_set_by", "updated_at"]
        for step in LEVEL_ORDER[1 : LEVEL_ORDER.index(level) + 1] if level else ():
            stamp = f"{step}_at"
            if getattr(lead, stamp) is None:
                setattr(lead, stamp, now)
                fields.append(stamp)
        lead.save(update_fields=fields)
        timeline_record(
            actor=actor, target=lead, kind="lead.level", data={"from": previous, "to": level}
        )
        _handover(actor, lead, previous, level)
    return lead


def lead_set_temperature(*, actor: Membership, lead: Lead, temperature: str) -> Lead:
    """Set the temperature by hand (the score stops moving it), or give it back to the score
    with "" (recomputed in the worker)."""
    _check_qualify(actor, lead)
    if temperature and temperature not in Temperature.values:
        raise DomainError(_("Unknown temperature."))
    with transaction.atomic(savepoint=nested_savepoints()):
        lead = Lead.objects.select_for_update().get(pk=lead.pk)
        previous = lead.temperature
        lead.temperature_by_hand = bool(temperature)
        if temperature:
            lead.temperature = temperature
        lead.save(update_fields=["temperature", "temperature_by_hand", "updated_at"])
        timeline_record(
            actor=actor,
            target=lead,
            kind="lead.temperature",
            data={"from": previous, "to": temperature, "auto": not temperature},
        )
        if not temperature:
            rescore_later(lead)
    return lead


def lead_answer(*, actor: Membership, lead: Lead, framework: str, data: dict) -> dict[str, str]:
    """Save the lead's answers to a framework's questions; the changed ones go to the
    timeline and the score is recomputed. When an answer does not read, nothing is saved
    and the errors are returned by question (the form keeps what was typed)."""
    _check_qualify(actor, lead)
    found = FRAMEWORKS.get(framework)
    if found is None or not getattr(scoring_settings(), framework, False):
        raise DomainError(_("This qualification framework is switched off."))
    answers, errors = clean_answers(found, data)
    if errors:
        return errors
    with transaction.atomic(savepoint=nested_savepoints()):
        lead = Lead.objects.select_for_update().get(pk=lead.pk)
        qualification = dict(lead.qualification) if isinstance(lead.qualification, dict) else {}
        before = answers_of(qualification, framework)
        merged = {**before, **answers}
        changed = {
            key: [before.get(key), value]
            for key, value in merged.items()
            if (before.get(key) or "") != (value or "")
        }
        if not changed:
            return {}
        qualification[framework] = merged
        lead.qualification = qualification
        lead.save(update_fields=["qualification", "updated_at"])
        timeline_record(
            actor=actor,
            target=lead,
            kind="lead.qualified",
            data={
                "framework": found.label,
                "changed": changed,
                "questions": [str(q.label) for q in found.questions if q.key in changed],
            },
        )
        rescore_later(lead)
    return {}


def lead_qualify_task(
    *,
    actor: Membership,
    lead: Lead,
    assignee: Membership,
    due_at: datetime | None = None,
    note: str = "",
) -> Activity:
    """Ask a colleague (a marketer, seed 002) to qualify the lead: a task on its card."""
    if not (
        can(lead, actor=actor, action=Action.EDIT) or can(lead, actor=actor, action=Action.QUALIFY)
    ):
        raise AccessDenied(_("Your role does not allow this action on this record."))
    if lead.deleted_at is not None or lead.state not in OPEN_STATES:
        raise DomainError(_("Only an open lead is qualified."))
    if assignee.tenant_id != actor.tenant_id or not assignee.is_active or assignee.is_system:
        raise DomainError(_("Choose an active member of this workspace."))
    if not can(lead, actor=assignee, action=Action.QUALIFY):
        raise DomainError(_("%(name)s may not qualify this lead.") % {"name": assignee.user})
    subject = _("Qualify the lead “%(title)s”") % {"title": lead.title}
    return activity_create(
        actor=actor,
        target=lead,
        kind=Activity.Kind.TASK,
        subject=subject[:200],
        note=note,
        due_at=due_at,
        owner=assignee,
    )


# --- Behaviour events -----------------------------------------------------------------------


def event_record(
    *,
    actor: Membership | None,
    lead: Lead,
    name: str,
    properties: dict | None = None,
    url: str = "",
    at: datetime | None = None,
) -> LeadEvent:
    """Record something the lead did (an API event, a channel's observation) and queue the
    recomputation of its score."""
    name = " ".join(str(name).split())[:100]
    if not name:
        raise DomainError(_("An event needs a name."))
    now = timezone.now()
    at = min(at or now, now)  # an event from the future counts from now
    event = LeadEvent.objects.create(
        tenant=lead.tenant,
        lead=lead,
        name=name,
        properties=properties or {},
        url=url[:2000],
        occurred_at=at,
    )
    rescore_later(lead)
    return event


# --- Rescoring after admins' changes ---------------------------------------------------


def rescore_all_later() -> None:
    """Recompute the tenant's open leads in the background once the change commits."""
    start_named("leads.tasks.leads_rescore_task", tenant_id=current_tenant().pk)
