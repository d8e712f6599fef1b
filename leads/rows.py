"""The HTML of lead list rows, built in Python.

A list page shows 50 rows, and the Django template engine spent about 5 ms of a 30 ms inbox
request on them (bench/README.md, finding 7). Every row of a lead list (the table, the
inbox's new-rows poll, the row swapped in after "Take") comes from `rows_html`: each value
goes through `html.escape` (what Django's `escape` calls, without its lazy-string wrapper),
the translated words are looked up once per call; the title and the name sit in `<bdi>`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from html import escape

from django.template.defaultfilters import floatformat
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

from crm.nextactivity import Renderer
from crm.tenancy import current_tenant
from crm.text import bidi_balanced
from leads.models import LeadSource, LeadState, Temperature
from leads.selectors import LeadRow

_ROW = (
    '<tr id="lead-{pk}">\n'
    "  <td>{tick}</td>\n"
    '  <td class="text-nowrap small text-muted">{created}'
    '<div class="lead-age" data-testid="age">{age}</div></td>\n'
    '  <td><a href="{url}"><bdi>{title}</bdi></a>{repeat}{badges}{talk}{company}</td>\n'
    '  <td class="small"><bdi>{name}</bdi>{phone}{email}</td>\n'
    '  <td class="small">{source}</td>\n'
    '  <td class="text-nowrap"><svg class="status-dot" width="10" height="10"'
    ' viewBox="0 0 10 10" aria-hidden="true"><circle cx="5" cy="5" r="5" fill="{color}"/>'
    "</svg> {status}</td>\n"
    '  <td class="small">{upcoming}</td>\n'
    '  <td class="small" data-testid="owner">{owner}</td>\n'
    '  <td class="text-end small">{amount}</td>\n'
    '  <td class="text-end">{take}</td>\n'
    "</tr>"
)
_TICK = (
    '<input class="form-check-input" type="checkbox" name="ids" value="{pk}"'
    ' form="bulk-form" aria-label="{title}">'
)
_TAKE = (
    '<button class="btn btn-sm btn-outline-primary" form="take-form" formaction="{url}take/"'
    ' hx-post="{url}take/" hx-target="closest tr" hx-swap="outerHTML" data-testid="take">'
    "{label}</button>"
)


def rows_html(
    leads: Iterable[LeadRow], *, leads_root: str, may_take: bool, selectable: bool
) -> SafeString:
    """Table rows (<tr>) of leads; links start with `leads_root`, the lead list's URL.
    Unassigned rows get "Take" when the viewer `may_take`; rows get a tick box for the bulk
    actions when `selectable` (both decided once per page, from the viewer's role)."""
    sources = {value: escape(str(label)) for value, label in LeadSource.choices}
    unassigned = '<span class="text-muted">{}</span>'.format(escape(gettext("unassigned")))
    take_label = escape(gettext("Take"))
    # A lead linked to a known contact before its conversion: the person came back.
    repeat = ' <span class="badge text-bg-info" data-testid="repeat-badge">{}</span>'.format(
        escape(gettext("repeat"))
    )
    zone = timezone.get_current_timezone()
    badge = QualificationBadges()
    talk = ConversationBadge()
    day = Renderer()  # the next activity and the age, in the workspace's zone
    root = escape(leads_root)
    rows = []
    for lead in leads:
        url = f"{root}{lead.pk}/"
        # Direction characters in user text are matched inside <bdi> (crm/text.py).
        title = escape(bidi_balanced(lead.title))
        rows.append(
            _ROW.format(
                pk=lead.pk,
                tick=_TICK.format(pk=lead.pk, title=escape(lead.title)) if selectable else "",
                title=title,
                # dd.mm HH:MM, as crm's |list_datetime (the zone looked up once)
                created=lead.created_at.astimezone(zone).strftime("%d.%m %H:%M"),
                age=escape(day.age(lead.created_at)),
                url=url,
                repeat=repeat if lead.contact_id and lead.state != LeadState.CONVERTED else "",
                badges=badge.html(lead.temperature, lead.level),
                talk=talk.html(lead.unread_messages, lead.waiting_since),
                company=_line("small text-muted", lead.company_name),
                name=escape(bidi_balanced(lead.name)),
                phone=_line("", lead.phone),
                email=_line("", lead.email),
                source=sources.get(lead.source) or escape(lead.source),
                color=escape(lead.status_color),
                status=escape(lead.status_name),
                upcoming=day.html(lead.next_activity),
                owner=escape(lead.owner_name) if lead.owner_id else unassigned,
                amount=escape(floatformat(lead.amount, "0g")) if lead.amount else "",
                take=_TAKE.format(url=url, label=take_label)
                if may_take and not lead.owner_id
                else "",
            )
        )
    return mark_safe("\n".join(rows))  # noqa: S308 - every value above is escaped


class QualificationBadges:
    """A lead's temperature and funnel level as badges (rows and board cards); the words
    are translated once per page."""

    def __init__(self) -> None:
        self.temperatures = {value: escape(str(label)) for value, label in Temperature.choices}

    def html(self, temperature: str, level: str) -> str:
        found = ""
        if temperature in self.temperatures:
            found += (
                f' <span class="badge temp-{temperature}" data-testid="temperature-badge">'
                f"{self.temperatures[temperature]}</span>"
            )
        if level:
            found += (
                ' <span class="badge text-bg-primary" data-testid="level-badge">'
                f"{escape(level.upper())}</span>"
            )
        return found


class ConversationBadge:
    """A record's conversation as a badge (list rows, board cards): the messages its
    responsible has not read, and since when the person waits for our answer (red once
    that is longer than the workspace's response time). Words translated once per page."""

    def __init__(self) -> None:
        self.unread = gettext("Unread messages: %(count)s")
        self.waiting = gettext("Waiting for our answer since %(since)s")
        self.zone = timezone.get_current_timezone()
        tenant = current_tenant()
        minutes = tenant.response_sla_minutes if tenant is not None else 0
        self.late = timezone.now() - timedelta(minutes=minutes) if minutes else None

    def html(self, unread: int, waiting_since: datetime | None) -> str:
        if not unread and waiting_since is None:
            return ""
        titles = []
        if unread:
            titles.append(self.unread % {"count": unread})
        if waiting_since is not None:
            since = waiting_since.astimezone(self.zone).strftime("%d.%m %H:%M")
            titles.append(self.waiting % {"since": since})
        late = waiting_since is not None and self.late is not None and waiting_since < self.late
        css = "text-bg-danger" if late else "text-bg-warning" if unread else "text-bg-light border"
        count = f" {unread}" if unread else ""
        return (
            f' <span class="badge {css}" title="{escape(" · ".join(titles))}"'
            f' data-testid="conversation-badge">💬{count}</span>'
        )


def _line(css: str, value: str) -> str:
    """A <div> holding `value` (escaped), or nothing for an empty value."""
    if not value:
        return ""
    return f'<div class="{css}">{escape(value)}</div>' if css else f"<div>{escape(value)}</div>"
