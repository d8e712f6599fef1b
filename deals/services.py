"""Write use cases for deals: create, edit, move through stages (won, lost, reopen), and
the admin's pipelines and stages.

`deal_move` is the one entry point for stage changes (card, board, bulk): inside the open
stages it is a plain update, into or out of a won or lost stage it is an outcome
transition. Every change is a TimelineEvent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import ConcurrentTransition, TransitionNotAllowed

from crm.access import (
    AccessDenied,
    Action,
    Entity,
    Scope,
    TenantRight,
    check_entity,
    check_object,
    has_right,
)
from crm.bulk import insert_many
from crm.errors import DomainError
from crm.history import Changes
from crm.lineitems import ProductLine, replace_lines, same_lines
from crm.models import Activity, Membership, Tenant
from crm.notifications import notify
from crm.ordering import move_one_step
from crm.services import ACTOR, _Actor, timeline_record, timeline_record_many
from crm.urlnames import tenant_reverse
from deals.models import OUTCOME_MOVES, Deal, DealProduct, LossReason, Outcome, Pipeline, Stage

# Pipelines every tenant starts with: (Russian name, English name, default, repeat, stages);
# a stage is (kind, colour, probability, Russian name, English name).
_CLOSED = (
    (Outcome.WON, "#198754", 100, "Успешно", "Won"),
    (Outcome.LOST, "#dc3545", 0, "Провалена", "Lost"),
)
DEFAULT_PIPELINES = (
    (
        "Продажи",
        "Sales",
        True,
        False,
        (
            (Outcome.OPEN, "#0d6efd", 10, "Новая", "New"),
            (Outcome.OPEN, "#6f42c1", 20, "Квалификация", "Qualification"),
            (Outcome.OPEN, "#fd7e14", 50, "Переговоры", "Negotiation"),
            (Outcome.OPEN, "#ffc107", 80, "Счёт выставлен", "Invoice sent"),
            *_CLOSED,
        ),
    ),
    (
        "Повторные продажи",
        "Repeat sales",
        False,
        True,
        (
            (Outcome.OPEN, "#0dcaf0", 20, "Новая", "New"),
            (Outcome.OPEN, "#fd7e14", 60, "Предложение", "Proposal"),
            (Outcome.OPEN, "#ffc107", 80, "Счёт выставлен", "Invoice sent"),
            *_CLOSED,
        ),
    ),
)
# Loss reasons every workspace starts with (Russian, English names); the last is "other".
DEFAULT_LOSS_REASONS = (
    ("Дорого", "Too expensive"),
    ("Выбрали конкурента", "Chose a competitor"),
    ("Нет бюджета", "No budget"),
    ("Не выходит на связь", "No answer"),
    ("Не наш клиент", "Not our client"),
    ("Другое", "Other"),
)
# The stages a pipeline added by an admin starts with.
NEW_PIPELINE_STAGES = ((Outcome.OPEN, "#0d6efd", 10, "Новая", "New"), *_CLOSED)

EDITABLE_FIELDS = (
    "title",
    "amount",
    "currency",
    "contact",
    "company",
    "expected_close",
    "custom",
)


class InvalidTransition(DomainError):  # noqa: N818 - the domain's name for it (STYLE.md)
    """A stage move the outcome state machine does not allow (HTTP 409)."""

    status_code = 409


class AmountRequired(InvalidTransition):
    """A deal is won with its amount: one at 0 needs it first (the card asks for it)."""


def _named(tenant: Tenant, ru: str, en: str) -> str:
    return ru if tenant.language == "ru" else en


def _add_stages(tenant: Tenant, pipeline: Pipeline, stages: Iterable[tuple]) -> None:
    Stage.objects.bulk_create(
        Stage(
            tenant=tenant,
            pipeline=pipeline,
            kind=kind,
            color=color,
            probability=probability,
            name=_named(tenant, ru, en),
            position=position,
        )
        for position, (kind, color, probability, ru, en) in enumerate(stages)
    )


def pipelines_seed(tenant: Tenant) -> None:
    """Create the default pipelines and stages of a new tenant, in the tenant's language."""
    for position, (ru, en, default, repeat, stages) in enumerate(DEFAULT_PIPELINES):
        pipeline = Pipeline.objects.create(
            tenant=tenant,
            name=_named(tenant, ru, en),
            position=position,
            is_default=default,
            is_repeat=repeat,
        )
        _add_stages(tenant, pipeline, stages)


