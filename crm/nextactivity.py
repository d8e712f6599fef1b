"""The next activity of a record and its age, as list rows and board cards show them.

The next activity is a record's earliest open activity (not done; the soonest due first,
undated ones after the dated, then the oldest): read for a whole page in the page's own
query, as one correlated subquery that returns its id, type, subject and due time together
as a JSON object (`annotate(upcoming=next_activity(Lead))`), so a list or a board costs no
query more whatever its size. The partial index `crm_activity_open_target`
(tenant, target type, target id, due time; open activities only) answers each row's
subquery with one short index read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import TextField
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

from crm.models import Activity


def activity_options() -> SafeString:
    """The <option>s of a card's "plan the next activity" form (a note is not planned: it is
    done at once), built once per page: a board has a form on each of its cards."""
    return mark_safe(  # noqa: S308 - the values and labels are escaped
        "".join(
            f'<option value="{escape(value)}">{escape(str(label))}</option>'
            for value, label in Activity.Kind.choices
            if value != Activity.Kind.NOTE
        )
    )


def card_words() -> dict[str, str]:
    """The words of a board card's quick actions, translated once per page (a board renders
    up to a few hundred cards; a {% translate %} a card each costs more)."""
    return {
        "age": gettext("Age"),
        "call": gettext("Call"),
        "unassigned": gettext("unassigned"),
        "done": gettext("Done"),
        "plan": gettext("Plan"),
        "type": gettext("Type"),
        "subject": gettext("Subject"),
        "due": gettext("Due"),
        "add": gettext("Add"),
    }


def board_context(allowed: dict[int, set[int]]) -> dict[str, Any]:
    """What a board's cards need besides the cards: the drop targets of each card the actor
    may move (as the data-allowed text: ids, space-separated), the plan form's options and
    the card words."""
    return {
        "allowed": {
            pk: " ".join(str(target) for target in sorted(ids)) for pk, ids in allowed.items()
        },
        "activity_options": activity_options(),
        "words": card_words(),
    }


_NEXT_SQL = (
    "(SELECT {json}('id', a.id, 'kind', a.kind, 'subject', a.subject, 'due', a.due_at)"
    " FROM crm_activity a WHERE a.tenant_id = {table}.tenant_id AND a.target_type_id = %s"
    " AND a.target_id = {table}.id AND a.done_at IS NULL"
    " ORDER BY a.due_at ASC NULLS LAST, a.created_at, a.id LIMIT 1)"
)


def next_activity(model: type) -> RawSQL:
    """An annotation: the record's next open activity as {"id", "kind", "subject", "due"}
    (a JSON object), or NULL; read it with `parse`. Raw SQL, written once: the same
    subquery through the ORM (Subquery, JSONObject) cost the inbox ≈ 1.5 ms a request to
    compile (bench/README.md, 2026-12-05)."""
    content_type = ContentType.objects.get_for_model(model, for_concrete_model=False)
    json = "json_build_object" if connection.vendor == "postgresql" else "json_object"
    table = connection.ops.quote_name(model._meta.db_table)
    return RawSQL(  # noqa: S611 - fixed SQL, the content type's id a parameter
        _NEXT_SQL.format(json=json, table=table),
        (content_type.pk,),
        output_field=TextField(),
    )


@dataclass(frozen=True, slots=True)
class NextActivity:
    pk: int
    kind: str
    subject: str
    due_at: datetime | None

    @property
    def overdue(self) -> bool:
        return self.due_at is not None and self.due_at < timezone.now()


def parse(value: Any) -> NextActivity | None:
    """The annotation's value (a dict, or JSON text on some back ends) as a NextActivity."""
    if not value:
        return None
    if isinstance(value, str):
        import json

        value = json.loads(value)
    due = value.get("due")
    due_at = None
    if due:
        due_at = datetime.fromisoformat(due.replace(" ", "T").replace("Z", "+00:00"))
        if due_at.tzinfo is None:  # SQLite keeps UTC without an offset
            due_at = due_at.replace(tzinfo=UTC)
    return NextActivity(int(value["id"]), value["kind"], value["subject"], due_at)


def age(created_at: datetime, now: datetime | None = None) -> str:
    """How old a record is, in the largest whole unit: "5 min", "3 h", "2 d"."""
    seconds = max(0, ((now or timezone.now()) - created_at).total_seconds())
    if seconds < 3600:
        return gettext("%(n)s min") % {"n": int(seconds // 60)}
    if seconds < 86400:
        return gettext("%(n)s h") % {"n": int(seconds // 3600)}
    return gettext("%(n)s d") % {"n": int(seconds // 86400)}


class Renderer:
    """Renders next activities and ages for one page: the translated words, the time zone
    and "now" looked up once (a list renders 50 of them)."""

    def __init__(self) -> None:
        self.zone = timezone.get_current_timezone()
        self.now = timezone.now()
        today = self.now.astimezone(self.zone).date()
        self.today, self.tomorrow = today, today + timedelta(days=1)
        self.kinds = {value: str(label) for value, label in Activity.Kind.choices}
        self.units: tuple[str, str, str] | None = None
        self.words = {
            "today": gettext("today"),
            "tomorrow": gettext("tomorrow"),
            "overdue": gettext("overdue"),
            "none": gettext("nothing planned"),
        }

    def when(self, due_at: datetime | None) -> str:
        """The due time in the workspace's zone: "today 14:00", "tomorrow 09:30",
        "05.12 14:00" (empty without a due time)."""
        if due_at is None:
            return ""
        local = due_at.astimezone(self.zone)
        day = local.date()
        clock = local.strftime("%H:%M")
        if day == self.today:
            return f"{self.words['today']} {clock}"
        if day == self.tomorrow:
            return f"{self.words['tomorrow']} {clock}"
        return local.strftime("%d.%m %H:%M")

    def age(self, created_at: datetime) -> str:
        """As `age`, with the words translated once (a list has 50 rows)."""
        if self.units is None:
            self.units = (gettext("%(n)s min"), gettext("%(n)s h"), gettext("%(n)s d"))
        seconds = max(0, (self.now - created_at).total_seconds())
        if seconds < 3600:
            return self.units[0] % {"n": int(seconds // 60)}
        if seconds < 86400:
            return self.units[1] % {"n": int(seconds // 3600)}
        return self.units[2] % {"n": int(seconds // 86400)}

    def html(self, activity: NextActivity | None) -> str:
        """The next activity as a small line (escaped): type, subject, due time; overdue in
        red; a muted dash without one."""
        if activity is None:
            return (
                f'<span class="text-muted" data-testid="next-activity-none">'
                f"{escape(self.words['none'])}</span>"
            )
        overdue = activity.due_at is not None and activity.due_at < self.now
        css = "next-activity text-danger" if overdue else "next-activity"
        flag = f' title="{escape(self.words["overdue"])}"' if overdue else ""
        when = self.when(activity.due_at)
        kind = escape(self.kinds.get(activity.kind, activity.kind))
        return (
            f'<span class="{css}"{flag} data-testid="next-activity"'
            f"{' data-overdue' if overdue else ''}>"
            f'<span class="text-muted">{kind}:</span> <bdi>{escape(activity.subject)}</bdi>'
            f"{' · ' + escape(when) if when else ''}</span>"
        )
