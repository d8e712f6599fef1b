"""The web form channel: a site's own forms, site builders' form webhooks (Tilda…) and the
embeddable widget, all posting to the channel's endpoint.

    POST /in/<token>/            a submission: urlencoded, multipart or JSON
    OPTIONS /in/<token>/         the CORS preflight of the widget's fetch
    GET /in/<token>/widget.js    the widget, with the channel's texts and fields
    GET /in/<token>/             200 and nothing stored (site builders check addresses so)

Browsers (they send `Origin`) may post only from the channel's allowed origins; servers
(Tilda's webhook, a site's backend: no `Origin`) may post from anywhere, with the secret when
the channel requires it (`?secret=` or `X-Voronka-Secret`). A filled honeypot field is spam,
answered like a success. Over the rate limits (per IP, per channel) the answer is 429 and
nothing is stored. Tilda's `test=test` check is answered 200 and stored as ignored.
Answers: JSON for fetch/JSON/webhooks; for a plain HTML form a 303 to the thank-you URL or a
small thank-you page, and a small error page when the submission is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from axes.helpers import get_client_ip_address
from django import forms
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from channels.adapters import Adapter, Delivery, Forbidden, RawDelivery, Rejected, register
from channels.adapters.formdata import (
    DEFAULT_HONEYPOT,
    FormRejected,
    parse_body,
    parse_mapping,
    read_submission,
    require_contact,
)
from channels.models import Channel, InboundEvent
from crm import ratelimit
from crm.colours import HEX_COLOUR

DEFAULT_RATE_LIMIT_IP = 10
DEFAULT_RATE_LIMIT = 600
WIDGET_FIELDS = ("name", "phone", "email", "message")
DEFAULT_ACCENT = "#2457d6"
WIDGET_SOURCE = settings.BASE_DIR / "static" / "channels" / "widget.js"
WIDGET_MARKER = "/*VORONKA_CONFIG*/null"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def normalize_origin(value: str) -> str:
    """ "https://Shop.example.com:443/contacts" → "https://shop.example.com"; ValueError."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(value)
    host = parts.hostname.encode("idna").decode("ascii")
    port = parts.port
    default = 443 if parts.scheme == "https" else 80
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def allowed_origins(channel: Channel) -> set[str]:
    return set((channel.config.get("allowed_origins") or "").split())


