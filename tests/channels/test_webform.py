"""The web form channel over HTTP: Tilda's webhook, plain HTML and JSON posts, the widget,
field recognition and mapping, honeypot, rate limits, CORS, the secret, isolation."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from channels.adapters.webform import WebFormConfigForm
from channels.models import Channel, InboundEvent
from channels.services import channel_create, channel_update
from crm import ratelimit
from crm.models import TimelineEvent
from crm.tenancy import tenant_context
from tests.channels.conftest import events_of, leads_of

SITE = "https://shop.example.com"
FORM = "application/x-www-form-urlencoded"
HTML = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
Status = InboundEvent.Status

# What Tilda's webhook posts for a form with the standard fields, "Send cookies" ticked.
TILDA = {
    "Name": "Анна Смирнова",
    "Phone": "+7 (999) 123-45-67",
    "Email": "anna@example.com",
    "Comments": "Перезвоните после обеда",
    "Город": "Казань",
    "tranid": "6372751:4231561291",
    "formid": "form564361822",
    "formname": "Обратный звонок",
    "COOKIES": "_ym_uid=1699; TILDAUTM=utm_source%3Dyandex%7C%7C%7Cutm_medium%3Dcpc"
    "%7C%7C%7Cutm_campaign%3Dwinter%7C%7C%7C; tildauid=1700.123",
}


def config(**options: Any) -> dict[str, Any]:
    """A channel config as the settings form stores it (defaults filled in)."""
    form = WebFormConfigForm(prefix="config")
    data = {f"config-{name}": field.initial for name, field in form.fields.items()}
    data = {k: v for k, v in data.items() if v is not None}
    data.update({f"config-{name}": value for name, value in options.items()})
    form = WebFormConfigForm(data, prefix="config")
    assert form.is_valid(), form.errors
    return form.cleaned_data


@pytest.fixture(autouse=True)
def _one_rate_window(monkeypatch):
    """Rate limits count in fixed windows of a minute: keep every test inside one."""
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: 1_800_000_010.0))


@pytest.fixture
def web_form(tenant, admin) -> Channel:
    with tenant_context(tenant):
        return channel_create(
            actor=admin,
            kind="web_form",
            name="Сайт",
            config=config(allowed_origins=SITE, thank_you_text="Спасибо, <b>ждите</b>!"),
        )


def reconfigure(channel: Channel, admin, **options: Any) -> None:
    with tenant_context(channel.tenant):
        channel_update(actor=admin, channel=channel, data={"config": {**channel.config, **options}})
        channel.refresh_from_db()


def post_form(deliver, channel: Channel, fields: dict | list, **headers: str):
    return deliver(channel, body=urlencode(fields), content_type=FORM, **headers)


def url(channel: Channel, path: str = "") -> str:
    return reverse("inbound", kwargs={"token": channel.token}) + path


def inbound_data(lead) -> dict:
    """Where the lead's inquiry came from, as its timeline keeps it."""
    with tenant_context(lead.tenant):
        return TimelineEvent.objects.get(kind="lead.inquiry", target_id=lead.pk).data["inbound"]


# --- Tilda ----------------------------------------------------------------------------------


def test_a_tilda_webhook_becomes_a_lead_with_its_fields_and_utm(tenant, web_form, deliver):
    response = post_form(deliver, web_form, TILDA)
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    (lead,) = leads_of(tenant)
    assert lead.name == "Анна Смирнова"
    assert lead.phone_e164 == "+79991234567"
    assert lead.email == "anna@example.com"
    assert lead.source == "web_form"
    assert (lead.utm_source, lead.utm_medium, lead.utm_campaign) == ("yandex", "cpc", "winter")
    assert lead.message.startswith("Перезвоните после обеда\n\n")
    assert "Город: Казань" in lead.message
    assert "formname: Обратный звонок" in lead.message
    # Technical fields and the cookie string are not shown to managers.
    assert "tranid" not in lead.message
    assert "_ym_uid" not in lead.message
    (event,) = events_of(web_form)
    assert event.key == "tilda:6372751:4231561291"
    assert (event.status, event.outcome, event.lead_id) == (Status.DONE, "created", lead.pk)


