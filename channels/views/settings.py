"""Channel settings pages (settings right): list, set up, see deliveries, replay."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings as django_settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from channels import health, selectors, services
from channels.adapters import adapter_for
from channels.forms import ChannelForm, config_form
from channels.models import Channel, ChannelKind, InboundEvent
from crm.access import TenantRight, require_right
from crm.errors import DomainError
from crm.urlnames import public_url, site_url, tenant_reverse

SETTINGS = TenantRight.SETTINGS
ATTENTION_ROW = "channels/channel_detail.html#attention-row"


def endpoint_url(request: HttpRequest, channel: Channel, path: str = "") -> str:
    """The channel's public endpoint, as providers must call it: under SITE_URL, or without
    it (DEBUG) under the address the admin opened the page at."""
    url = reverse("inbound", kwargs={"token": channel.token})
    return site_url(request) + url + path


def _other_host(request: HttpRequest) -> str:
    """The address the page was opened at when SITE_URL names another host (the snippets
    keep SITE_URL: sites and providers must reach the CRM there), else ""."""
    if not django_settings.SITE_URL:
        return ""
    here = request.build_absolute_uri("/").rstrip("/")
    return "" if urlsplit(here).netloc == urlsplit(site_url()).netloc else here


def _kind_or_404(kind: str) -> str:
    if kind not in ChannelKind.values:
        raise Http404
    return kind


def _page(request: HttpRequest, template: str, context: dict, status: int = 200) -> HttpResponse:
    return render(request, template, {"section": "channels", **context}, status=status)


@require_GET
@require_right(SETTINGS)
def channel_list(request: HttpRequest) -> HttpResponse:
    return _page(
        request,
        "channels/channel_list.html",
        {"channels": selectors.channel_list(), "kinds": ChannelKind.choices},
    )


@require_http_methods(["GET", "POST"])
@require_right(SETTINGS)
def channel_create(request: HttpRequest, kind: str) -> HttpResponse:
    kind = _kind_or_404(kind)
    data = request.POST if request.method == "POST" else None
    form, options = ChannelForm(data), config_form(kind, data)
    if data is not None and form.is_valid() and (options is None or options.is_valid()):
        try:
            channel = services.channel_create(
                actor=request.membership,
                kind=kind,
                name=form.cleaned_data["name"],
                default_owner=form.cleaned_data["default_owner"],
                create_deal=form.cleaned_data["create_deal"],
                config=options.cleaned_data if options is not None else {},
            )
        except DomainError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("Channel created."))
            return redirect(tenant_reverse("channels:detail", request.tenant, pk=channel.pk))
    return _page(
        request,
        "channels/channel_form.html",
        {"form": form, "options": options, "kind_label": ChannelKind(kind).label},
        status=400 if data is not None else 200,
    )


@require_GET
@require_right(SETTINGS)
def channel_detail(request: HttpRequest, pk: int) -> HttpResponse:
    channel = selectors.channel_get(channel_id=pk)
    status = request.GET.get("status", "")
    adapter = adapter_for(channel.kind)
    return _page(
        request,
        "channels/channel_detail.html",
        {
            "channel": channel,
            "endpoint": endpoint_url(request, channel),
            # What providers that sign the URL they call (Twilio) are given: under PUBLIC_URL.
            "public_endpoint": public_url(request)
            + reverse("inbound", kwargs={"token": channel.token}),
            "site_url": site_url(),
            "opened_at": _other_host(request),
            "setup_template": adapter.setup_template,
            "uses_secret": adapter.uses_secret,
            **adapter.setup_context(channel),
            "counts": selectors.status_counts(channel=channel),
            "health": health.channel_health(channel=channel),
            "events": selectors.recent_events(channel=channel, status=status),
            "calls": selectors.recent_calls(channel=channel),
            "attention": selectors.events_needing_attention(channel=channel),
            "status": status,
            "statuses": InboundEvent.Status.choices,
        },
    )


@require_http_methods(["GET", "POST"])
@require_right(SETTINGS)
def channel_edit(request: HttpRequest, pk: int) -> HttpResponse:
    channel = selectors.channel_get(channel_id=pk)
    data = request.POST if request.method == "POST" else None
    form = ChannelForm(data, channel=channel)
    options = config_form(channel.kind, data, channel)
    if data is not None and form.is_valid() and (options is None or options.is_valid()):
        changes = dict(form.cleaned_data)
        if options is not None:
            changes["config"] = {**channel.config, **options.cleaned_data}
        try:
            services.channel_update(actor=request.membership, channel=channel, data=changes)
        except DomainError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("Channel saved."))
            return redirect(tenant_reverse("channels:detail", request.tenant, pk=channel.pk))
    return _page(
        request,
        "channels/channel_form.html",
        {
            "form": form,
            "options": options,
            "channel": channel,
            "kind_label": channel.get_kind_display(),
        },
        status=400 if data is not None else 200,
    )


@require_POST
@require_right(SETTINGS)
def channel_rotate(request: HttpRequest, pk: int) -> HttpResponse:
    channel = selectors.channel_get(channel_id=pk)
    try:
        services.channel_rotate_secret(actor=request.membership, channel=channel)
    except DomainError as error:  # e.g. Telegram refused the webhook: the old secret stays
        messages.error(request, str(error))
    else:
        messages.success(request, _("A new secret is issued; the old one no longer works."))
    return redirect(tenant_reverse("channels:detail", request.tenant, pk=channel.pk))


@require_POST
@require_right(SETTINGS)
def channel_delete(request: HttpRequest, pk: int) -> HttpResponse:
    channel = selectors.channel_get(channel_id=pk)
    services.channel_delete(actor=request.membership, channel=channel)
    messages.success(request, _("Channel deleted."))
    return redirect(tenant_reverse("channels:list", request.tenant))


@require_GET
@require_right(SETTINGS)
def event_detail(request: HttpRequest, pk: int, event_pk: int) -> HttpResponse:
    channel = selectors.channel_get(channel_id=pk)
    event = selectors.event_get(channel=channel, event_id=event_pk)
    body = bytes(event.body).decode("utf-8", errors="replace")
    return _page(
        request, "channels/event_detail.html", {"channel": channel, "event": event, "body": body}
    )


@require_POST
@require_right(SETTINGS)
def event_replay(request: HttpRequest, pk: int, event_pk: int) -> HttpResponse:
    """Process a delivery again; from the channel page's list (`back=channel`) the answer is
    its row (htmx) or that page, else the delivery's page."""
    channel = selectors.channel_get(channel_id=pk)
    event = selectors.event_get(channel=channel, event_id=event_pk)
    row = {"channel": channel, "event": event}
    try:
        row["event"] = services.event_replay(actor=request.membership, event=event)
    except DomainError as error:
        if request.htmx:  # the row as it is now (finished meanwhile, say), with the reason
            row["event"] = selectors.event_get(channel=channel, event_id=event_pk)
            return render(request, ATTENTION_ROW, {**row, "error": str(error)}, status=409)
        messages.error(request, str(error))
    else:
        if request.htmx:
            return render(request, ATTENTION_ROW, {**row, "replayed": True})
        messages.success(request, _("The delivery is queued again."))
    if request.POST.get("back") == "channel":
        return redirect(tenant_reverse("channels:detail", request.tenant, pk=pk))
    return redirect(tenant_reverse("channels:event", request.tenant, pk=pk, event_pk=event_pk))
