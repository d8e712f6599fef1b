"""The task page's reads ("Дела"): a member's activities across every kind of record, by
when they are due in the workspace's time zone, and the calendar of calls and meetings.

Activities hang off any owned record (leads, deals, contacts, companies) through a generic
key. The record models are named by label (TARGET_MODELS), so this module imports no app
above crm. A row is shown while its record is live (not in the trash — `deleted_at` — nor
merged away — `merged_into`, where the model has them) and the actor may view it
(crm.access scopes), checked on the few rows read, by primary key (visible_q says why).
Every read keeps a bounded number of queries whatever the number of activities: one or
two a group, one per kind of record for the rows' records.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from crm.access import Action, Entity, OwnedModel, Scope, can, scope_for, scope_queryset
from crm.models import Activity, Membership, Team, Tenant
from crm.modes import has_leads
from crm.periods import day_start, today, week_start

# The records activities hang off (by label: the apps stand above crm), and where each
# opens (its card).
TARGET_MODELS = {
    Entity.LEAD: "leads.Lead",
    Entity.DEAL: "deals.Deal",
    Entity.CONTACT: "contacts.Contact",
    Entity.COMPANY: "contacts.Company",
}
DETAIL_URLS = {
    Entity.LEAD: "leads:detail",
    Entity.DEAL: "deals:detail",
    Entity.CONTACT: "contacts:detail",
    Entity.COMPANY: "companies:detail",
}
# What one record of each kind is called.
KIND_LABELS = {
    Entity.LEAD: _("Lead"),
    Entity.DEAL: _("Deal"),
    Entity.CONTACT: _("Contact"),
    Entity.COMPANY: _("Company"),
}
# Fields that take a record out of use (the trash, a merge): such records' activities leave
# the task page with them.
GONE_FIELDS = ("deleted_at", "merged_into")

GROUP_LIMIT = 50
COUNT_CAP = 99  # a group's count shows "99+" beyond this (a badge, as mail clients do)
DONE_DAYS = 7
CALENDAR_LIMIT = 500
CALENDAR_KINDS = (Activity.Kind.CALL, Activity.Kind.MEETING)
# Kinds the task page lists: a note is a log entry, done when written.
TASK_KINDS = tuple(k for k in Activity.Kind.values if k != Activity.Kind.NOTE)


@dataclass(frozen=True)
class TargetKind:
    """One kind of record activities hang off."""

    entity: str
    model: type[OwnedModel]
    content_type_id: int
    url_name: str

    @property
    def label(self) -> str | Promise:
        return KIND_LABELS.get(self.entity, self.model._meta.verbose_name)

    @property
    def key(self) -> str:
        return str(self.entity)

    @property
    def gone_fields(self) -> list[str]:
        names = {f.name for f in self.model._meta.get_fields()}
        return [n for n in GONE_FIELDS if n in names]

    def live(self) -> QuerySet:
        return self.model.objects.filter(**dict.fromkeys(self.gone_fields))


def target_kinds(*, tenant: Tenant) -> list[TargetKind]:
    """The kinds of record of this tenant's mode (no leads in simple mode), in the order of
    the rights matrix."""
    kinds = []
    for entity, label in TARGET_MODELS.items():
        if entity == Entity.LEAD and not has_leads(tenant):
            continue
        model = apps.get_model(label)
        content_type = ContentType.objects.get_for_model(model, for_concrete_model=False)
        kinds.append(TargetKind(entity, model, content_type.pk, DETAIL_URLS[entity]))
    return kinds


def kind_of(kinds: list[TargetKind], *, key: str) -> TargetKind | None:
    return next((k for k in kinds if k.key == key), None)


def visible_q(*, actor: Membership, kinds: list[TargetKind]) -> Q:
    """Activities on the kinds of record the actor may view at all. Which records of a kind
    they may view is checked when the rows' records are read (attach_records), by primary
    key: a semi-join here would read every record the actor reaches (a million leads for a
    director, the whole shared pool for a manager) on every query, where the rows shown are
    a few hundred. So an activity on a record the actor cannot see (one given to them on a
    record outside their scope, or one in the trash) is never shown, and at most swells a
    group's count."""
    viewable = [
        k.content_type_id for k in kinds if scope_for(actor, k.entity, Action.VIEW) != Scope.NONE
    ]
    return Q(target_type_id__in=viewable)