def test_tilda_retrying_the_same_submission_makes_one_lead(tenant, web_form, deliver):
    assert post_form(deliver, web_form, TILDA).status_code == 200
    # A retry carries the same tranid (even if a cookie changed in between).
    again = post_form(deliver, web_form, {**TILDA, "COOKIES": "tildauid=1"})
    assert again.status_code == 200
    assert again.json()["status"] == "ok"
    assert len(leads_of(tenant)) == 1
    assert len(events_of(web_form)) == 1
    # Another submission of the same person joins their open lead.
    post_form(deliver, web_form, {**TILDA, "tranid": "6372751:4231561292"})
    assert len(events_of(web_form)) == 2
    assert events_of(web_form)[1].outcome == "attached"
    assert len(leads_of(tenant)) == 1


def test_tildas_webhook_check_is_answered_200_and_kept_as_ignored(tenant, web_form, deliver):
    for _attempt in range(2):
        response = post_form(deliver, web_form, {"test": "test"})
        assert response.status_code == 200
    assert leads_of(tenant) == []
    (event,) = events_of(web_form)
    assert event.status == Status.IGNORED
    assert event.lead_id is None


# --- Plain HTML and JSON --------------------------------------------------------------------


def test_a_plain_html_form_is_redirected_to_the_thank_you_page(tenant, admin, web_form, deliver):
    reconfigure(web_form, admin, thank_you_url="https://shop.example.com/thanks")
    response = post_form(
        deliver,
        web_form,
        {"name": "Пётр", "phone": "8 916 700-00-01", "message": "Нужен счёт"},
        HTTP_ACCEPT=HTML,
        HTTP_ORIGIN=SITE,
        HTTP_REFERER=f"{SITE}/landing?utm_source=vk&utm_campaign=spring",
    )
    assert response.status_code == 303
    assert response["Location"] == "https://shop.example.com/thanks"
    (lead,) = leads_of(tenant)
    assert (lead.name, lead.message) == ("Пётр", "Нужен счёт")
    assert (lead.utm_source, lead.utm_campaign) == ("vk", "spring")
    assert inbound_data(lead)["page_url"] == f"{SITE}/landing?utm_source=vk&utm_campaign=spring"


def test_without_a_thank_you_url_a_plain_form_gets_an_escaped_thank_you_page(web_form, deliver):
    response = post_form(
        deliver,
        web_form,
        {"phone": "+79991112233"},
        HTTP_ACCEPT=HTML,
        HTTP_ORIGIN=SITE,
        HTTP_REFERER=f"{SITE}/contacts",
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert response["Content-Type"].startswith("text/html")
    assert 'data-testid="webform-thanks"' in page
    assert "Спасибо, &lt;b&gt;ждите&lt;/b&gt;!" in page
    assert "<b>ждите" not in page
    assert f'href="{SITE}/contacts"' in page


def test_a_json_post_from_the_site_captures_page_utm_and_consent(tenant, admin, web_form, deliver):
    reconfigure(web_form, admin, consent_text="Согласен на обработку персональных данных")
    payload = {
        "name": "Ольга",
        "email": "olga@example.com",
        "message": "Хочу демо",
        "consent": "yes",
        "page_url": f"{SITE}/pricing?utm_source=google&utm_term=crm",
        "referrer": "https://www.google.com/",
        "utm_medium": "cpc",
        "website": "",
    }
    response = deliver(web_form, payload, HTTP_ORIGIN=SITE)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "message": "Спасибо, <b>ждите</b>!"}
    assert response["Access-Control-Allow-Origin"] == SITE
    (lead,) = leads_of(tenant)
    assert (lead.utm_source, lead.utm_medium, lead.utm_term) == ("google", "cpc", "crm")
    assert lead.message.startswith("Хочу демо\n\n")
    assert "https://www.google.com/" in lead.message  # where the visitor came from
    data = inbound_data(lead)
    assert data["page_url"] == f"{SITE}/pricing?utm_source=google&utm_term=crm"
    assert data["consent"] == "Согласен на обработку персональных данных"
    # An unticked box is no consent.
    deliver(web_form, {"phone": "+79990000001", "consent": "false"})
    assert "consent" not in inbound_data(leads_of(tenant)[1])


