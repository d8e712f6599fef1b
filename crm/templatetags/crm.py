"""Template helpers of the core: tenant URLs, timeline sentences, user text and phones."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from django import forms, template
from django.contrib.contenttypes.models import ContentType
from django.contrib.humanize.templatetags.humanize import NaturalTimeFormatter
from django.forms import BoundField
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.timesince import timesince

from contacts.normalize import messenger_key, phones_in
from crm import notifications
from crm.history import change_lines
from crm.htmlsafe import safe_html
from crm.models import Notification, TimelineEvent
from crm.nextactivity import NextActivity, Renderer, parse
from crm.nextactivity import age as age_of
from crm.tenancy import current_tenant
from crm.text import bidi_balanced
from crm.timeline import describe, links
from crm.urlnames import tenant_reverse

register = template.Library()


@register.simple_tag(takes_context=True)
def turl(context: template.Context, name: str, **kwargs: Any) -> str:
    """{% turl 'crm:member_edit' pk=1 %}: a URL inside the current tenant."""
    return tenant_reverse(name, context["request"].tenant, **kwargs)


@register.filter
def list_datetime(value: datetime | None) -> str:
    """Day, month and time (dd.mm HH:MM) in the current time zone, for list rows: Django's
    |date costs ~45 µs a call, which is 2 ms of a 50-row page."""
    return timezone.localtime(value).strftime("%d.%m %H:%M") if value else ""


@register.filter
def took(start: datetime, end: datetime) -> str:
    """{{ start|took:end }}: how long from start to end, as "in …" reads it: Russian wants
    the accusative ("за 1 минуту", "21 минуту"), which the past-tense words of |timesince
    ("1 минута") are not; humanize's future words are. Under a minute: "" (say so apart)."""
    if (end - start).total_seconds() < 60:
        return ""
    return timesince(start, end, time_strings=NaturalTimeFormatter.future_substrings)


@register.filter
def event_text(event: TimelineEvent) -> str:
    return describe(event)


@register.filter
def event_changes(event: TimelineEvent) -> list[tuple[str, str, str]]:
    """(label, old, new) texts of the fields the event changed (crm/history.py)."""
    return change_lines(event)


@register.filter
def carried_from(event: TimelineEvent, record: Any) -> int | None:
    """The lead an event on `record`'s card comes from (its history carried over on
    conversion), or None for the record's own events."""
    if not record or not hasattr(record, "_meta"):
        return None
    model = ContentType.objects.get_for_id(event.target_type_id).model_class()
    if model is None or model is type(record) or model._meta.label != "leads.Lead":
        return None
    return event.target_id


@register.filter
def event_links(event: TimelineEvent) -> list[tuple[str, int, str]]:
    return links(event)


@register.filter
def get_item(mapping: dict, key: str) -> Any:
    return mapping.get(key) if mapping else None


@register.filter
def bs_widget(field: BoundField, size: str = "") -> str:
    """Render a form field's widget with Bootstrap classes (and is-invalid on errors)."""
    widget = field.field.widget
    if isinstance(widget, forms.Select | forms.SelectMultiple) and not isinstance(
        widget, forms.CheckboxSelectMultiple
    ):
        css = "form-select" + (f" form-select-{size}" if size else "")
    elif isinstance(widget, forms.CheckboxInput):
        css = "form-check-input"
    else:
        css = "form-control" + (f" form-control-{size}" if size else "")
    if field.errors:
        css += " is-invalid"
    return field.as_widget(attrs={"class": css})