# --- Whose activities -----------------------------------------------------------------------

MINE, TEAM, ALL = "mine", "team", "all"
WHOSE_LABELS = {MINE: _("Mine"), TEAM: _("My team"), ALL: _("Everyone")}


def _narrowest_view(actor: Membership, kinds: list[TargetKind]) -> str:
    ranks = [Scope.NONE, Scope.OWN, Scope.TEAM, Scope.ALL]
    scopes = [scope_for(actor, kind.entity, Action.VIEW) for kind in kinds]
    return min(scopes, key=ranks.index, default=Scope.NONE)


def whose_choices(*, actor: Membership, kinds: list[TargetKind]) -> list[str]:
    """Whose activities the actor may list: their own; their team's when they lead a team
    or their role reaches their team mates' records of every kind; everyone's when it
    reaches every record. (A manager sees every contact, not every lead: no "everyone".)
    The records' rights still apply to every row. One query (teams led)."""
    narrowest = _narrowest_view(actor, kinds)
    choices = [MINE]
    if narrowest == Scope.ALL or (actor.team_id and narrowest == Scope.TEAM) or _leads_team(actor):
        choices.append(TEAM)
    if narrowest == Scope.ALL:
        choices.append(ALL)
    return choices


def _leads_team(actor: Membership) -> bool:
    return Team.objects.filter(lead=actor).exists()


def owners_q(*, actor: Membership, whose: str) -> Q:
    """Whose activities: the actor's; with "team" also those of the members of the teams
    they lead and of their own team (ids read first, one query: the index of each owner's
    open activities serves an IN list, not a join on teams); with "all" anyone's."""
    if whose == ALL:
        return Q()
    if whose == MINE:
        return Q(owner=actor)
    team = Q(team__lead=actor)
    if actor.team_id:
        team |= Q(team_id=actor.team_id)
    ids = set(Membership.objects.filter(team).values_list("pk", flat=True))
    return Q(owner_id__in=sorted(ids | {actor.pk}))


# --- The task page ------------------------------------------------------------------------


@dataclass
class TaskRow:
    """An activity with the record it belongs to and what the actor may do with it."""

    activity: Activity
    record: Any
    kind: TargetKind
    may_change: bool


@dataclass
class Group:
    key: str
    label: str | Promise
    rows: list[TaskRow] = field(default_factory=list)
    count: int = 0

    @property
    def more(self) -> int:
        return max(min(self.count, COUNT_CAP) - len(self.rows), 0)

    @property
    def cap(self) -> int:
        return COUNT_CAP

    @property
    def capped(self) -> bool:
        return self.count > COUNT_CAP

    @property
    def count_text(self) -> str:
        return f"{COUNT_CAP}+" if self.capped else str(self.count)


@dataclass(frozen=True)
class Bounds:
    """The instants that split open activities into groups, on the workspace's clock."""

    now: dt.datetime
    tomorrow: dt.datetime
    after_tomorrow: dt.datetime
    next_week: dt.datetime

    @classmethod
    def at(cls, now: dt.datetime | None = None) -> Bounds:
        now = now or timezone.now()
        day = timezone.localtime(now).date()
        one = dt.timedelta(days=1)
        return cls(
            now=now,
            tomorrow=day_start(day + one),
            after_tomorrow=day_start(day + 2 * one),
            next_week=day_start(week_start(day) + 7 * one),
        )

    def groups(self) -> dict[str, tuple[str | Promise, Q]]:
        later_from = max(self.after_tomorrow, self.next_week)
        return {
            "overdue": (_("Overdue"), Q(due_at__lt=self.now)),
            "today": (_("Today"), Q(due_at__gte=self.now, due_at__lt=self.tomorrow)),
            "tomorrow": (
                _("Tomorrow"),
                Q(due_at__gte=self.tomorrow, due_at__lt=self.after_tomorrow),
            ),
            "week": (
                _("This week"),
                Q(due_at__gte=self.after_tomorrow, due_at__lt=self.next_week),
            ),
            "later": (_("Later"), Q(due_at__gte=later_from)),
            "undated": (_("No due date"), Q(due_at=None)),
        }