def test_russian_and_differently_cased_field_names_are_recognised(tenant, web_form, deliver):
    fields = {
        "Ваше имя": "Иван",
        "ТЕЛЕФОН": "+7 999 765-43-21",
        "Эл. почта": "ivan@example.com",
        "Компания": "ООО Ромашка",
        "Сообщение": "Интересует опт",
        "Тема": "Опт",
    }
    assert post_form(deliver, web_form, fields).status_code == 200
    (lead,) = leads_of(tenant)
    assert (lead.name, lead.phone_e164, lead.email) == ("Иван", "+79997654321", "ivan@example.com")
    assert (lead.company_name, lead.message, lead.title) == ("ООО Ромашка", "Интересует опт", "Опт")


def test_the_field_mapping_sends_fields_where_the_channel_says(tenant, admin, web_form, deliver):
    mapping = "Город = custom.city\nБюджет = message\nОткуда узнали = utm_source\nformname = title"
    reconfigure(web_form, admin, field_mapping=mapping)
    fields = {**TILDA, "Бюджет": "до 100 тыс.", "Откуда узнали": "друзья", "Размер": "XL"}
    post_form(deliver, web_form, fields)
    (lead,) = leads_of(tenant)
    assert lead.custom == {"city": "Казань"}
    assert lead.title == "Обратный звонок"
    assert lead.utm_source == "друзья"  # the mapped field wins over the cookie
    assert lead.message.startswith("Перезвоните после обеда\nдо 100 тыс.\n\n")
    assert "Размер: XL" in lead.message  # unmapped fields are kept in the message
    assert "Город" not in lead.message


def test_multipart_and_windows_1251_forms_are_read(tenant, web_form, deliver):
    boundary = "----form1"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="Имя"\r\n\r\nМария\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="tel"\r\n\r\n+79995550011\r\n'
        f"--{boundary}--\r\n"
    ).encode()
    response = deliver(
        web_form, body=body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert response.status_code == 200
    legacy = urlencode({"name": "Сергей", "phone": "+79995550012"}, encoding="cp1251")
    response = deliver(web_form, body=legacy, content_type=f"{FORM}; charset=windows-1251")
    assert response.status_code == 200
    assert [lead.name for lead in leads_of(tenant)] == ["Мария", "Сергей"]


# --- Validation and spam --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "invalid"),
    [
        ({"name": "Без контактов", "message": "?"}, set()),
        ({"name": "Кривая почта", "email": "anna@"}, {"email"}),
        ({"phone": "12", "email": "not-an-email"}, {"phone", "email"}),
    ],
)
def test_no_way_to_reach_the_person_is_refused_and_kept_as_rejected(
    tenant, web_form, deliver, fields, invalid
):
    response = deliver(web_form, fields, HTTP_ORIGIN=SITE)
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == "error"
    assert body["error"]
    assert set(body["fields"]) == invalid
    assert response["Access-Control-Allow-Origin"] == SITE  # the widget can read the error
    (event,) = events_of(web_form)
    assert event.status == Status.REJECTED
    assert event.detail == body["error"]
    assert leads_of(tenant) == []


def test_a_refused_plain_form_gets_a_small_error_page(tenant, web_form, deliver):
    response = post_form(deliver, web_form, {"name": "Без контактов"}, HTTP_ACCEPT=HTML)
    assert response.status_code == 400
    assert 'data-testid="webform-error"' in response.content.decode()
    assert events_of(web_form)[0].status == Status.REJECTED