def loss_reasons_seed(tenant: Tenant) -> None:
    """Create the default loss reasons of a new tenant, in the tenant's language."""
    LossReason.objects.bulk_create(
        LossReason(tenant=tenant, name=_named(tenant, ru, en), position=position)
        for position, (ru, en) in enumerate(DEFAULT_LOSS_REASONS, start=1)
    )


# --- Create and edit ----------------------------------------------------------------------


def _check_same_tenant(deal: Deal, *related: Any) -> None:
    """FK traversal is unscoped: every related object must be the deal's tenant's."""
    for obj in related:
        if obj is not None and obj.tenant_id != deal.tenant_id:
            raise DomainError(_("That record belongs to another workspace."))


def _check_owner(actor: Membership, owner: Membership | None, scope: str) -> None:
    """Whom a deal may be given to: anyone with scope all, own team with team, only me with own."""
    if owner is None or owner.pk == actor.pk:
        return
    if owner.tenant_id != actor.tenant_id or not owner.is_active:
        raise DomainError(_("That person cannot own deals here."))
    if scope == Scope.ALL:
        return
    if scope == Scope.TEAM and owner.team_id is not None and owner.team_id == actor.team_id:
        return
    raise AccessDenied(_("Your role does not allow giving deals to that person."))


def first_stage(pipeline: Pipeline, kind: str = Outcome.OPEN) -> Stage:
    """The first stage of `kind` in the pipeline (where new, reopened or moved deals go)."""
    stage = Stage.objects.filter(pipeline=pipeline, kind=kind).order_by("position", "pk").first()
    if stage is None:
        raise DomainError(_("This pipeline has no stage of that kind: ask an administrator."))
    return stage


def default_pipeline(*, repeat: bool = False) -> Pipeline:
    """The pipeline new deals go to (or repeat sales, falling back to the default)."""
    found = None
    if repeat:
        found = Pipeline.objects.filter(is_repeat=True).first()
    found = found or Pipeline.objects.filter(is_default=True).first() or Pipeline.objects.first()
    if found is None:
        raise DomainError(_("No pipeline is set up: ask an administrator."))
    return found


def _notify_owner(deal: Deal, owner: Membership) -> None:
    notify(
        recipients=[owner],
        kind="deal.assigned",
        data={"title": deal.title},
        url=tenant_reverse("deals:detail", deal.tenant, pk=deal.pk),
    )


def _title_for(data: dict[str, Any]) -> str:
    customer = data.get("company") or data.get("contact")
    return str(customer) if customer else _("New deal")


def deal_create(
    *,
    actor: Membership,
    data: dict[str, Any],
    owner: Membership | _Actor | None = ACTOR,
    pipeline: Pipeline | None = None,
    stage: Stage | None = None,
    products: Iterable[ProductLine] = (),
    source_lead: Any = None,
) -> Deal:
    """Create an open deal (owned by `owner`, default: the actor; None: unassigned, in the
    shared pool) in `stage`, or the first
    open stage of `pipeline` (default: the default pipeline). Lead conversion calls this
    with the lead as `source_lead`.

    Raises AccessDenied without the create right, DomainError for a stage that is not
    open, not of the pipeline, or of another tenant.
    """
    scope = check_entity(actor=actor, entity=Entity.DEAL, action=Action.CREATE)
    if isinstance(owner, _Actor):
        owner = actor
    _check_owner(actor, owner, scope)
    pipeline = pipeline or (stage.pipeline if stage else default_pipeline())
    stage = stage or first_stage(pipeline)
    products = list(products)
    deal = Deal(
        tenant=actor.tenant,
        owner=owner,
        created_by=actor,
        pipeline=pipeline,
        stage=stage,
        source_lead=source_lead,
        **{f: v for f, v in data.items() if f in EDITABLE_FIELDS},
    )
    _check_same_tenant(deal, pipeline, stage, deal.contact, deal.company, source_lead, owner)
    if stage.pipeline_id != pipeline.pk:
        raise DomainError(_("The stage belongs to another pipeline."))
    if stage.kind != Outcome.OPEN:
        raise DomainError(_("A new deal starts in an open stage."))
    deal.title = (deal.title or "").strip() or _title_for(data)
    deal.currency = deal.currency or actor.tenant.currency
    with transaction.atomic():
        deal.save()
        if products:
            deal.amount = replace_lines(
                DealProduct, tenant_id=deal.tenant_id, lines=products, deal=deal
            )
            deal.save(update_fields=["amount"])
        timeline_record(
            actor=actor,
            target=deal,
            kind="deal.created",
            data={"title": deal.title, "pipeline": pipeline.name, "stage": stage.name},
        )
        if owner is not None and owner.pk != actor.pk:
            _notify_owner(deal, owner)
    return deal