def task_base(
    *, actor: Membership, kinds: list[TargetKind], whose: str, kind: str = ""
) -> QuerySet[Activity]:
    """The activities the task page may list for this choice of whose and type."""
    activities = Activity.objects.filter(kind__in=TASK_KINDS).filter(
        owners_q(actor=actor, whose=whose), visible_q(actor=actor, kinds=kinds)
    )
    if kind:
        activities = activities.filter(kind=kind)
    return activities.select_related("owner__user")


def task_groups(
    *,
    actor: Membership,
    kinds: list[TargetKind],
    whose: str,
    kind: str = "",
    now: dt.datetime | None = None,
) -> list[Group]:
    """The open activities by when they are due (overdue, today, tomorrow, this week, later,
    without a date) and those done in the last DONE_DAYS days: at most GROUP_LIMIT rows a
    group, with its count (counted up to COUNT_CAP, and only for a full group). One query
    a group, one more for a full one: a walk of the (tenant, owner, done_at, due_at) or
    (tenant, done_at, due_at) index that stops at the limit."""
    bounds = Bounds.at(now)
    base = task_base(actor=actor, kinds=kinds, whose=whose, kind=kind)
    done_since = bounds.now - dt.timedelta(days=DONE_DAYS)
    parts = [
        (key, label, base.filter(q, done_at=None).order_by("due_at", "pk"))
        for key, (label, q) in bounds.groups().items()
    ]
    parts.append(
        (
            "done",
            _("Done recently"),
            base.filter(done_at__gte=done_since).order_by("-done_at", "-pk"),
        )
    )
    groups = []
    for key, label, queryset in parts:
        rows = list(queryset[:GROUP_LIMIT])
        count = len(rows)
        if count == GROUP_LIMIT:
            count = queryset.order_by()[: COUNT_CAP + 1].count()
        groups.append(Group(key, label, rows, count))  # type: ignore[arg-type]
    rows = attach_records([a for g in groups for a in g.rows], actor=actor, kinds=kinds)
    by_pk = {row.activity.pk: row for row in rows}
    for group in groups:
        full = len(group.rows) == GROUP_LIMIT
        group.rows = [by_pk[a.pk] for a in group.rows if a.pk in by_pk]  # type: ignore[attr-defined]
        if not full:  # every row was read: the count is what is shown
            group.count = len(group.rows)
    return groups


def attach_records(
    activities: list[Activity], *, actor: Membership, kinds: list[TargetKind]
) -> list[TaskRow]:
    """Each activity with its record, leaving out those whose record the actor may not view
    or that is in the trash or merged away (one query per kind of record present)."""
    wanted: dict[int, set[int]] = {}
    for activity in activities:
        wanted.setdefault(activity.target_type_id, set()).add(activity.target_id)
    records: dict[tuple[int, int], Any] = {}
    by_type = {kind.content_type_id: kind for kind in kinds}
    for type_id, ids in wanted.items():
        kind = by_type.get(type_id)
        if kind is None:
            continue
        visible = scope_queryset(kind.live(), actor=actor, action=Action.VIEW)
        for record in visible.select_related("owner__team").filter(pk__in=ids):
            records[(type_id, record.pk)] = record
    rows = []
    for activity in activities:
        record = records.get((activity.target_type_id, activity.target_id))
        if record is None:
            continue
        kind = by_type[activity.target_type_id]
        rows.append(TaskRow(activity, record, kind, may_change(actor, activity, record)))
    return rows


def may_change(actor: Membership, activity: Activity, record: Any) -> bool:
    """Whether the actor may complete, move or hand over this activity: its owner (who sees
    the record), or anyone who may edit the record."""
    return activity.owner_id == actor.pk or can(record, actor=actor, action=Action.EDIT)


def task_get(*, actor: Membership, kinds: list[TargetKind], activity_id: int) -> TaskRow:
    """An activity on a live record the actor may view, with its record, or 404."""
    activity = (
        Activity.objects.filter(pk=activity_id, kind__in=TASK_KINDS)
        .filter(visible_q(actor=actor, kinds=kinds))
        .select_related("owner__user")
        .first()
    )
    rows = attach_records([activity], actor=actor, kinds=kinds) if activity else []
    if not rows:
        raise Http404
    return rows[0]