def test_a_malformed_email_beside_a_good_phone_is_kept_in_the_message(tenant, web_form, deliver):
    assert deliver(web_form, {"phone": "+79991234567", "email": "anna@"}).status_code == 200
    (lead,) = leads_of(tenant)
    assert lead.email == ""
    assert "email: anna@" in lead.message


def test_a_malformed_body_is_rejected(tenant, admin, web_form, deliver):
    assert deliver(web_form, body="{not json").status_code == 400
    assert deliver(web_form, body="[1, 2]").status_code == 400
    # A mapping broken behind the settings form's back refuses visibly, not with a 500.
    reconfigure(web_form, admin, field_mapping="a = salary")
    assert deliver(web_form, {"phone": "+79990000001"}).status_code == 400
    assert [e.status for e in events_of(web_form)] == [Status.REJECTED] * 3
    assert "salary" in events_of(web_form)[2].detail


def test_a_filled_honeypot_is_spam_answered_like_a_success(tenant, admin, web_form, deliver):
    good = deliver(web_form, {"phone": "+79990000001"}, HTTP_ORIGIN=SITE)
    bot = deliver(
        web_form, {"phone": "+79990000002", "website": "http://spam.example"}, HTTP_ORIGIN=SITE
    )
    assert (bot.status_code, bot.json()) == (good.status_code, good.json())
    reconfigure(web_form, admin, honeypot="fax")
    # A bot that fills everything gets no hint either, even with no usable contact.
    assert post_form(deliver, web_form, {"name": "x", "FAX": "1"}).json()["status"] == "ok"
    assert len(leads_of(tenant)) == 1
    spam = [e for e in events_of(web_form) if e.status == Status.SPAM]
    assert len(spam) == 2
    assert spam[0].lead_id is None
    assert "website" in spam[0].detail


# --- Rate limits, CORS, secret --------------------------------------------------------------


def test_the_per_address_rate_limit_answers_429_and_stores_nothing(
    tenant, admin, web_form, deliver
):
    reconfigure(web_form, admin, rate_limit_ip=2)
    codes = [
        deliver(web_form, {"phone": f"+7999000000{i}"}, HTTP_ORIGIN=SITE).status_code
        for i in range(3)
    ]
    assert codes == [200, 200, 429]
    limited = deliver(web_form, {"phone": "+79990000009"}, HTTP_ORIGIN=SITE)
    assert limited["Retry-After"].isdigit()
    assert limited["Access-Control-Allow-Origin"] == SITE
    assert limited.json()["status"] == "error"
    # Another address is still welcome, and so is a site builder's server (no Origin).
    other = deliver(web_form, {"phone": "+79990000008"}, REMOTE_ADDR="10.0.0.9", HTTP_ORIGIN=SITE)
    assert other.status_code == 200
    assert deliver(web_form, {"phone": "+79990000007"}).status_code == 200
    assert len(events_of(web_form)) == 4
    assert len(leads_of(tenant)) == 4


def test_the_per_channel_rate_limit_counts_every_address(tenant, admin, web_form, deliver):
    reconfigure(web_form, admin, rate_limit=3)
    codes = [
        deliver(web_form, {"phone": f"+7999000001{i}"}, REMOTE_ADDR=f"10.0.0.{i}").status_code
        for i in range(4)
    ]
    assert codes == [200, 200, 200, 429]
    page = post_form(deliver, web_form, {"phone": "+79990000100"}, HTTP_ACCEPT=HTML)
    assert page.status_code == 429
    assert 'data-testid="webform-error"' in page.content.decode()
    assert len(events_of(web_form)) == 3