def deal_update(
    *,
    actor: Membership,
    deal: Deal,
    data: dict[str, Any],
    owner: Membership | None = None,
    products: Iterable[ProductLine] | None = None,
) -> Deal:
    """Change a deal's fields (those in `data`) and owner; each change goes to the timeline."""
    check_object(deal, actor=actor, action=Action.EDIT)
    scope = check_entity(actor=actor, entity=Entity.DEAL, action=Action.EDIT)
    changes = Changes()
    with transaction.atomic():
        changes.set_fields(deal, data, EDITABLE_FIELDS, Entity.DEAL)
        reassigned = owner is not None and owner.pk != deal.owner_id
        if reassigned:
            _check_owner(actor, owner, scope)
            changes.add("owner", deal.owner, owner, force=True)
            deal.owner = owner
        _check_same_tenant(deal, deal.contact, deal.company, deal.owner)
        deal.title = deal.title.strip() or _title_for(data)
        deal.currency = deal.currency or actor.tenant.currency
        if products is not None:
            before = list(deal.products.all())
            products = list(products)
            if not same_lines(before, products):
                total = replace_lines(
                    DealProduct, tenant_id=deal.tenant_id, lines=products, deal=deal
                )
                changes.add("products", len(before), len(products))
                if total is not None:
                    changes.add_default("amount", deal.amount, total)
                    deal.amount = total
        if not changes:
            return deal
        deal.save()
        timeline_record(
            actor=actor,
            target=deal,
            kind="deal.changed",
            data=changes.event_data(currency=deal.currency),
        )
        if reassigned and owner.pk != actor.pk:
            _notify_owner(deal, owner)
    return deal


# --- Stage moves ----------------------------------------------------------------------------


def _moved(old: Stage, new: Stage) -> dict[str, str]:
    return {"from": old.name, "to": new.name, "from_kind": old.kind, "to_kind": new.kind}


def _refused(old: Stage, new: Stage) -> InvalidTransition:
    return InvalidTransition(
        _("A deal cannot move from “%(from)s” to “%(to)s”.") % {"from": old.name, "to": new.name}
    )


EVENT_OF_TRANSITION = {"win": "deal.won", "lose": "deal.lost", "reopen": "deal.reopened"}


def _check_loss_reason(deal: Deal, reason: LossReason | None) -> None:
    """A lost deal names one of the workspace's active loss reasons."""
    if reason is None:
        raise DomainError(_("Choose why the deal was lost."))
    if reason.tenant_id != deal.tenant_id:
        raise DomainError(_("That record belongs to another workspace."))
    if not reason.is_active:
        raise DomainError(_("This loss reason is turned off: choose another one."))


def deal_move(
    *,
    actor: Membership,
    deal: Deal,
    stage: Stage,
    reason: LossReason | None = None,
    amount: Decimal | None = None,
) -> Deal:
    """Move a deal to `stage` of its pipeline: a plain update between stages of one kind,
    otherwise the outcome transition (win, with `amount` when given — a deal at 0 must be
    given one —, lose with `reason` — required: one of the workspace's active loss
    reasons —, reopen).

    Raises InvalidTransition (409) for a move the state machine refuses (won ↔ lost
    directly, winning a deal without a contact or company, another pipeline's stage),
    AmountRequired (409) for winning a deal at 0 without a positive `amount`, DomainError
    for a loss without a valid reason, and AccessDenied without the right.
    """
    if stage.tenant_id != deal.tenant_id:
        raise DomainError(_("That record belongs to another workspace."))
    check_object(deal, actor=actor, action=Action.EDIT)
    if deal.stage_id == stage.pk:
        return deal
    old = deal.stage
    if stage.pipeline_id != deal.pipeline_id:
        raise InvalidTransition(_("The stage belongs to another pipeline."))
    with transaction.atomic():
        name = None
        won_amount = None
        if stage.kind != deal.outcome:
            name = OUTCOME_MOVES.get((deal.outcome, stage.kind))
            if name is None:
                raise _refused(old, stage)
            if name == "lose":
                _check_loss_reason(deal, reason)
            if name == "win":
                won_amount = _won_amount(deal, amount)
            try:
                getattr(deal, name)(stage=stage, reason=reason)
            except TransitionNotAllowed as error:
                if name == "win" and not (deal.contact_id or deal.company_id):
                    raise InvalidTransition(
                        _("Link a contact or a company before winning the deal.")
                    ) from error
                raise _refused(old, stage) from error
            deal.closed_at = None if stage.kind == Outcome.OPEN else timezone.now()
        else:
            deal.stage = stage
        try:
            deal.save()
        except ConcurrentTransition as error:
            raise InvalidTransition(
                _("Someone moved this deal a moment ago: reload and try again.")
            ) from error
        data = _moved(old, stage)
        if won_amount is not None:  # read as a field change (old → new) on the timeline
            data["changes"] = {"amount": [str(won_amount[0]), str(won_amount[1])]}
            data["currency"] = deal.currency
        if name == "lose":
            data["reason"] = reason.name if reason is not None else ""
        timeline_record(
            actor=actor, target=deal, kind=EVENT_OF_TRANSITION.get(name, "deal.moved"), data=data
        )
    return deal