@register.filter
def inline_widget(field: BoundField) -> str:
    """A field's widget for editing in place (crm/inline.py): small, focused, labelled."""
    widget = field.field.widget
    attrs: dict[str, Any] = {"autofocus": True, "aria-label": str(field.label)}
    if isinstance(widget, forms.CheckboxInput):
        attrs["class"] = "form-check-input mt-2"
    elif isinstance(widget, forms.Select | forms.SelectMultiple):
        attrs["class"] = "form-select form-select-sm"
    else:
        attrs["class"] = "form-control form-control-sm"
    if field.errors:
        attrs["class"] += " is-invalid"
    if isinstance(widget, forms.Textarea):  # one line in place: commas separate the values
        value = field.value()
        value = ", ".join(value) if isinstance(value, list) else (value or "")
        return forms.TextInput().render(
            field.html_name,
            ", ".join(p.strip() for p in str(value).splitlines() if p.strip()),
            attrs={**attrs, "id": field.auto_id},
        )
    return field.as_widget(attrs=attrs)


@register.filter
def notification_text(notification: Notification) -> str:
    return notifications.notification_text(notification)


@register.filter
def balanced(value: Any) -> str:
    """User text with its bidi controls matched line by line (crm.text.bidi_balanced), for
    showing inside `<bdi>` or a `dir="auto"` element: it cannot reorder what follows it."""
    return bidi_balanced(str(value or ""))


@register.filter
def tel_href(phone: str) -> str:
    """A `tel:` URI (RFC 3966) for a phone as a record keeps it: `tel:+79991234567;ext=12`;
    the digits as written when no number can be read in it."""
    tenant = current_tenant()
    found = phones_in(phone or "", tenant.default_region if tenant else "")
    if not found:
        return "tel:" + "".join(c for c in phone or "" if c.isdigit() or c == "+")
    first = found[0]
    return f"tel:{first.e164};ext={first.extension}" if first.extension else f"tel:{first.e164}"


HANDLE = re.compile(r"^[a-z0-9_.]{1,64}$")


@register.filter
def messenger_href(handle: str, messenger: str) -> str:
    """A link that opens a person's messenger identity: WhatsApp `https://wa.me/<number>`,
    Telegram `tg://user?id=<id>` or `https://t.me/<username>`, VK `https://vk.com/<id or
    name>`; "" when the handle cannot be one."""
    tenant = current_tenant()
    key = messenger_key(messenger or "", handle or "", tenant.default_region if tenant else "")
    if messenger == "whatsapp":
        # wa.me's digits are international without "+" ("4915123456789").
        found = phones_in(key, "") or (phones_in("+" + key, "") if key.isdigit() else ())
        return f"https://wa.me/{found[0].e164.lstrip('+')}" if found else ""
    if not HANDLE.match(key):
        return ""
    if messenger == "telegram":
        return f"tg://user?id={key}" if key.isdigit() else f"https://t.me/{key}"
    return f"https://vk.com/{key}" if messenger == "vk" else ""


@register.simple_tag(takes_context=True)
def next_activity(context: template.Context, activity: Any) -> str:
    """{% next_activity record.next_activity %}: the record's next activity (crm.nextactivity)
    as a small line, overdue in red; the zone, "now" and the words looked up once a render."""
    renderer = context.render_context.get("next_activity_renderer")
    if renderer is None:
        renderer = context.render_context["next_activity_renderer"] = Renderer()
    if activity is not None and not isinstance(activity, NextActivity):
        activity = parse(activity)
    return mark_safe(renderer.html(activity))  # noqa: S308 - Renderer.html escapes every value


@register.filter
def age(created_at: datetime | None) -> str:
    """{{ record.created_at|age }}: "5 min", "3 h", "2 d"."""
    return age_of(created_at) if created_at else ""


@register.filter
def mail_html(value: str) -> SafeString:
    """An e-mail's HTML version, sanitized (nh3) at display whatever stored it."""
    return safe_html(str(value or ""))


@register.filter
def basic_auth_url(url: str, secret: str) -> str:
    """`url` with the secret as Basic-auth password (https://voronka:SECRET@host/…)."""
    scheme, sep, rest = str(url).partition("://")
    return f"{scheme}{sep}voronka:{secret}@{rest}" if sep else str(url)