def test_the_preflight_is_answered_for_allowed_sites_only(web_form):
    client = Client()
    allowed = client.options(
        url(web_form),
        HTTP_ORIGIN=SITE,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type",
    )
    assert allowed.status_code == 204
    assert allowed["Access-Control-Allow-Origin"] == SITE
    assert "POST" in allowed["Access-Control-Allow-Methods"]
    assert "Content-Type" in allowed["Access-Control-Allow-Headers"]
    assert "Origin" in allowed["Vary"]
    for origin, method in (("https://evil.example", "POST"), (SITE, "DELETE"), ("null", "POST")):
        refused = client.options(
            url(web_form), HTTP_ORIGIN=origin, HTTP_ACCESS_CONTROL_REQUEST_METHOD=method
        )
        assert refused.status_code == 403
        assert "Access-Control-Allow-Origin" not in refused


def test_a_browser_on_another_site_is_refused_and_nothing_is_stored(tenant, web_form, deliver):
    response = deliver(web_form, {"phone": "+79990000001"}, HTTP_ORIGIN="https://evil.example")
    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response
    page = post_form(
        deliver, web_form, {"phone": "+79990000001"}, HTTP_ORIGIN="null", HTTP_ACCEPT=HTML
    )
    assert page.status_code == 403
    assert events_of(web_form) == []
    # Servers (no Origin) are not browsers: Tilda and backends may post.
    assert deliver(web_form, {"phone": "+79990000001"}).status_code == 200
    assert "Access-Control-Allow-Origin" not in deliver(web_form, {"phone": "+79990000002"})


def test_a_required_secret_comes_in_the_query_or_a_header(tenant, admin, web_form, deliver):
    reconfigure(web_form, admin, secret_required=True)
    payload = urlencode(TILDA)
    assert deliver(web_form, body=payload, content_type=FORM).status_code == 403
    assert (
        deliver(web_form, body=payload, content_type=FORM, path="?secret=wrong").status_code == 403
    )
    assert events_of(web_form) == []
    with_query = deliver(
        web_form, body=payload, content_type=FORM, path=f"?secret={web_form.secret}"
    )
    assert with_query.status_code == 200
    with_header = deliver(
        web_form, {"phone": "+79990000001"}, HTTP_X_VORONKA_SECRET=web_form.secret
    )
    assert with_header.status_code == 200
    assert len(leads_of(tenant)) == 2


# --- The widget -----------------------------------------------------------------------------