def _won_amount(deal: Deal, amount: Decimal | None) -> tuple[Decimal, Decimal] | None:
    """Set the amount a deal is won with; (old, new) when it changed. A deal at 0 needs one."""
    if amount is not None and amount < 0:
        raise DomainError(_("The amount cannot be negative."))
    if amount is not None and amount > 0 and amount != deal.amount:
        old, deal.amount = deal.amount, amount
        return old, amount
    if deal.amount <= 0:
        raise AmountRequired(_("Enter the deal's amount before marking it won."))
    return None


@dataclass
class BulkResult:
    """What a bulk move did: how many deals moved and which were skipped, with why."""

    done: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)


def deals_bulk_move(
    *, actor: Membership, deals: Iterable[Deal], stage: Stage, reason: LossReason | None = None
) -> BulkResult:
    """Move many deals to `stage`, each through `deal_move` in its own savepoint: a deal
    the actor may not change, or that cannot make the move, is skipped with the reason."""
    result = BulkResult()
    for deal in deals:
        try:
            with transaction.atomic():
                deal_move(actor=actor, deal=deal, stage=stage, reason=reason)
        except (DomainError, AccessDenied) as error:
            result.skipped.append((deal.title, getattr(error, "message", None) or str(error)))
        else:
            result.done += 1
    return result


def deal_activity_add(*, actor: Membership, deal: Deal, **fields: Any) -> Any:
    """Plan or log an activity on a deal."""
    from crm.services import activity_create

    check_object(deal, actor=actor, action=Action.EDIT)
    with transaction.atomic():
        return activity_create(actor=actor, target=deal, **fields)


# --- Pipelines and stages (admin settings) --------------------------------------------------


def _name_taken(names: Iterable[tuple[int, str]], name: str, exclude_pk: int | None) -> bool:
    wanted = name.strip().casefold()
    return any(pk != exclude_pk and existing.casefold() == wanted for pk, existing in names)


def pipeline_save(
    *, actor: Membership, pipeline: Pipeline | None, data: dict[str, Any]
) -> Pipeline:
    """Create a pipeline (with a first open stage and won and lost stages), or rename and
    reorder one."""
    name = data["name"].strip()
    names = Pipeline.objects.values_list("pk", "name")
    if _name_taken(names, name, pipeline.pk if pipeline else None):
        raise DomainError(_("A pipeline with this name already exists."))
    with transaction.atomic():
        if pipeline is None:
            pipeline = Pipeline.objects.create(
                name=name,
                position=data.get("position") or 0,
                is_default=not Pipeline.objects.exists(),
            )
            _add_stages(actor.tenant, pipeline, NEW_PIPELINE_STAGES)
            kind = "pipeline.created"
        else:
            pipeline.name, pipeline.position = name, data.get("position") or 0
            pipeline.save(update_fields=["name", "position", "updated_at"])
            kind = "pipeline.changed"
        timeline_record(actor=actor, target=pipeline, kind=kind, data={"pipeline": name})
    return pipeline


def pipeline_make_default(*, actor: Membership, pipeline: Pipeline) -> None:
    """Make `pipeline` the one new deals go to."""
    with transaction.atomic():
        Pipeline.objects.filter(is_default=True).update(is_default=False)
        Pipeline.objects.filter(pk=pipeline.pk).update(is_default=True)
        timeline_record(
            actor=actor, target=pipeline, kind="pipeline.default", data={"pipeline": pipeline.name}
        )


