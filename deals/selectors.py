"""Read queries for deals: scoped lists, the card, the board, pipelines and stages."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, F, Q, QuerySet, Sum, Window
from django.db.models.functions import RowNumber
from django.http import Http404

from contacts.models import Company, Contact, MatchKey
from contacts.normalize import DIGITS, phone_e164
from crm import keyset, nextactivity
from crm.access import Action, scope_queryset
from crm.models import Activity, Membership, TimelineEvent
from deals.models import OUTCOME_MOVES, Deal, LossReason, Outcome, Pipeline, Stage


def deal_base() -> QuerySet[Deal]:
    """Deals with what list rows and cards show."""
    return Deal.objects.select_related(
        "pipeline", "stage", "owner__user", "contact", "company", "loss_reason"
    )


def deal_list(*, actor: Membership) -> QuerySet[Deal]:
    """Every deal the actor may view."""
    return scope_queryset(deal_base(), actor=actor, action=Action.VIEW)


def deal_get_for_user(*, actor: Membership, deal_id: int) -> Deal:
    """A deal the actor may view, or 404 (the same for "missing" and "not yours")."""
    deal = (
        deal_list(actor=actor)
        .select_related("owner__team", "created_by__user", "source_lead")
        .filter(pk=deal_id)
        .first()
    )
    if deal is None:
        raise Http404
    return deal


def deal_timeline(deal: Deal) -> QuerySet[TimelineEvent]:
    """The deal's history with that of the lead it came from (its "converted" event aside:
    the deal's own "converted from" tells it), newest first: one story of the client.

    The lead's events are read where they are, in the same query, not copied at
    conversion (deals do not import leads: the lead model comes from the link)."""
    events = Q(target_type=ContentType.objects.get_for_model(Deal), target_id=deal.pk)
    if deal.source_lead_id:
        lead_model = Deal._meta.get_field("source_lead").related_model
        events |= Q(
            target_type=ContentType.objects.get_for_model(lead_model),
            target_id=deal.source_lead_id,
        ) & ~Q(kind="lead.converted")
    return TimelineEvent.objects.filter(events).select_related("actor__user")


def search(queryset: QuerySet[Deal], query: str, *, region: str) -> QuerySet[Deal]:
    """Deals whose contact has this phone (any format, through the contacts' match keys),
    or whose title contains the text."""
    query = query.strip()
    if not query:
        return queryset
    digits = "".join(DIGITS.findall(query))
    if len(digits) >= 5 and len(digits) >= len(query.replace(" ", "")) * 0.6:
        e164 = phone_e164(query, region)
        if e164:
            contacts = MatchKey.objects.filter(
                kind__in=("phone", "whatsapp"), value=e164, contact__isnull=False
            ).values("contact")
            return queryset.filter(contact__in=contacts)
    return queryset.filter(title__icontains=query)


def with_next_activity(queryset: QuerySet[Deal]) -> QuerySet[Deal]:
    """Deals with their next activity (`upcoming`: a subquery of the same statement; read
    it as `deal.next_activity` after `mark_next`)."""
    return queryset.annotate(upcoming=nextactivity.next_activity(Deal))


def mark_next(deals: Iterable[Deal]) -> None:
    """Set `next_activity` (a crm.nextactivity.NextActivity or None) on deals read with
    `with_next_activity`."""
    for deal in deals:
        deal.next_activity = nextactivity.parse(deal.upcoming)
        deal.key = str(deal.pk)  # a board card writes it a dozen times: no localizing


def page_newest_first(queryset: QuerySet[Deal], cursor: str | None) -> keyset.Page:
    """A keyset page of a filtered list: keys join-free, then the rows by id (with their
    next activity)."""
    base = with_next_activity(deal_base())

    def rows(ids: list[int]) -> dict[int, Deal]:
        found = base.in_bulk(ids)
        mark_next(found.values())
        return found

    return keyset.page_newest_first(queryset.select_related(None), rows, cursor, keyset.PAGE_SIZE)


# --- Pipelines and stages -----------------------------------------------------------------


def pipelines() -> QuerySet[Pipeline]:
    """The tenant's pipelines in menu order."""
    return Pipeline.objects.order_by("position", "pk")


def pipeline_get(*, pipeline_id: int) -> Pipeline:
    pipeline = Pipeline.objects.filter(pk=pipeline_id).first()
    if pipeline is None:
        raise Http404
    return pipeline


def stages(pipeline: Pipeline | None = None) -> QuerySet[Stage]:
    """Stages in board order (of one pipeline, or all grouped by pipeline)."""
    found = Stage.objects.select_related("pipeline")
    if pipeline is not None:
        return found.filter(pipeline=pipeline).order_by("position", "pk")
    return found.order_by("pipeline__position", "pipeline_id", "position", "pk")


def stages_with_counts(pipeline: Pipeline) -> QuerySet[Stage]:
    """A pipeline's stages with how many deals each holds (the settings page only)."""
    return stages(pipeline).annotate(deal_count=Count("deals"))


def stage_get(*, stage_id: int) -> Stage:
    stage = Stage.objects.select_related("pipeline").filter(pk=stage_id).first()
    if stage is None:
        raise Http404
    return stage


# --- Loss reasons ---------------------------------------------------------------------------


def loss_reasons(*, active: bool | None = None) -> QuerySet[LossReason]:
    """The workspace's loss reasons in list order (the active ones: what a loss offers)."""
    found = LossReason.objects.order_by("position", "pk")
    return found if active is None else found.filter(is_active=active)


def loss_reasons_with_counts() -> QuerySet[LossReason]:
    """Every loss reason with how many deals name it (the settings page only)."""
    return loss_reasons().annotate(deal_count=Count("deals"))


def loss_reason_get(*, reason_id: int) -> LossReason:
    reason = LossReason.objects.filter(pk=reason_id).first()
    if reason is None:
        raise Http404
    return reason


def allowed_stage_ids(deal: Deal, stages: list[Stage]) -> set[int]:
    """Stages the deal may move to from where it is (the stage bar, board drop targets)."""
    return {
        s.pk
        for s in stages
        if s.pk != deal.stage_id
        and s.pipeline_id == deal.pipeline_id
        and (s.kind == deal.outcome or (deal.outcome, s.kind) in OUTCOME_MOVES)
    }


def contacts_for_choice() -> QuerySet[Contact]:
    return Contact.objects.filter(deleted_at=None, merged_into=None).order_by(
        "last_name", "first_name", "pk"
    )


def companies_for_choice() -> QuerySet[Company]:
    return Company.objects.filter(deleted_at=None, merged_into=None).order_by("name", "pk")


def deals_of(record: Contact | Company, *, actor: Membership, limit: int = 50) -> list[Deal]:
    """Deals of a contact or company the actor may see, newest first."""
    field = "contact" if isinstance(record, Contact) else "company"
    found = deal_list(actor=actor).filter(**{field: record})
    return list(found.order_by("-created_at", "-pk")[:limit])


def deal_activity_get(*, deal: Deal, activity_id: int) -> Activity:
    """An activity of this deal, or 404."""
    from crm.selectors import activities_for

    activity = activities_for(target=deal).filter(pk=activity_id).first()
    if activity is None:
        raise Http404
    return activity


# --- The board ----------------------------------------------------------------------------

BOARD_CARDS = 30


@dataclass(frozen=True)
class Column:
    """One board column: a stage, its deal count and amount total, its newest cards. A
    closed stage (won, lost) is `collapsed`: a drop zone with its count, no cards."""

    stage: Stage
    count: int
    total: Decimal
    cards: list[Deal]

    @property
    def collapsed(self) -> bool:
        return self.stage.kind != Outcome.OPEN


def board(*, rows: QuerySet[Deal], pipeline: Pipeline, stages: list[Stage]) -> list[Column]:
    """A pipeline's board over `rows` (deal_list, filtered): a column per stage with count,
    sum and, for the open stages, the newest cards with their next activity.

    Two queries whatever the number of deals and activities: the totals, and the cards (the
    newest BOARD_CARDS of each open stage ranked in a subquery, so the next activity is read
    for the shown cards only)."""
    visible = rows.filter(pipeline=pipeline)
    totals: dict[Any, tuple[int, Decimal]] = {
        row["stage_id"]: (row["n"], row["total"] or Decimal("0"))
        for row in visible.order_by()
        .values("stage_id")
        .annotate(n=Count("pk"), total=Sum("amount"))
    }
    ranked = (
        visible.filter(outcome=Outcome.OPEN)
        .select_related(None)
        .order_by()
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("stage_id")],
                order_by=[F("created_at").desc(), F("pk").desc()],
            )
        )
        .filter(rank__lte=BOARD_CARDS)
        .values("pk")
    )
    # owner__team: the board asks can(edit) per card, which reads the owner's team.
    shown = with_next_activity(deal_base().select_related("owner__team").filter(pk__in=ranked))
    cards: dict[int, list[Deal]] = {}
    for deal in shown.order_by("stage_id", "-created_at", "-pk"):
        cards.setdefault(deal.stage_id, []).append(deal)
    mark_next(deal for column in cards.values() for deal in column)
    return [
        Column(
            stage=s,
            count=totals.get(s.pk, (0, Decimal("0")))[0],
            total=totals.get(s.pk, (0, Decimal("0")))[1],
            cards=cards.get(s.pk, []),
        )
        for s in stages
    ]


def board_card(*, actor: Membership, deal_id: int) -> Deal:
    """One card of the board (after a drop or a quick action), or 404."""
    deal = (
        with_next_activity(deal_list(actor=actor).select_related("owner__team"))
        .filter(pk=deal_id)
        .first()
    )
    if deal is None:
        raise Http404
    mark_next([deal])
    return deal
