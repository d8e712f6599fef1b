"""Read queries for leads: scoped lists, the inbox, the card, statuses."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cached_property
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import EmptyResultSet
from django.db import connection, connections
from django.db.models import OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.expressions import RawSQL
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.models import Contact, MatchKey, Party
from contacts.normalize import DIGITS, email_key, phone_e164
from contacts.selectors import merged_ids, owner_field, party_keys
from contacts.services import MESSENGERS, spec_of
from crm import keyset, nextactivity
from crm.access import Action, Entity, Scope, can, owner_scope, scope_for, scope_queryset
from crm.filters import SharedChoices
from crm.keyset import Page
from crm.models import Membership, TimelineEvent
from crm.nextactivity import NextActivity
from crm.selectors import assignable_members
from crm.tenancy import current_tenant
from crm.text import clean_line
from leads.frameworks import FRAMEWORKS, answers_of, completeness
from leads.models import (
    OPEN_STATES,
    STATE_MOVES,
    Lead,
    LeadEvent,
    LeadSource,
    LeadState,
    LeadStatus,
    LeadWord,
    Level,
    ScoringRule,
    ScoringSettings,
)
from leads.scoring import event_label, matrix_cell
from leads.words import MIN_WORD, prefix_range, query_words


def lead_base() -> QuerySet[Lead]:
    """Leads not in the trash, with what list rows show."""
    return Lead.objects.filter(deleted_at=None).select_related("status", "owner__user")


def lead_list(
    *,
    actor: Membership,
    archived: bool = False,
    with_archived: bool = False,
    postponed: bool | None = False,
) -> QuerySet[Lead]:
    """Every lead the actor may view: the live ones, or with `archived` the archived ones
    (junk, out of the lists: read by the state index), or with `with_archived` both (what
    a report counts, postponed or not). Postponed leads are out of the live ones; with
    `postponed` only they, with `postponed=None` they too (a search finds them)."""
    if archived:
        base = lead_base().filter(state=LeadState.JUNK).exclude(archived_at=None)
    elif with_archived:
        base = lead_base()
    else:
        base = lead_base().filter(archived_at=None)
        if postponed:
            base = base.filter(postponed_until__isnull=False)
        elif postponed is not None:
            base = base.filter(postponed_until=None)
    return scope_queryset(base, actor=actor, action=Action.VIEW)


def lead_selected(*, actor: Membership, ids: list[int]) -> QuerySet[Lead]:
    """The leads among `ids` the actor may view, archived or not (a bulk action's)."""
    return scope_queryset(lead_base(), actor=actor, action=Action.VIEW).filter(pk__in=ids)


def inbox_base() -> QuerySet[Lead]:
    """Leads that may appear in an inbox (filters apply to this before it is split): not
    archived, not postponed."""
    return lead_base().filter(archived_at=None, postponed_until=None)


def inbox_parts(queryset: QuerySet[Lead], *, actor: Membership) -> list[QuerySet[Lead]]:
    """The inbox as index-ordered parts: my new, my in-progress, and unassigned new leads.

    Every member who may view leads sees all three (own leads, and the shared pool), so no
    scope join is needed; each part walks the (tenant, owner, state, created_at) index.
    """
    return [
        queryset.filter(owner=actor, state=LeadState.NEW),
        queryset.filter(owner=actor, state=LeadState.IN_PROGRESS),
        queryset.filter(owner__isnull=True, state=LeadState.NEW),
    ]


def visible_parts(queryset: QuerySet[Lead], *, actor: Membership) -> list[QuerySet[Lead]]:
    """A list of someone who sees only some owners' leads (a manager: own and unassigned),
    as index-ordered parts, one per owner plus the unassigned ones, merged by keyset
    (crm.keyset.page_of_parts): a walk of the whole tenant's index would skip the rows of
    everyone else to find theirs. One query for the team's members."""
    scope = owner_scope(actor=actor, entity=Entity.LEAD, action=Action.VIEW)
    if scope is None:
        return [queryset]
    parts = [queryset.filter(owner_id=owner_id) for owner_id in scope.owner_ids]
    if scope.unassigned:
        parts.append(queryset.filter(owner__isnull=True))
    return parts


def inbox(*, actor: Membership) -> QuerySet[Lead]:
    """The inbox as one queryset (for polling and other sorts): the parts, OR-ed."""
    return inbox_base().filter(
        Q(state__in=OPEN_STATES, owner=actor) | Q(state=LeadState.NEW, owner__isnull=True)
    )


def lead_get_for_user(*, actor: Membership, lead_id: int) -> Lead:
    """A lead the actor may view, or 404 (the same for "missing" and "not yours")."""
    lead = (
        scope_queryset(Lead.objects.filter(deleted_at=None), actor=actor, action=Action.VIEW)
        .select_related(
            "status", "owner__user", "owner__team", "created_by__user", "contact", "company", "deal"
        )
        .filter(pk=lead_id)
        .first()
    )
    if lead is None:
        raise Http404
    return lead


# How long after a lead leaves the shared inbox a late "Take" is told who took it.
TAKE_RACE_WINDOW = timedelta(minutes=10)


def lead_get_for_take(*, actor: Membership, lead_id: int) -> Lead:
    """The lead behind a "Take" button: one the actor may view, or one that left the shared
    inbox (taken, or assigned from it) within TAKE_RACE_WINDOW, so the loser of the race is
    told who won (leads.services.lead_take) instead of getting a 404. Everyone who may take
    saw it in the shared inbox a moment ago; a lead that left it earlier is a 404, so
    pressing Take on old ids tells nobody who owns what."""
    try:
        return lead_get_for_user(actor=actor, lead_id=lead_id)
    except Http404:
        pass
    lead = Lead.objects.filter(pk=lead_id, deleted_at=None, owner__isnull=False).first()
    if lead is None or not _left_shared_inbox(lead):
        raise Http404
    return lead


def _left_shared_inbox(lead: Lead) -> bool:
    """Whether the lead was unassigned and then taken or given to someone just now."""
    from crm.selectors import timeline_for

    return (
        timeline_for(target=lead)
        .filter(Q(kind="lead.taken") | Q(kind="lead.assigned", data__from=""))
        .filter(created_at__gte=timezone.now() - TAKE_RACE_WINDOW)
        .exists()
    )


def lead_trash(*, actor: Membership) -> QuerySet[Lead]:
    """Deleted leads the actor may delete (and so restore), most recently deleted first."""
    deleted = Lead.objects.exclude(deleted_at=None).select_related("status", "owner__user")
    return scope_queryset(deleted, actor=actor, action=Action.DELETE).order_by("-deleted_at")


def lead_in_trash(*, actor: Membership, lead_id: int) -> Lead:
    lead = lead_trash(actor=actor).filter(pk=lead_id).first()
    if lead is None:
        raise Http404
    return lead


# A name search takes at most this many of the newest matching leads (then the list's
# filters and pagination apply to them); the list says so when there were more.
SEARCH_MATCHES = 1000


@dataclass(frozen=True)
class Search:
    """A searched queryset, and whether the name matches were cut at SEARCH_MATCHES."""

    rows: QuerySet[Lead]
    capped: bool = False


def search(queryset: QuerySet[Lead], query: str, *, region: str, actor: Membership) -> Search:
    """Leads matching a phone in any format, an e-mail, or the beginnings of words of the
    title, name and company (`name_matches`); invisible characters in the query are ignored."""
    query = clean_line(query)
    if not query:
        return Search(queryset)
    if "@" in query:
        return Search(queryset.filter(email_key=email_key(query)))
    digits = "".join(DIGITS.findall(query))
    if len(digits) >= 5 and len(digits) >= len(query.replace(" ", "")) * 0.6:
        e164 = phone_e164(query, region)
        if e164:
            return Search(queryset.filter(phone_e164=e164))
        return Search(queryset.filter(phone_e164__contains=digits))
    ids, capped = name_matches(query, actor=actor)
    return Search(queryset.filter(pk__in=ids), capped=capped)


def name_matches(query: str, *, actor: Membership) -> tuple[list[int], bool]:
    """Ids of the newest SEARCH_MATCHES leads the actor may view in which every word of the
    query begins a word of the title, name or company (case and ё aside); and whether there
    were more. Read from the LeadWord indexes alone: the rarest query word's range, the
    other words as lookups in the lead's own words, one query per visibility branch (the
    manager's own and team leads, the unassigned ones) so each stays in its index."""
    words = query_words(query)
    if not words or len(words[0]) < MIN_WORD:
        return [], False
    if len(words) > 1:
        words.sort(key=_word_frequency)  # the rarest word reads its range, the others probe
    scope = owner_scope(actor=actor, entity=Entity.LEAD, action=Action.VIEW)
    limit = SEARCH_MATCHES + 1
    if scope is None and connection.vendor == "postgresql":
        keys = set(_newest_by_word(words, tenant_id=actor.tenant_id, limit=limit))
    else:
        low, high = prefix_range(words[0])
        entries = LeadWord.objects.filter(word__gte=low, word__lt=high)
        for n, word in enumerate(words[1:]):
            low, high = prefix_range(word)
            # A scalar subquery, not EXISTS: PostgreSQL would turn EXISTS into a join that
            # reads this word's whole range; this is one index probe per candidate.
            also = LeadWord.objects.filter(lead=OuterRef("lead"), word__gte=low, word__lt=high)
            entries = entries.alias(**{f"also{n}": Subquery(also.values("lead")[:1])}).filter(
                **{f"also{n}__isnull": False}
            )
        branches = [entries] if scope is None else []
        if scope is not None and scope.owner_ids:
            branches.append(entries.filter(owner_id__in=scope.owner_ids))
        if scope is not None and scope.unassigned:
            branches.append(entries.filter(owner__isnull=True))
        keys = set()
        for branch in branches:
            newest = branch.order_by("-created_at", "-lead_id").values_list("created_at", "lead_id")
            keys.update(newest.distinct()[:limit])
    ranked = sorted(keys, reverse=True)
    return [pk for _created, pk in ranked[:SEARCH_MATCHES]], len(ranked) > SEARCH_MATCHES


# Entries counted at most, per query word, to find the rarest of several.
FREQUENCY_PROBE = 100_000


def _word_frequency(word: str) -> int:
    """How many words of the tenant start with `word`, up to FREQUENCY_PROBE (one
    index-only query). Single letters count as the most frequent."""
    if len(word) < MIN_WORD:
        return FREQUENCY_PROBE + 1
    low, high = prefix_range(word)
    return LeadWord.objects.filter(word__gte=low, word__lt=high)[:FREQUENCY_PROBE].count()


# A common prefix (ИВАН: 827k words at 10M leads) is a few frequent words (ИВАНОВИЧ, ИВАНОВНА,
# ИВАН…): list the prefix's distinct words with a skip scan, take each word's newest entries
# in index order, merge. Measured at 10M for the whole tenant: 6 ms instead of 221 ms for
# reading and sorting the range. (PostgreSQL: SQLite has no LATERAL.)
_NEWEST_BY_WORD = """
WITH RECURSIVE words(word) AS (
    (SELECT word FROM leads_leadword
     WHERE tenant_id = %(tenant)s AND word >= %(low)s AND word < %(high)s ORDER BY word LIMIT 1)
    UNION ALL
    SELECT (SELECT w.word FROM leads_leadword w
            WHERE w.tenant_id = %(tenant)s AND w.word > words.word AND w.word < %(high)s
            ORDER BY w.word LIMIT 1)
    FROM words WHERE words.word IS NOT NULL
)
SELECT DISTINCT e.created_at, e.lead_id FROM words CROSS JOIN LATERAL (
    SELECT x.created_at, x.lead_id FROM leads_leadword x
    WHERE x.tenant_id = %(tenant)s AND x.word = words.word{others}
    ORDER BY x.created_at DESC LIMIT %(limit)s
) e
ORDER BY e.created_at DESC, e.lead_id DESC LIMIT %(limit)s
"""
_ALSO_WORD = """
      AND (SELECT y.lead_id FROM leads_leadword y WHERE y.tenant_id = %(tenant)s
           AND y.lead_id = x.lead_id AND y.word >= %(low{n})s AND y.word < %(high{n})s
           LIMIT 1) IS NOT NULL"""


def _newest_by_word(words: list[str], *, tenant_id: int, limit: int) -> list[tuple[datetime, int]]:
    """(created_at, lead id) of the newest `limit` leads of the tenant with a word starting
    with words[0] and words starting with each of the others."""
    low, high = prefix_range(words[0])
    params: dict[str, object] = {"tenant": tenant_id, "low": low, "high": high, "limit": limit}
    for n, word in enumerate(words[1:]):
        params[f"low{n}"], params[f"high{n}"] = prefix_range(word)
    others = "".join(_ALSO_WORD.format(n=n) for n in range(len(words) - 1))
    with connection.cursor() as cursor:
        cursor.execute(_NEWEST_BY_WORD.format(others=others), params)
        return cursor.fetchall()


@dataclass(frozen=True, slots=True)
class LeadRow:
    """What a list row shows of a lead (leads/rows.py), read as plain values: a page of
    fifty Lead instances with their status, owner and user cost 2 ms more to build."""

    pk: int
    created_at: datetime
    title: str
    company_name: str
    name: str
    phone: str
    email: str
    source: str
    amount: Decimal
    state: str
    contact_id: int | None  # a repeat lead (linked to a known contact) has a badge
    temperature: str
    level: str
    unread_messages: int  # the conversation (channels.Message): unread, waiting since
    waiting_since: datetime | None
    owner_id: int | None
    owner_name: str
    status_name: str
    status_color: str
    next_activity: NextActivity | None = None  # the earliest open activity (crm.nextactivity)


# The lead's own columns of a row, then its owner's and status's.
_LEAD_VALUES = (
    *("pk", "created_at", "title", "company_name", "name", "phone", "email", "source", "amount"),
    *("state", "contact_id", "temperature", "level", "unread_messages", "waiting_since"),
)
_ROW_VALUES = (
    *_LEAD_VALUES,
    *("owner_id", "owner__user__full_name", "owner__user__email", "status__name", "status__color"),
)


def _row(values: tuple) -> LeadRow:
    *lead, owner_id, full_name, email, status_name, status_color, upcoming = values
    return LeadRow(
        *lead,
        owner_id,
        full_name or email or "",
        status_name,
        status_color,
        nextactivity.parse(upcoming),
    )


def row_values(queryset: QuerySet[Lead]) -> list[LeadRow]:
    """The list rows of a (sliced) queryset of leads, in its order, each with its next
    activity (a subquery of the same statement)."""
    annotated = queryset.annotate(upcoming=nextactivity.next_activity(Lead))
    return [_row(values) for values in annotated.values_list(*_ROW_VALUES, "upcoming")]


def row_of(lead: Lead) -> LeadRow:
    """The list row of a lead loaded with its status and owner's user (and its next
    activity: one query)."""
    owner = lead.owner.user if lead.owner_id else None
    upcoming = (
        Lead.objects.filter(pk=lead.pk)
        .annotate(upcoming=nextactivity.next_activity(Lead))
        .values_list("upcoming", flat=True)
        .first()
    )
    return LeadRow(
        *(getattr(lead, name) for name in _LEAD_VALUES),
        lead.owner_id,
        str(owner) if owner else "",
        lead.status.name,
        lead.status.color,
        nextactivity.parse(upcoming),
    )


def lead_rows(ids: list[int]) -> dict[int, LeadRow]:
    """The rows of a list page by id."""
    return {row.pk: row for row in row_values(Lead.objects.filter(deleted_at=None, pk__in=ids))}


SOURCE_COUNT_CAP = 1000


@dataclass(frozen=True)
class SourceCount:
    source: str
    label: str
    count: int
    at_least: bool  # the part was capped: the true count may be higher


class ListParts:
    """A lead list read as index-ordered parts (`inbox_parts`, `visible_parts`, or one
    queryset), newest first by keyset. Each part is compiled to SQL once: the first page
    and the inbox's source counts are two statements over the same parts. `sources`: the
    parts select the source too (their indexes include it: the inbox's)."""

    def __init__(self, parts: list[QuerySet[Lead]], *, sources: bool = False) -> None:
        self.parts = parts
        self.columns = ("created_at", "id", "source") if sources else ("created_at", "id")

    @cached_property
    def _from_start(self) -> list[keyset.PartSQL]:
        return self._sql(None)

    def _sql(self, cursor: str | None) -> list[keyset.PartSQL]:
        compiled = (keyset.part_sql(part, cursor, *self.columns) for part in self.parts)
        return [part for part in compiled if part is not None]

    def page(self, cursor: str | None) -> Page:
        """The page after `cursor`: its keys in one statement, then its rows by id."""
        parts = self._sql(cursor) if cursor else self._from_start
        return keyset.page_of_sql_parts(parts, lead_rows)

    def source_counts(self, cap: int = SOURCE_COUNT_CAP) -> list[SourceCount]:
        """Leads per source over the parts, counting at most the newest `cap` of each
        (a shared inbox backlog of 100k leads must not be counted on every page view):
        an index-only read of the parts' partial indexes, one statement for all parts."""
        statements, params = [], []
        for n, part in enumerate(self._from_start):
            newest = f"{part.sql} LIMIT {int(cap)}"
            statements.append(
                f"SELECT {n}, source, COUNT(*) FROM ({newest}) AS part{n} GROUP BY source"  # noqa: S608 - ORM SQL, values are params
            )
            params += part.params
        if not statements:
            return []
        with connections[self._from_start[0].using].cursor() as cursor:
            cursor.execute(" UNION ALL ".join(statements), params)
            rows = cursor.fetchall()
        totals: Counter[str] = Counter()
        per_part: Counter[int] = Counter()
        for n, source, count in rows:
            totals[source] += count
            per_part[n] += count
        capped = any(count >= cap for count in per_part.values())
        labels = dict(LeadSource.choices)
        return [
            SourceCount(source, labels.get(source, source), n, capped)
            for source, n in totals.most_common()
        ]


def statuses() -> QuerySet[LeadStatus]:
    """The tenant's statuses in board order (a handful of rows; no counting)."""
    return LeadStatus.objects.order_by("position", "pk")


STATUS_COUNT_CAP = 10_000


def status_list_with_counts(cap: int = STATUS_COUNT_CAP) -> QuerySet[LeadStatus]:
    """Statuses with how many live leads each holds, counted up to `cap` (a status of a
    million leads shows "10000+": counting them all took a second per page view)."""
    capped_count = RawSQL(
        "SELECT COUNT(*) FROM (SELECT 1 FROM leads_lead WHERE leads_lead.status_id ="
        " leads_leadstatus.id AND leads_lead.deleted_at IS NULL LIMIT %s) AS capped",
        [cap + 1],
    )
    return statuses().annotate(lead_count=capped_count, count_cap=Value(cap))


def status_get(*, status_id: int) -> LeadStatus:
    status = LeadStatus.objects.filter(pk=status_id).first()
    if status is None:
        raise Http404
    return status


def owners_for(*, actor: Membership) -> QuerySet[Membership]:
    """Whom the actor may give leads to (leads.services._check_owner's rule): anyone with
    the edit scope "all", the own team with "team", only themselves with "own"."""
    scope = scope_for(actor, Entity.LEAD, Action.EDIT)
    members = assignable_members()
    if scope == Scope.ALL:
        return members
    if scope == Scope.TEAM and actor.team_id is not None:
        return members.filter(Q(team_id=actor.team_id) | Q(pk=actor.pk))
    return members.filter(pk=actor.pk)


class LeadChoices(SharedChoices):
    """The shared options of a lead list page, with the tenant's statuses."""

    @cached_property
    def statuses(self) -> list[tuple[int, str]]:
        return list(statuses().values_list("pk", "name"))


def allowed_status_ids(lead: Lead, statuses: list[LeadStatus]) -> set[int]:
    """Statuses the lead may move to from where it is (the status bar, kanban drop targets)."""
    return {
        s.pk
        for s in statuses
        if s.pk != lead.status_id
        and s.state != LeadState.CONVERTED
        and (s.state == lead.state or (lead.state, s.state) in STATE_MOVES)
    }


def likely_duplicates(lead: Lead, *, actor: Membership, limit: int = 10) -> list[Lead]:
    """Other leads the actor may see with the same phone (E.164), e-mail or messenger handle."""
    keys = Q()
    if lead.phone_e164:
        keys |= Q(phone_e164=lead.phone_e164)
    if lead.email_key:
        keys |= Q(email_key=lead.email_key)
    if lead.messenger_id:
        keys |= Q(messenger=lead.messenger, messenger_id=lead.messenger_id)
    if not keys:
        return []
    visible = scope_queryset(lead_base().filter(keys), actor=actor, action=Action.VIEW)
    return list(visible.exclude(pk=lead.pk).order_by("-created_at")[:limit])


def lead_activity_get(*, lead: Lead, activity_id: int):
    """An activity of this lead, or 404."""
    from crm.selectors import activities_for

    activity = activities_for(target=lead).filter(pk=activity_id).first()
    if activity is None:
        raise Http404
    return activity


BOARD_CARDS = 30
BOARD_CLOSED_DAYS = 30


@dataclass(frozen=True)
class Column:
    """One kanban column: a status, its card count and amount total, its newest cards.
    A closed column (converted, junk) is `collapsed`: a drop zone with its count, no cards."""

    status: LeadStatus
    count: int
    total: Decimal
    cards: list[Lead]
    at_least: bool = False  # counted up to BOARD_COUNT_CAP: there may be more

    @property
    def collapsed(self) -> bool:
        return self.status.state not in OPEN_STATES


# A board column counts at most this many leads of each visibility part (the shared pool of
# a big workspace holds tens of thousands of new leads): a capped column says "1000+".
BOARD_COUNT_CAP = 1000


def board(
    *,
    rows: QuerySet[Lead],
    statuses: list[LeadStatus],
    actor: Membership,
    since_closed: datetime,
    cap: int = BOARD_COUNT_CAP,
) -> list[Column]:
    """The lead board over `rows` (the actor's live leads, filtered): a column per status
    with its count and sum and, for the open statuses, the newest cards with their next
    activity. Closed columns (converted, junk) count the leads closed since `since_closed`
    and show no cards.

    Read as index-ordered parts (`visible_parts`: one per owner the actor sees, the pool),
    as the lists are: the cards' keys are one `UNION ALL` statement of each part's and open
    state's newest BOARD_SCAN leads (BOARD_CARDS kept per status); the counts another, of
    each part's open leads and those
    closed lately (leads_owner_closed), each counted up to `cap`; then the cards by id with
    their next activity. Three statements whatever the number of leads and activities."""
    parts = visible_parts(rows, actor=actor)
    if len(parts) == 1 and owner_scope(actor=actor, entity=Entity.LEAD, action=Action.VIEW) is None:
        # Everyone's leads: closed ones per owner, each walking leads_owner_closed.
        owners = [None, *Membership.objects.values_list("pk", flat=True)]
        closed_parts = [
            rows.filter(owner__isnull=True) if o is None else rows.filter(owner_id=o)
            for o in owners
        ]
    else:
        closed_parts = parts
    open_states = sorted({s.state for s in statuses if s.state in OPEN_STATES})
    cards_sql = [
        keyset.part_sql(part.filter(state=state), None, "status_id", "created_at", "id")
        for part in parts
        for state in open_states
    ]
    count_sql = [_count_sql(part.filter(state__in=OPEN_STATES)) for part in parts] + [
        _count_sql(part.filter(state__in=CLOSED_STATES, closed_at__gte=since_closed))
        for part in closed_parts
    ]
    totals, capped = _board_counts([c for c in count_sql if c is not None], cap)
    shown = _board_card_ids([c for c in cards_sql if c is not None])
    cards: dict[int, list[Lead]] = {}
    if shown:
        found = _with_card_data(lead_base().filter(pk__in=shown))
        for lead in found.order_by("status_id", "-created_at", "-pk"):
            lead.next_activity = nextactivity.parse(lead.upcoming)
            cards.setdefault(lead.status_id, []).append(lead)
    return [
        Column(
            status=s,
            count=totals.get(s.pk, (0, Decimal("0")))[0],
            total=totals.get(s.pk, (0, Decimal("0")))[1],
            cards=cards.get(s.pk, []),
            at_least=s.pk in capped,
        )
        for s in statuses
    ]


CLOSED_STATES = (LeadState.CONVERTED, LeadState.JUNK)


def _count_sql(part: QuerySet[Lead]) -> keyset.PartSQL | None:
    """A part's (status, amount) rows, unordered, as SQL (None: it matches nothing)."""
    values = part.order_by().values_list("status_id", "amount")
    try:
        sql, params = values.query.get_compiler(using=values.db).as_sql()
    except EmptyResultSet:
        return None
    return keyset.PartSQL(sql, tuple(params), values.db)


def _board_counts(
    parts: list[keyset.PartSQL], cap: int
) -> tuple[dict[int, tuple[int, Decimal]], set[int]]:
    """Count and amount per status over the parts, each part read up to `cap` rows (one
    statement); and the statuses whose count may be higher (a part reached the cap)."""
    if not parts:
        return {}, set()
    union = " UNION ALL ".join(
        f"SELECT {n}, status_id, COUNT(*), SUM(amount) FROM ({part.sql} LIMIT {int(cap)})"  # noqa: S608 - ORM SQL, values are params
        f" AS part{n} GROUP BY status_id"
        for n, part in enumerate(parts)
    )
    with connections[parts[0].using].cursor() as cursor:
        cursor.execute(union, [param for part in parts for param in part.params])
        rows = cursor.fetchall()
    per_part: Counter[int] = Counter()
    for n, _status, count, _amount in rows:
        per_part[n] += count
    totals: dict[int, tuple[int, Decimal]] = {}
    capped: set[int] = set()
    for n, status_id, count, amount in rows:
        before = totals.get(status_id, (0, Decimal("0")))
        totals[status_id] = (before[0] + count, before[1] + Decimal(amount or 0))
        if per_part[n] >= cap:
            capped.add(status_id)
    return totals, capped


# The cards of a state's statuses come from its newest BOARD_SCAN leads of each part: a
# status among them gets its newest BOARD_CARDS cards; a rare one (under a tenth of the
# state's leads) may show fewer, and its column links to the list of all.
BOARD_SCAN = 300


def _board_card_ids(parts: list[keyset.PartSQL]) -> list[int]:
    """Ids of the newest BOARD_CARDS leads of each status over the parts (one statement;
    each part is one open state of one owner part, newest first by its index: a walk by
    status as well would need an index per owner and status, or sort a whole status)."""
    if not parts:
        return []
    union = " UNION ALL ".join(
        f"SELECT status_id, created_at, id FROM ({part.sql} LIMIT {BOARD_SCAN})"  # noqa: S608 - ORM SQL, values are params
        f" AS part{n}"
        for n, part in enumerate(parts)
    )
    ranked = (
        "SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY status_id"  # noqa: S608 - ORM SQL, values are params
        f" ORDER BY created_at DESC, id DESC) AS n FROM ({union}) AS keys) AS ranked"
        f" WHERE n <= {BOARD_CARDS}"
    )
    with connections[parts[0].using].cursor() as cursor:
        cursor.execute(ranked, [param for part in parts for param in part.params])
        return [pk for (pk,) in cursor.fetchall()]


def _with_card_data(queryset: QuerySet[Lead]) -> QuerySet[Lead]:
    """Cards with their next activity (a subquery of the same statement) and what can(edit)
    reads (the owner's team)."""
    return queryset.select_related("owner__team").annotate(
        upcoming=nextactivity.next_activity(Lead)
    )


def board_card(*, actor: Membership, lead_id: int) -> Lead:
    """One card of the board (after a drop or a quick action), or 404."""
    lead = _with_card_data(lead_list(actor=actor)).filter(pk=lead_id).first()
    if lead is None:
        raise Http404
    lead.next_activity = nextactivity.parse(lead.upcoming)
    return lead


# --- A contact's or company's leads --------------------------------------------------------

RELATED_LIMIT = 20


def party_timeline(record: Party) -> QuerySet[TimelineEvent]:
    """The record's history with that of the records merged into it (their "merged into"
    events aside: the survivor's own "merged" event tells the same) and of the leads
    converted into it or registered as its repeat inquiries (their "converted" event aside:
    the record's "converted from" tells it), newest first: one story of the client.

    The leads' events are read where they are, in the same query (a subquery on the
    lead's link), not copied at conversion: see docs/decisions/ on the history."""
    content_type = ContentType.objects.get_for_model(type(record))
    merged_in = Q(target_id__in=merged_ids(record)) & ~Q(
        kind=f"{spec_of(record).prefix}.merged_into"
    )
    own = Q(target_id=record.pk) | merged_in
    leads = Lead.objects.filter(**{owner_field(type(record)): record}).values("pk")
    of_leads = Q(target_type=ContentType.objects.get_for_model(Lead), target_id__in=leads) & ~Q(
        kind="lead.converted"
    )
    return TimelineEvent.objects.filter(
        (Q(target_type=content_type) & own) | of_leads
    ).select_related("actor__user")


def party_leads(record: Party, *, actor: Membership) -> list[Lead]:
    """Leads the actor may see that were converted into the record, or carry one of its
    phones, e-mails or messenger handles."""
    match = Q(contact=record) if isinstance(record, Contact) else Q(company=record)
    for kind, value in party_keys(record):
        if kind == MatchKey.Kind.PHONE:
            match |= Q(phone_e164=value)
        elif kind == MatchKey.Kind.EMAIL:
            match |= Q(email_key=value)
        elif kind in MESSENGERS:
            match |= Q(messenger=kind, messenger_id__in=[value, f"@{value}"])
    if isinstance(record, Contact):
        for messenger in MESSENGERS:
            raw = getattr(record, messenger)
            if raw:
                match |= Q(messenger=messenger, messenger_id=raw)
    leads = scope_queryset(lead_base().filter(match), actor=actor, action=Action.VIEW)
    return list(leads.order_by("-created_at")[:RELATED_LIMIT])


# --- Qualification ---------------------------------------------------------------------


def scoring_settings() -> ScoringSettings:
    """The current tenant's qualification settings (the defaults, unsaved, until saved)."""
    found = ScoringSettings.objects.first()
    return found if found is not None else ScoringSettings(tenant=current_tenant())


def scoring_rules(*, enabled_only: bool = True) -> list[ScoringRule]:
    rules = ScoringRule.objects.order_by("position", "pk")
    return list(rules.filter(enabled=True) if enabled_only else rules)


def qualifiers(*, lead: Lead) -> list[Membership]:
    """Active members who may qualify the lead, marketers first: the task's choices."""
    members = (
        Membership.objects.filter(is_active=True, is_system=False)
        .select_related("user", "role")
        .order_by("user__full_name", "user__email")
    )
    found = [m for m in members if can(lead, actor=m, action=Action.QUALIFY)]
    return sorted(found, key=lambda m: m.role.kind != "marketer")


@dataclass(frozen=True)
class Answer:
    key: str
    label: str
    ask: str
    kind: str
    choices: tuple
    value: Any
    shown: str
    error: str = ""


@dataclass(frozen=True)
class Questionnaire:
    key: str
    label: str
    description: str
    answers: tuple[Answer, ...]
    answered: int
    total: int

    @property
    def percent(self) -> int:
        return round(100 * self.answered / self.total) if self.total else 0


PANEL_EVENTS = 10
# How many times the panel asks again for a score the worker is computing (2 s apart).
SCORE_POLLS = 10


def qualification_panel(
    *,
    actor: Membership,
    lead: Lead,
    errors: dict[str, dict[str, str]] | None = None,
    posted: dict[str, dict[str, Any]] | None = None,
    since: datetime | None = None,
    polls: int = SCORE_POLLS,
) -> dict[str, Any]:
    """The card's qualification panel: rights, the score and its parts as computed, the
    matrix cell, the frameworks switched on with their answers (posted values and errors
    of a refused save kept in place), the latest behaviour events. The score is awaited
    (the panel polls, at most `polls` more times) while it was never computed or not since
    a change at `since` queued its recomputation."""
    settings = scoring_settings()
    may_qualify = lead.deleted_at is None and can(lead, actor=actor, action=Action.QUALIFY)
    questionnaires = []
    for framework in FRAMEWORKS.values():
        if not getattr(settings, framework.key):
            continue
        stored = answers_of(lead.qualification, framework.key)
        given = (posted or {}).get(framework.key)
        wrong = (errors or {}).get(framework.key, {})
        rows = []
        for q in framework.questions:
            value = given.get(q.key, "") if given is not None else stored.get(q.key)
            rows.append(
                Answer(
                    q.key,
                    str(q.label),
                    str(q.ask),
                    q.kind,
                    q.choices,
                    "" if value is None else value,
                    q.display(stored.get(q.key)),
                    wrong.get(q.key, ""),
                )
            )
        answered, total = completeness(lead.qualification, framework)
        questionnaires.append(
            Questionnaire(
                framework.key,
                framework.label,
                str(framework.description),
                tuple(rows),
                answered,
                total,
            )
        )
    events = list(
        LeadEvent.objects.filter(lead=lead).order_by("-occurred_at", "-pk")[:PANEL_EVENTS]
    )
    stored = lead.score_parts if isinstance(lead.score_parts, list) else []
    parts = [p for p in stored if isinstance(p, dict)]
    return {
        "may_qualify": may_qualify and lead.state in OPEN_STATES,
        "scoring": settings,
        "score_parts": parts,
        "fit_parts": [p for p in parts if p.get("kind") == "fit"],
        "engagement_parts": [p for p in parts if p.get("kind") == "engagement"],
        "matrix": matrix_cell(lead.fit_score, lead.engagement_score, settings),
        "has_rules": ScoringRule.objects.filter(enabled=True).exists(),
        # Only open leads are scored: a closed one never waits.
        "score_stale": lead.state in OPEN_STATES
        and (lead.scored_at is None or (since is not None and lead.scored_at < since)),
        "score_since": since.isoformat() if since is not None else "",
        "score_polls": polls - 1,
        "questionnaires": questionnaires,
        "lead_events": [(event, event_label(event.name)) for event in events],
        "may_ask_qualify": lead.deleted_at is None
        and lead.state in OPEN_STATES
        and (may_qualify or can(lead, actor=actor, action=Action.EDIT)),
        "levels": [("", _("none")), *Level.choices],
    }