def test_the_widget_script_is_served_with_the_channels_settings(admin, web_form):
    reconfigure(web_form, admin, title="</script><script>alert(1)</script>", field_email=False)
    response = Client().get(url(web_form, "widget.js"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/javascript; charset=utf-8"
    assert "max-age=300" in response["Cache-Control"]
    source = response.content.decode()
    assert "</script>" not in source
    assert "\\u003c/script\\u003e\\u003cscript\\u003ealert(1)" in source
    assert f'"token": "{web_form.token}"' in source
    assert '"fields": ["name", "phone", "message"]' in source
    assert '"accent": "#2457d6"' in source  # the default colour
    assert "/*VORONKA_CONFIG*/null" not in source
    cached = Client().get(url(web_form, "widget.js"), HTTP_IF_NONE_MATCH=response["ETag"])
    assert cached.status_code == 304


def test_other_paths_and_methods_of_a_web_form(tenant, admin, web_form, deliver):
    client = Client()
    # A site builder checking the address before saving its webhook: 200, nothing stored.
    for check in (client.get, client.head):
        assert check(url(web_form)).status_code == 200
    assert events_of(web_form) == []
    assert client.get(url(web_form, "other")).status_code == 404
    assert client.post(url(web_form, "widget.js"), {"phone": "1"}).status_code == 404
    with tenant_context(tenant):
        channel_update(actor=admin, channel=web_form, data={"enabled": False})
    assert client.get(url(web_form, "widget.js")).status_code == 404
    assert deliver(web_form, {"phone": "+79990000001"}).status_code == 404


# --- Settings, command, isolation -----------------------------------------------------------


def test_admin_sets_up_a_web_form_and_sees_the_snippet_and_tilda_steps(tenant, admin, client_for):
    client = client_for(admin)
    base = f"/{tenant.slug}/settings/channels/"
    assert client.get(base + "new/web_form/").status_code == 200
    data = {
        "name": "Лендинг",
        "enabled": "on",
        "config-allowed_origins": "https://Shop.Example.com:443/contacts, http://localhost:8080",
        "config-field_mapping": "Город = custom.city",
        "config-honeypot": "website",
        "config-field_phone": "on",
        "config-rate_limit_ip": "10",
        "config-rate_limit": "100",
    }
    bad = client.post(base + "new/web_form/", {**data, "config-allowed_origins": "shop"})
    assert bad.status_code == 400
    bad = client.post(base + "new/web_form/", {**data, "config-field_mapping": "a = salary"})
    assert bad.status_code == 400
    bad = client.post(base + "new/web_form/", {**data, "config-field_phone": ""})
    assert bad.status_code == 400
    for colour in ("red", "#12345", "#12345g", "#0a7d55;x"):
        bad = client.post(base + "new/web_form/", {**data, "config-accent_color": colour})
        assert bad.status_code == 400
        assert "#rrggbb" in bad.content.decode()
    with tenant_context(tenant):
        assert not Channel.objects.filter(name="Лендинг").exists()
    response = client.post(base + "new/web_form/", {**data, "config-accent_color": "#0A7D55"})
    assert response.status_code == 302
    with tenant_context(tenant):
        channel = Channel.objects.get(name="Лендинг")
    assert channel.config["allowed_origins"] == "https://shop.example.com\nhttp://localhost:8080"
    assert channel.config["field_email"] is False
    assert channel.config["accent_color"] == "#0A7D55"
    widget = Client().get(f"/in/{channel.token}/widget.js").content.decode()
    assert '"accent": "#0A7D55"' in widget
    page = client.get(response["Location"]).content.decode()
    assert f"/in/{channel.token}/widget.js" in page
    assert f'data-channel="{channel.token}"' in page
    assert 'data-testid="webform-html"' in page
    assert 'data-testid="webform-tilda-url"' in page
    assert channel.secret not in page  # shown only when the channel requires it


def test_web_form_settings_are_for_settings_managers_of_the_tenant(
    tenant, manager, other_admin, other_tenant, client_for, web_form
):
    base = f"/{tenant.slug}/settings/channels/"
    assert client_for(manager).get(base + "new/web_form/").status_code == 403
    assert client_for(manager).get(f"{base}{web_form.pk}/").status_code == 403
    theirs = f"/{other_tenant.slug}/settings/channels/{web_form.pk}/"
    assert client_for(other_admin).get(theirs).status_code == 404


def test_create_channel_provisions_a_web_form(tenant, deliver):
    from io import StringIO

    out = StringIO()
    call_command(
        "create_channel",
        "--tenant",
        tenant.slug,
        "--kind",
        "web_form",
        "--name",
        "Tilda",
        "--allowed-origins",
        "https://a.example, https://b.example",
        "--option",
        "rate_limit_ip=5",
        stdout=out,
    )
    with tenant_context(tenant):
        channel = Channel.objects.get(name="Tilda")
    assert out.getvalue().strip() == f"/in/{channel.token}/"
    assert channel.config["allowed_origins"] == "https://a.example\nhttps://b.example"
    assert channel.config["rate_limit_ip"] == 5
    assert channel.config["field_phone"] is True
    assert post_form(deliver, channel, TILDA).status_code == 200
    assert len(leads_of(tenant)) == 1


def test_a_web_form_writes_only_into_its_own_tenant(
    tenant, other_tenant, other_admin, web_form, deliver
):
    with tenant_context(other_tenant):
        theirs = channel_create(actor=other_admin, kind="web_form", name="Их сайт")
    assert post_form(deliver, theirs, TILDA).status_code == 200
    # The same Tilda submission id in another tenant's channel is another delivery.
    assert post_form(deliver, web_form, TILDA).status_code == 200
    assert len(leads_of(other_tenant)) == 1
    assert len(leads_of(tenant)) == 1
    with tenant_context(other_tenant):
        assert InboundEvent.objects.count() == 1
