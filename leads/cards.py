"""The HTML of lead board cards, built in Python (as leads/rows.py builds list rows).

A board shows up to 30 cards a column; through the template engine a card cost as much as
two list rows (bench/README.md, the board). Every card — the board's and the one swapped in
after a drop or a quick action — comes from `cards_html`: each value goes through
`html.escape`, the words are translated once per call (crm.nextactivity.card_words), user
text sits in `<bdi>`.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from django.template.defaultfilters import floatformat
from django.utils.safestring import SafeString, mark_safe

from crm.nextactivity import Renderer, activity_options, card_words
from crm.templatetags.crm import tel_href
from crm.text import bidi_balanced
from leads.models import Lead
from leads.rows import ConversationBadge, QualificationBadges


def _badges(html: str) -> str:
    return f'<div class="small">{html.strip()}</div>' if html else ""


_CARD = (
    '<article class="kanban-card card card-body p-2" id="card-{pk}" data-id="{pk}"'
    ' data-amount="{amount_raw}" data-allowed="{allowed}" data-testid="card">'
    '<div class="d-flex justify-content-between gap-1">'
    '<a class="fw-semibold small text-truncate" href="{url}"><bdi>{title}</bdi></a>'
    '<span class="small text-muted text-nowrap" title="{w_age}" data-testid="age">{age}</span>'
    "</div>"
    "{badges}"
    '<div class="small text-muted">{who}</div>'
    '<div class="small text-muted">{owner}</div>'
    '<div class="small kanban-next" data-testid="card-next">{upcoming}</div>'
    '<div class="kanban-actions small d-flex flex-wrap gap-2 align-items-center">{call}{actions}'
    "</div></article>"
)
_CALL = (
    '<a href="{href}" class="text-decoration-none" data-testid="card-call"'
    ' title="{w_call} {phone}">☎ {w_call}</a>'
)
_DONE = (
    '<button type="button" class="btn btn-link btn-sm p-0 text-decoration-none"'
    ' hx-post="{url}activities/{activity}/done/" hx-vals=\'{{"board": "1"}}\''
    ' hx-target="#card-{pk}" hx-swap="outerHTML" data-testid="card-done">✓ {w_done}</button>'
)
_PLAN = (
    '<details class="kanban-plan" data-testid="card-plan">'
    '<summary class="link-primary">+ {w_plan}</summary>'
    '<form class="d-flex flex-column gap-1 mt-1" hx-post="{url}activities/"'
    ' hx-target="#card-{pk}" hx-swap="outerHTML" data-testid="card-plan-form">'
    '<input type="hidden" name="board" value="1">'
    '<label class="visually-hidden" for="plan-kind-{pk}">{w_type}</label>'
    '<select class="form-select form-select-sm" name="kind" id="plan-kind-{pk}">{options}</select>'
    '<label class="visually-hidden" for="plan-subject-{pk}">{w_subject}</label>'
    '<input class="form-control form-control-sm" name="subject" id="plan-subject-{pk}"'
    ' maxlength="200" required placeholder="{w_subject}">'
    '<label class="visually-hidden" for="plan-due-{pk}">{w_due}</label>'
    '<input class="form-control form-control-sm" type="datetime-local" name="due_at"'
    ' id="plan-due-{pk}">'
    '<button class="btn btn-sm btn-outline-primary" type="submit">{w_add}</button>'
    "</form></details>"
)


def cards_html(
    leads: Iterable[Lead], *, leads_root: str, allowed: dict[int, str], currency: str
) -> SafeString:
    """Board cards of leads read by leads.selectors.board / board_card (with their next
    activity). `allowed`: the drop targets of each card the viewer may move (data-allowed
    text); a card without an entry is read-only (no "Done", no "Plan")."""
    words = {key: escape(value) for key, value in card_words().items()}
    badge = QualificationBadges()
    talk = ConversationBadge()
    day = Renderer()
    options = activity_options()
    root = escape(leads_root)
    money = escape(currency)
    cards = []
    for lead in leads:
        pk = lead.pk
        url = f"{root}{pk}/"
        who = lead.company_name or lead.name
        parts = []
        if who and who != lead.title:
            parts.append(f"<bdi>{escape(bidi_balanced(who))}</bdi>")
        if lead.amount:
            parts.append(f"{escape(floatformat(lead.amount, '0g'))} {money}")
        owner = escape(str(lead.owner.user)) if lead.owner_id else words["unassigned"]
        call = ""
        if lead.phone:
            href = f"tel:{lead.phone_e164}" if lead.phone_e164 else tel_href(lead.phone)
            call = _CALL.format(href=escape(href), phone=escape(lead.phone), w_call=words["call"])
        actions = ""
        editable = allowed.get(pk)
        if editable is not None:
            upcoming = lead.next_activity
            if upcoming is not None:
                actions += _DONE.format(url=url, activity=upcoming.pk, pk=pk, w_done=words["done"])
            actions += _PLAN.format(
                url=url,
                pk=pk,
                options=options,
                w_plan=words["plan"],
                w_type=words["type"],
                w_subject=words["subject"],
                w_due=words["due"],
                w_add=words["add"],
            )
        cards.append(
            _CARD.format(
                pk=pk,
                amount_raw=format(lead.amount, "f") if lead.amount is not None else "",
                allowed=escape(editable or ""),
                url=url,
                title=escape(bidi_balanced(lead.title)),
                w_age=words["age"],
                age=escape(day.age(lead.created_at)),
                badges=_badges(
                    badge.html(lead.temperature, lead.level)
                    + talk.html(lead.unread_messages, lead.waiting_since)
                ),
                who=" · ".join(parts),
                owner=owner,
                upcoming=day.html(lead.next_activity),
                call=call,
                actions=actions,
            )
        )
    return mark_safe("\n".join(cards))  # noqa: S308 - every value above is escaped