# --- Records to attach a new activity to --------------------------------------------------

PICK_LIMIT = 10
TITLE_FIELDS = {
    Entity.LEAD: ("title", "name", "company_name", "phone", "email"),
    Entity.DEAL: ("title",),
    Entity.CONTACT: ("last_name", "first_name", "middle_name"),
    Entity.COMPANY: ("name", "tax_id"),
}


def record_choices(
    *, actor: Membership, kinds: list[TargetKind], query: str
) -> list[tuple[TargetKind, list[Any]]]:
    """Live records the actor may add activities to (edit right) whose name holds `query`,
    PICK_LIMIT of each kind, newest first; an empty query gives the newest."""
    found = []
    words = query.split()[:4]
    for kind in kinds:
        if scope_for(actor, kind.entity, Action.EDIT) == Scope.NONE:
            continue
        records = scope_queryset(kind.live(), actor=actor, action=Action.EDIT)
        for word in words:
            match = Q()
            for name in TITLE_FIELDS.get(kind.entity, ()):
                match |= Q(**{f"{name}__icontains": word})
            records = records.filter(match)
        found.append((kind, list(records.order_by("-created_at", "-pk")[:PICK_LIMIT])))
    return found


def record_for_new(*, actor: Membership, kinds: list[TargetKind], value: str) -> Any:
    """The record a "kind:id" choice names, if live and visible to the actor; else None."""
    key, _sep, raw = value.partition(":")
    kind = kind_of(kinds, key=key)
    if kind is None or not raw.isdigit() or len(raw) > 18:
        return None
    return (
        scope_queryset(kind.live(), actor=actor, action=Action.VIEW)
        .select_related("owner__team")
        .filter(pk=int(raw))
        .first()
    )


# --- The calendar -------------------------------------------------------------------------

DAY, WEEK = "day", "week"
FIRST_HOUR, LAST_HOUR = 8, 20  # the grid's rows; earlier and later times get a row each


EARLY, LATE = "early", "late"
HOURS: list[int | str] = [EARLY, *range(FIRST_HOUR, LAST_HOUR + 1), LATE]


@dataclass
class Calendar:
    view: str
    days: list[dt.date]
    cells: dict[tuple[dt.date, int | str], list[TaskRow]]
    previous: dt.date
    following: dt.date
    count: int

    def rows(self) -> list[tuple[int | str, list[list[TaskRow]]]]:
        """The grid: one row per hour (plus "earlier" and "later"), one cell per day."""
        return [(hour, [self.cells.get((day, hour), []) for day in self.days]) for hour in HOURS]


def calendar(
    *,
    actor: Membership,
    kinds: list[TargetKind],
    whose: str,
    view: str,
    day: dt.date,
) -> Calendar:
    """Calls and meetings due on a day or in its week (the workspace's days), placed by
    local hour; at most CALENDAR_LIMIT of them."""
    if view == WEEK:
        first = week_start(day)
        days = [first + dt.timedelta(days=n) for n in range(7)]
        step = dt.timedelta(days=7)
    else:
        days, step = [day], dt.timedelta(days=1)
    start, end = day_start(days[0]), day_start(days[-1] + dt.timedelta(days=1))
    found = list(
        Activity.objects.filter(kind__in=CALENDAR_KINDS, due_at__gte=start, due_at__lt=end)
        .filter(owners_q(actor=actor, whose=whose), visible_q(actor=actor, kinds=kinds))
        .select_related("owner__user")
        .order_by("due_at", "pk")[:CALENDAR_LIMIT]
    )
    cells: dict[tuple[dt.date, int | str], list[TaskRow]] = {}
    for row in attach_records(found, actor=actor, kinds=kinds):
        local = timezone.localtime(row.activity.due_at)
        hour: int | str = local.hour
        if local.hour < FIRST_HOUR:
            hour = EARLY
        elif local.hour > LAST_HOUR:
            hour = LATE
        cells.setdefault((local.date(), hour), []).append(row)
    return Calendar(view, days, cells, days[0] - step, days[0] + step, len(found))


def parse_day(value: str) -> dt.date:
    """A YYYY-MM-DD day from a query string, or today (the workspace's) for anything else."""
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        return today()
    return day if 1900 <= day.year <= 2200 else today()