class WebFormConfigForm(forms.Form):
    allowed_origins = forms.CharField(
        label=gettext_lazy("Sites allowed to post from the browser"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "https://example.com"}),
        help_text=gettext_lazy(
            "One address per line, e.g. https://example.com. Browsers on other sites are "
            "refused; servers (Tilda's webhook) are not affected."
        ),
    )
    secret_required = forms.BooleanField(
        label=gettext_lazy(
            "Require the secret (?secret=… or X-Voronka-Secret): for servers only, "
            "the widget and browser forms cannot send it"
        ),
        required=False,
    )
    field_mapping = forms.CharField(
        label=gettext_lazy("Field mapping"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "city = custom.city"}),
        help_text=gettext_lazy(
            "“their field = our field”, one per line. Our fields: name, phone, email, message, "
            "company_name, title, page_url, consent, utm_source…utm_term, custom.<key>, ignore. "
            "Fields nobody maps are added to the message."
        ),
    )
    honeypot = forms.CharField(
        label=gettext_lazy("Honeypot field"),
        max_length=60,
        required=False,
        initial=DEFAULT_HONEYPOT,
        help_text=gettext_lazy("A hidden field people never fill in; filled in means a bot."),
    )
    field_name = forms.BooleanField(label=gettext_lazy("Widget: name"), required=False)
    field_phone = forms.BooleanField(label=gettext_lazy("Widget: phone"), required=False)
    field_email = forms.BooleanField(label=gettext_lazy("Widget: e-mail"), required=False)
    field_message = forms.BooleanField(label=gettext_lazy("Widget: message"), required=False)
    title = forms.CharField(label=gettext_lazy("Widget title"), max_length=120, required=False)
    button_text = forms.CharField(label=gettext_lazy("Button text"), max_length=60, required=False)
    thank_you_text = forms.CharField(
        label=gettext_lazy("Thank-you text"), max_length=300, required=False
    )
    accent_color = forms.RegexField(
        label=gettext_lazy("Widget colour"),
        regex=HEX_COLOUR,
        max_length=7,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": DEFAULT_ACCENT}),
        help_text=gettext_lazy("The button's colour, as #rrggbb (your brand's colour)."),
        error_messages={"invalid": gettext_lazy("Give a colour as #rrggbb, e.g. #2457d6.")},
    )
    thank_you_url = forms.URLField(
        label=gettext_lazy("Thank-you page (plain HTML forms are redirected there)"),
        required=False,
        assume_scheme="https",
    )
    consent_text = forms.CharField(
        label=gettext_lazy("Consent checkbox text"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("Shown next to a required checkbox; stored with every lead."),
    )
    rate_limit_ip = forms.IntegerField(
        label=gettext_lazy("Submissions per minute from one address"),
        help_text=gettext_lazy("Browsers only: a site builder's webhook counts per form."),
        min_value=1,
        max_value=10_000,
        initial=DEFAULT_RATE_LIMIT_IP,
    )
    rate_limit = forms.IntegerField(
        label=gettext_lazy("Submissions per minute to this form"),
        min_value=1,
        max_value=100_000,
        initial=DEFAULT_RATE_LIMIT,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in WIDGET_FIELDS:
            self.fields[f"field_{name}"].initial = True
        for name, default in _default_texts().items():
            self.fields[name].widget.attrs["placeholder"] = default

    def clean_allowed_origins(self) -> str:
        origins = []
        for item in re.split(r"[\s,]+", self.cleaned_data["allowed_origins"]):
            if not item:
                continue
            try:
                origin = normalize_origin(item)
            except ValueError:
                raise forms.ValidationError(
                    _("“%(value)s” is not a site address like https://example.com.")
                    % {"value": item}
                ) from None
            if origin not in origins:
                origins.append(origin)
        return "\n".join(origins)

    def clean_field_mapping(self) -> str:
        text = self.cleaned_data["field_mapping"].strip()
        try:
            parse_mapping(text)
        except ValueError as error:
            raise forms.ValidationError(str(error)) from None
        return text

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not (data.get("field_phone") or data.get("field_email")):
            raise forms.ValidationError(_("The widget needs a phone or an e-mail field."))
        return data


def _default_texts() -> dict[str, str]:
    return {
        "title": _("Leave a request"),
        "button_text": _("Send"),
        "thank_you_text": _("Thank you! We will contact you soon."),
    }


def _text(channel: Channel, name: str) -> str:
    return channel.config.get(name) or _default_texts()[name]


def _language(channel: Channel) -> str:
    return channel.tenant.language


def _wants_html(request: HttpRequest) -> bool:
    """A plain HTML form posted by a browser (it shows our answer as a page)."""
    return request.content_type in FORM_TYPES and "text/html" in request.headers.get("Accept", "")


def _with_cors(request: HttpRequest, channel: Channel, response: HttpResponse) -> HttpResponse:
    origin = request.headers.get("Origin", "")
    if origin and origin in allowed_origins(channel):
        response["Access-Control-Allow-Origin"] = origin
    patch_vary_headers(response, ["Origin"])
    return response


def _page(request: HttpRequest, text: str, *, status: int, error: bool = False) -> HttpResponse:
    referer = request.headers.get("Referer", "")
    context = {
        "text": text,
        "error": error,
        "back": referer if referer.startswith(("http://", "https://")) else "",
    }
    html = render_to_string("channels/webform_page.html", context)
    return HttpResponse(html, status=status)


def _answer(
    request: HttpRequest,
    channel: Channel,
    *,
    status: int,
    text: str,
    error: bool = False,
    fields: dict[str, str] | None = None,
) -> HttpResponse:
    """The visitor-facing answer: a small page for plain forms, JSON for everyone else
    (errors with messages per field, which the widget shows by its inputs)."""
    if _wants_html(request):
        return _page(request, text, status=status, error=error)
    body: dict[str, Any] = {"status": "ok", "message": text}
    if error:
        body = {"status": "error", "error": text, "fields": fields or {}}
    return _with_cors(request, channel, JsonResponse(body, status=status))


@register
class WebFormAdapter(Adapter):
    kind = "web_form"
    config_form = WebFormConfigForm
    setup_template = "channels/kinds/web_form.html"

    def handle(self, request: HttpRequest, channel: Channel, path: str) -> HttpResponse | None:
        path = path.strip("/")
        with translation.override(_language(channel)):
            if path == "widget.js" and request.method in ("GET", "HEAD"):
                return widget_response(request, channel)
            if path:
                return JsonResponse(
                    {"status": "error", "error": _("No such endpoint.")}, status=404
                )
            if request.method in ("GET", "HEAD"):
                # Site builders may check a webhook's address with a GET before saving it.
                return JsonResponse(
                    {"status": "ok", "message": _("This form takes submissions by POST.")}
                )
            if request.method == "OPTIONS":
                return self._preflight(request, channel)
            origin = request.headers.get("Origin")
            if request.method == "POST" and origin and origin not in allowed_origins(channel):
                text = _("This site may not send to this form.")
                return _answer(request, channel, status=403, text=text, error=True)
        return None

    def _preflight(self, request: HttpRequest, channel: Channel) -> HttpResponse:
        origin = request.headers.get("Origin", "")
        method = request.headers.get("Access-Control-Request-Method", "")
        if origin not in allowed_origins(channel) or method != "POST":
            response = HttpResponse(status=403)
            patch_vary_headers(response, ["Origin"])
            return response
        response = _with_cors(request, channel, HttpResponse(status=204))
        response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response["Access-Control-Allow-Headers"] = "Content-Type, Accept, X-Voronka-Secret"
        response["Access-Control-Max-Age"] = "600"
        return response

    def authenticate(self, request: HttpRequest, channel: Channel) -> None:
        if not channel.config.get("secret_required"):
            return
        given = request.GET.get("secret") or request.headers.get("X-Voronka-Secret", "")
        if not hmac.compare_digest(given.encode(), channel.secret.encode()):
            raise Forbidden

    def throttle(self, request: HttpRequest, channel: Channel) -> HttpResponse | None:
        ip = get_client_ip_address(request) or ""  # honours PROXY_COUNT, like login throttling
        per_ip = int(channel.config.get("rate_limit_ip") or DEFAULT_RATE_LIMIT_IP)
        per_channel = int(channel.config.get("rate_limit") or DEFAULT_RATE_LIMIT)
        # The per-address limit is for visitors' browsers (they send Origin). A site builder's
        # webhook comes from a few servers of theirs for every visitor of the site: it is held
        # only by the channel's own limit.
        browser = "Origin" in request.headers
        if not (
            (browser and ratelimit.over_limit(f"webform:{channel.token}:{ip}", limit=per_ip))
            or ratelimit.over_limit(f"webform:{channel.token}", limit=per_channel)
        ):
            return None
        with translation.override(_language(channel)):
            text = _("Too many submissions; please try again in a minute.")
            response = _answer(request, channel, status=429, text=text, error=True)
        response["Retry-After"] = str(ratelimit.retry_after())
        return response

    def read(self, raw: RawDelivery, channel: Channel) -> Delivery:
        with translation.override(_language(channel)):
            submission = read_submission(
                parse_body(raw),
                config=channel.config,
                headers=raw.headers,
                region=channel.tenant.default_region,
            )
            key = f"tilda:{submission.tranid[:150]}" if submission.tranid else raw.body_hash()
            if submission.ping:
                return Delivery(key=key, ignored=_("The site builder's webhook check."))
            if submission.honeypot:
                spam = _("The hidden field “%(field)s” was filled in.") % {
                    "field": channel.config.get("honeypot") or DEFAULT_HONEYPOT
                }
                return Delivery(key=key, message=submission.message, spam=spam)
            require_contact(submission)
        return Delivery(key=key, message=submission.message)

    def respond(
        self, request: HttpRequest, channel: Channel, event: InboundEvent, created: bool
    ) -> HttpResponse:
        # Spam and repeats are answered exactly like a success: nothing to learn for a bot.
        with translation.override(_language(channel)):
            url = channel.config.get("thank_you_url")
            if _wants_html(request) and url:
                return HttpResponseRedirect(url, status=303)
            return _answer(request, channel, status=200, text=_text(channel, "thank_you_text"))

    def reject(self, request: HttpRequest, channel: Channel, error: Rejected) -> HttpResponse:
        fields = error.fields if isinstance(error, FormRejected) else {}
        with translation.override(_language(channel)):
            return _answer(
                request, channel, status=error.status, text=error.reason, error=True, fields=fields
            )


# --- The widget ---------------------------------------------------------------------------


@cache
def _widget_source() -> str:
    return WIDGET_SOURCE.read_text(encoding="utf-8")


def _json_for_js(value: Any) -> str:
    """JSON that is also safe inside a script: no "</script>", no line separators."""
    text = json.dumps(value, ensure_ascii=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def widget_config(channel: Channel) -> dict[str, Any]:
    """What the widget shows: the channel's fields and texts, in the tenant's language."""
    config = channel.config
    return {
        "token": channel.token,
        "fields": [name for name in WIDGET_FIELDS if config.get(f"field_{name}", True)],
        "title": _text(channel, "title"),
        "button": _text(channel, "button_text"),
        "thanks": _text(channel, "thank_you_text"),
        "consent": config.get("consent_text") or "",
        "accent": config.get("accent_color") or DEFAULT_ACCENT,
        "honeypot": config.get("honeypot") or DEFAULT_HONEYPOT,
        "labels": {
            "name": _("Your name"),
            "phone": _("Phone"),
            "email": _("E-mail"),
            "message": _("Message"),
            "honeypot": _("Leave this field empty"),
        },
        "texts": {
            "sending": _("Sending…"),
            "required": _("Please fill in this field."),
            "contact": _("Leave a phone or an e-mail so we can reach you."),
            "email": _("Enter a valid e-mail address."),
            "phone": _("Enter a valid phone number."),
            "consent": _("Please confirm your consent."),
            "failed": _("The form could not be sent. Please try again later."),
        },
    }


def widget_response(request: HttpRequest, channel: Channel) -> HttpResponse:
    """widget.js with the channel's settings injected as JSON (cacheable for 5 minutes)."""
    body = _widget_source().replace(WIDGET_MARKER, _json_for_js(widget_config(channel)), 1)
    etag = '"' + hashlib.sha256(body.encode()).hexdigest()[:32] + '"'
    if request.headers.get("If-None-Match") == etag:
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(body, content_type="text/javascript; charset=utf-8")
    response["ETag"] = etag
    response["Cache-Control"] = "public, max-age=300"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response