def pipeline_delete(
    *, actor: Membership, pipeline: Pipeline, replacement: Pipeline | None = None
) -> int:
    """Delete a pipeline; its deals (if any) move to `replacement`, each to the first stage
    there of its own kind. The default pipeline stays. Returns how many deals moved."""
    if pipeline.is_default:
        raise DomainError(_("Make another pipeline the default first."))
    deals = Deal.objects.filter(pipeline=pipeline)
    with transaction.atomic():
        moved = 0
        if deals.exists():
            if replacement is None or replacement.pk == pipeline.pk:
                raise DomainError(_("Choose another pipeline to move the deals to."))
            _check_same_tenant(pipeline, replacement)
            for kind in Outcome.values:
                ids = list(deals.filter(outcome=kind).values_list("pk", flat=True))
                if not ids:
                    continue
                target = first_stage(replacement, kind)
                Deal.objects.filter(pk__in=ids).update(
                    pipeline=replacement, stage=target, updated_at=timezone.now()
                )
                timeline_record_many(
                    actor=actor,
                    model=Deal,
                    target_ids=ids,
                    kind="deal.moved",
                    data={"from": pipeline.name, "to": f"{replacement.name}: {target.name}"},
                )
                moved += len(ids)
        timeline_record(
            actor=actor,
            target=pipeline,
            kind="pipeline.deleted",
            data={"pipeline": pipeline.name, "moved": moved},
        )
        pipeline.delete()
    return moved


def stage_save(
    *, actor: Membership, pipeline: Pipeline, stage: Stage | None, data: dict[str, Any]
) -> Stage:
    """Create a stage in `pipeline`, or rename, recolour, reorder or re-weigh one. Its kind
    may change only while no deal uses it and its pipeline keeps a stage of the old kind."""
    name = data["name"].strip()
    names = Stage.objects.filter(pipeline=pipeline).values_list("pk", "name")
    if _name_taken(names, name, stage.pk if stage else None):
        raise DomainError(_("A stage with this name already exists in this pipeline."))
    fields = {
        "name": name,
        "color": data["color"],
        "position": data.get("position") or 0,
        "probability": data.get("probability") or 0,
    }
    with transaction.atomic():
        if stage is None:
            stage = Stage.objects.create(pipeline=pipeline, kind=data["kind"], **fields)
            kind = "stage.created"
        else:
            new_kind = data.get("kind") or stage.kind
            if new_kind != stage.kind:
                if Deal.objects.filter(stage=stage).exists():
                    raise DomainError(
                        _("Deals use this stage, so its kind cannot change: add a new stage.")
                    )
                if not pipeline.stages.filter(kind=stage.kind).exclude(pk=stage.pk).exists():
                    raise DomainError(_("A pipeline keeps at least one stage of each kind."))
            for field, value in fields.items():
                setattr(stage, field, value)
            stage.kind = new_kind
            stage.save(update_fields=[*fields, "kind", "updated_at"])
            kind = "stage.changed"
        timeline_record(
            actor=actor, target=stage, kind=kind, data={"stage": name, "pipeline": pipeline.name}
        )
    return stage


def stage_delete(*, actor: Membership, stage: Stage, replacement: Stage) -> int:
    """Delete a stage, moving its deals to `replacement` (same pipeline, same kind);
    returns how many moved."""
    if replacement.tenant_id != stage.tenant_id or replacement.pk == stage.pk:
        raise DomainError(_("Choose another stage to move the deals to."))
    if replacement.pipeline_id != stage.pipeline_id or replacement.kind != stage.kind:
        raise DomainError(_("Deals can only move to a stage of the same pipeline and kind."))
    with transaction.atomic():
        moved_ids = list(Deal.objects.filter(stage=stage).values_list("pk", flat=True))
        Deal.objects.filter(pk__in=moved_ids).update(stage=replacement, updated_at=timezone.now())
        timeline_record_many(
            actor=actor,
            model=Deal,
            target_ids=moved_ids,
            kind="deal.moved",
            data=_moved(stage, replacement),
        )
        timeline_record(
            actor=actor,
            target=stage.pipeline,
            kind="stage.deleted",
            data={"stage": stage.name, "moved": len(moved_ids), "to": replacement.name},
        )
        stage.delete()
    return len(moved_ids)


# --- Loss reasons (admin settings) -----------------------------------------------------------


def _check_settings(actor: Membership) -> None:
    if not has_right(actor, TenantRight.SETTINGS):
        raise AccessDenied(_("Your role does not give access to this page."))


