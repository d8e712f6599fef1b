"""The conversation panel of a lead's, deal's or contact's card: the thread (polled while
the card is open), the composer, "send again" and "no reply needed" (channels/conversations.py
writes). The cards load the panel by URL (the record apps do not import the channels)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from channels import conversations
from contacts.models import Contact
from contacts.selectors import record_get_for_user
from crm.access import AccessDenied
from crm.errors import DomainError
from crm.navigation import nav_for
from crm.urlnames import tenant_reverse
from deals.selectors import deal_get_for_user
from leads.selectors import lead_get_for_user

PANEL = "channels/_conversation.html"
CARD_URLS = {"lead": "leads:detail", "deal": "deals:detail", "contact": "contacts:detail"}


def _record(request: HttpRequest, kind: str, pk: int) -> conversations.Record:
    """The record the member may see (404 otherwise)."""
    actor = request.membership
    if kind == "lead":
        return lead_get_for_user(actor=actor, lead_id=pk)
    if kind == "deal":
        return deal_get_for_user(actor=actor, deal_id=pk)
    if kind == "contact":
        return record_get_for_user(actor=actor, model=Contact, record_id=pk)
    raise Http404


def _context(request: HttpRequest, kind: str, record: conversations.Record) -> dict[str, Any]:
    actor = request.membership
    may_reply = conversations.may_reply(record, actor)
    routes = conversations.reply_routes(record) if may_reply else []
    return {
        "record": record,
        "record_kind": kind,
        "thread": conversations.thread(record),
        "version": conversations.thread_version(record),
        "may_reply": may_reply,
        "routes": routes,
        "templates": conversations.templates_for(get_language() or "") if may_reply else [],
        "unread": getattr(record, "unread_messages", 0),
        "waiting_since": getattr(record, "waiting_since", None),
    }


def _panel(
    request: HttpRequest, kind: str, record: conversations.Record, status: int = 200, **extra: Any
) -> HttpResponse:
    context = _context(request, kind, record) | extra
    response = render(request, PANEL, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_GET
def panel(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    """The panel (`?part=thread`: the messages alone, what the open card polls with the
    version it has, `v`: 204 while nothing changed). Opening it reads the unread."""
    record = _record(request, kind, pk)
    if request.GET.get("part") == "thread":
        version = conversations.thread_version(record)
        if request.GET.get("v", "")[:64] == version:
            return HttpResponse(status=204)
        conversations.thread_seen(actor=request.membership, record=record)
        response = render(request, f"{PANEL}#thread", _context(request, kind, record))
        patch_vary_headers(response, ["HX-Request"])
        return response
    conversations.thread_seen(actor=request.membership, record=record)
    return _panel(request, kind, record)


def _after(
    request: HttpRequest,
    kind: str,
    record: conversations.Record,
    error: DomainError | None = None,
    **extra: Any,
) -> HttpResponse:
    """The panel again (htmx), or back to the card with the outcome as a message."""
    if request.htmx:
        if error is not None:
            return _panel(request, kind, record, status=400, reply_error=error.message, **extra)
        return _panel(request, kind, record)
    if error is not None:
        messages.error(request, error.message)
    return redirect(tenant_reverse(CARD_URLS[kind], request.tenant, pk=record.pk))


def _refuse_if_not_replier(request: HttpRequest, record: conversations.Record) -> None:
    if not conversations.may_reply(record, request.membership):
        raise AccessDenied(_("Your role does not let you write to clients."))


@require_POST
def reply(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    record = _record(request, kind, pk)
    _refuse_if_not_replier(request, record)
    text = request.POST.get("text", "")[:20_000]
    template = None
    if template_id := request.POST.get("template", "").strip()[:20]:
        template = conversations.template_get(template_id)
        if template is None:
            gone = DomainError(_("That template is gone: choose another."))
            return _after(request, kind, record, gone)
    try:
        conversations.reply_queue(
            actor=request.membership,
            record=record,
            route_key=request.POST.get("route", "")[:300],
            text=text,
            template=template,
            file=request.FILES.get("file"),
        )
    except DomainError as error:
        posted = {"text": text, "route": request.POST.get("route", ""), "template": template}
        return _after(request, kind, record, error, posted=posted)
    record.refresh_from_db()
    return _after(request, kind, record)


@require_POST
def again(request: HttpRequest, kind: str, pk: int, message_pk: int) -> HttpResponse:
    record = _record(request, kind, pk)
    _refuse_if_not_replier(request, record)
    try:
        conversations.reply_again(actor=request.membership, record=record, message_id=message_pk)
    except DomainError as error:
        return _after(request, kind, record, error)
    return _after(request, kind, record)


@require_POST
def answered(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    record = _record(request, kind, pk)
    _refuse_if_not_replier(request, record)
    conversations.answered(actor=request.membership, record=record)
    return _after(request, kind, record)


@require_GET
def template_text(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    """The composer's text area filled from a saved reply (`template`), placeholders
    replaced for this record and this member."""
    record = _record(request, kind, pk)
    _refuse_if_not_replier(request, record)
    template = conversations.template_get(request.GET.get("template", "")[:20])
    text = ""
    if template is not None:
        text, _params = conversations.fill(
            template.text, conversations.placeholder_values(record, request.membership)
        )
    context = {"record": record, "record_kind": kind, "text": text}
    return render(request, f"{PANEL}#composer-text", context)


@require_GET
def unread(request: HttpRequest) -> HttpResponse:
    """The navigation's badge (loaded after the page, refreshed every 30 s): how many of
    the member's leads (`section=inbox`) or deals (`deals`) have messages they have not
    read; empty when none or the section is not theirs."""
    member = request.membership
    section = request.GET.get("section", "")
    if not any(item.section == section for item in nav_for(member)):
        return HttpResponse("")
    count = conversations.unread_count(member=member, section=section)
    return render(request, "channels/_unread_badge.html", {"count": count, "section": section})