def loss_reason_save(
    *, actor: Membership, reason: LossReason | None, data: dict[str, Any]
) -> LossReason:
    """Add a loss reason (at the end of the list) or rename one; names are unique in the
    workspace whatever their case. Raises AccessDenied without the settings right."""
    _check_settings(actor)
    name = " ".join(str(data.get("name", "")).split())
    if not name:
        raise DomainError(_("Give the reason a name."))
    names = LossReason.objects.values_list("pk", "name")
    if _name_taken(names, name, reason.pk if reason else None):
        raise DomainError(_("A loss reason with this name already exists."))
    with transaction.atomic():
        if reason is None:
            last = LossReason.objects.order_by("-position").values_list("position", flat=True)
            reason = LossReason.objects.create(name=name, position=(last.first() or 0) + 1)
            kind, event = "loss_reason.created", {"reason": name}
        else:
            event = {"reason": name, "from": reason.name}
            reason.name = name
            reason.save(update_fields=["name", "updated_at"])
            kind = "loss_reason.changed"
        timeline_record(actor=actor, target=reason, kind=kind, data=event)
    return reason


def loss_reason_move(*, actor: Membership, reason: LossReason, up: bool) -> None:
    """Swap the reason with its neighbour above (`up`) or below; the order is renumbered."""
    _check_settings(actor)
    with transaction.atomic():
        if not move_one_step(LossReason.objects.all(), reason, up=up):
            return
        timeline_record(
            actor=actor, target=reason, kind="loss_reason.moved", data={"reason": reason.name}
        )


def loss_reason_set_active(*, actor: Membership, reason: LossReason, active: bool) -> None:
    """Offer a reason again, or stop offering it (its deals and the reports keep it). The
    last active reason stays: a lost deal must have one to choose."""
    _check_settings(actor)
    if reason.is_active == active:
        return
    if not active and not LossReason.objects.filter(is_active=True).exclude(pk=reason.pk).exists():
        raise DomainError(_("Keep at least one loss reason on: a lost deal needs one."))
    with transaction.atomic():
        reason.is_active = active
        reason.save(update_fields=["is_active", "updated_at"])
        kind = "loss_reason.activated" if active else "loss_reason.deactivated"
        timeline_record(actor=actor, target=reason, kind=kind, data={"reason": reason.name})


# --- Many at once (an import) -------------------------------------------------------------


def deals_bulk_create(
    *,
    actor: Membership,
    deals: list[Deal],
    created: dict[int, Any],
    notes: dict[int, str],
    event: dict[str, Any],
) -> None:
    """Save new deals at once (an import): titled and priced as deal_create does, a deal in
    a won or lost stage closed (at its `closed_at`, else its creation), each with a
    "deal.imported" timeline entry; `created`: the creation moment of some (by index),
    kept instead of now; `notes`: a comment of some (by index), kept as a done note."""
    if not deals:
        return
    for deal in deals:
        deal.title = (deal.title or "").strip()[:200] or _title_for(
            {"company": deal.company, "contact": deal.contact}
        )
        deal.currency = deal.currency or actor.tenant.currency
    now = timezone.now()
    for index, deal in enumerate(deals):
        deal.created_at = created.get(index) or now
        deal.keep_created_at = True
        if deal.outcome != Outcome.OPEN and deal.closed_at is None:
            deal.closed_at = deal.created_at
    insert_many(Deal, deals)
    if notes:
        content_type = ContentType.objects.get_for_model(Deal)
        Activity.objects.bulk_create(
            Activity(
                tenant=actor.tenant,
                target_type=content_type,
                target_id=deals[index].pk,
                kind=Activity.Kind.NOTE,
                subject=text.splitlines()[0][:200],
                note=text,
                owner=deals[index].owner,
                created_by=actor,
                done_at=now,
            )
            for index, text in notes.items()
        )
    timeline_record_many(
        actor=actor, model=Deal, target_ids=[d.pk for d in deals], kind="deal.imported", data=event
    )


def deals_bulk_update(
    *,
    actor: Membership,
    deals: list[Deal],
    fields: set[str],
    event: dict[str, Any],
    kind: str = "import_updated",
) -> None:
    """Save changed fields of several deals at once (an import's merge or its undo), one
    "deal.<kind>" timeline entry each."""
    if not deals:
        return
    Deal.objects.bulk_update(deals, sorted(set(fields) | {"updated_at"}), batch_size=500)
    timeline_record_many(
        actor=actor, model=Deal, target_ids=[d.pk for d in deals], kind=f"deal.{kind}", data=event
    )
