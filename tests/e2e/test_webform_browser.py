"""End to end in a real browser: a visitor submits the embedded widget on a page served from
another origin, and the lead appears in the manager's open inbox without a reload."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import expect

from channels.models import Channel, InboundEvent
from channels.services import channel_create
from crm.models import Membership
from crm.tenancy import tenant_context
from leads.models import Lead
from leads.services import lead_create
from tests.e2e.pages import log_in
from tests.factories import add_member, make_tenant

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGE = """<!doctype html>
<html lang="ru"><head><meta charset="utf-8"><title>Магазин окон</title></head>
<body>
<h1>Окна на заказ</h1>
<p>Оставьте заявку — перезвоним за 5 минут.</p>
<div id="request-form"></div>
<script src="{src}" data-channel="{token}" data-target="#request-form"{extra} async></script>
</body></html>
"""


PLAIN = """<!doctype html>
<html lang="ru"><head><meta charset="utf-8"><title>Контакты</title></head>
<body>
<form action="{action}" method="post">
  <label>Имя <input name="Имя"></label>
  <label>Телефон <input name="Телефон" type="tel"></label>
  <label>Город <input name="Город"></label>
  <input name="website" tabindex="-1" autocomplete="off" hidden>
  <button>Отправить</button>
</form>
</body></html>
"""


class _Site(BaseHTTPRequestHandler):
    """A customer's site on another origin: a page with the widget, one with a plain form."""

    pages: dict[str, bytes] = {}
    # A strict policy, as careful sites have: scripts and requests only to the CRM, no inline
    # styles — the widget styles itself through the CSSOM, which such a policy allows.
    csp = ""
    timeout = 10  # a stuck connection cannot hold the server (and the test) forever

    def do_GET(self) -> None:
        page = self.pages.get(self.path.split("?")[0], b"")
        self.send_response(200 if page else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(page)))
        if self.csp:
            self.send_header("Content-Security-Policy", self.csp)
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, format: str, *args: object) -> None:  # quiet: no access log
        pass


@pytest.fixture
def site() -> Iterator[tuple[ThreadingHTTPServer, str]]:
    """A loopback HTTP server on its own port (another origin than the live server)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Site", (_Site,), {}))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.daemon = True
    thread.start()
    try:
        yield server, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def shop(site, live_server):
    server, origin = site
    tenant = make_tenant("shop", name="Магазин")
    manager = add_member(tenant, "manager")
    with tenant_context(tenant):
        admin = Membership.objects.get(role__kind="admin")
        # The inbox polls for arrivals newer than its newest row: start with one.
        lead_create(
            actor=admin,
            data={"title": "Звонок вчера", "name": "Ольга", "phone": "+7 999 100-20-30"},
            owner=None,
        )
        channel = channel_create(
            actor=admin,
            kind="web_form",
            name="Сайт окон",
            config={
                "allowed_origins": origin,
                "title": "Заявка на замер",
                "button_text": "Отправить заявку",
                "thank_you_text": "Спасибо! Перезвоним за 5 минут.",
                "consent_text": "Согласен на обработку персональных данных",
                "accent_color": "#ffd400",  # a light brand colour: the button's text turns dark
            },
        )
    endpoint = f"{live_server.url}/in/{channel.token}/"
    widget = endpoint + "widget.js"
    server.RequestHandlerClass.csp = (
        f"default-src 'self'; script-src {live_server.url}; connect-src {live_server.url}; "
        "style-src 'self'"
    )
    server.RequestHandlerClass.pages = {
        "/okna": PAGE.format(src=widget, token=channel.token, extra="").encode(),
        "/okna-own-style": PAGE.format(
            src=widget, token=channel.token, extra=' data-style="none"'
        ).encode(),
        "/contacts": PLAIN.format(action=endpoint).encode(),
        "/": "<!doctype html><title>Окна</title><h1>Окна на заказ</h1>".encode(),
    }
    return {"tenant": tenant, "manager": manager, "channel": channel, "origin": origin}


_log_in = partial(log_in, workspace="shop")


def test_a_widget_on_another_site_puts_a_lead_into_the_open_inbox(new_page, shots, shop):
    inbox = new_page()
    _log_in(inbox, shop["manager"].user.email)
    inbox.goto("/shop/leads/inbox/")
    expect(inbox.locator("[data-testid=live-inbox]")).to_have_count(1)
    inbox.screenshot(path=shots / "01-inbox-before.png", full_page=True)

    visitor = new_page()
    visitor.goto(f"{shop['origin']}/okna?utm_source=yandex&utm_campaign=zamer")
    form = visitor.locator("#request-form form[data-voronka-form]")
    expect(form).to_be_visible()
    expect(form.get_by_role("heading")).to_have_text("Заявка на замер")
    # Labels are tied to their inputs; the honeypot is out of sight and out of the tab order.
    expect(form.get_by_label("Согласен на обработку персональных данных")).not_to_be_checked()
    honeypot = form.locator("input[name=website]")
    assert honeypot.get_attribute("tabindex") == "-1"
    assert not honeypot.is_visible() or honeypot.bounding_box()["x"] < 0
    # Styled under the page's strict CSP (no inline styles allowed), in the page's font.
    radius, font, page_font = form.evaluate(
        "f => [getComputedStyle(f).borderTopLeftRadius, getComputedStyle(f).fontFamily,"
        " getComputedStyle(document.body).fontFamily]"
    )
    assert radius == "12px"
    assert font == page_font
    button = form.get_by_role("button", name="Отправить заявку")
    colours = button.evaluate(
        "b => [getComputedStyle(b).backgroundColor, getComputedStyle(b).color]"
    )
    assert colours == ["rgb(255, 212, 0)", "rgb(31, 36, 48)"]
    visitor.screenshot(path=shots / "02-widget.png", full_page=True)

    # Client-side checks: no contact, no consent.
    form.get_by_role("button", name="Отправить заявку").click()
    phone = form.locator("input[name=phone]")
    expect(phone).to_have_attribute("aria-invalid", "true")
    expect(phone).to_be_focused()
    expect(form.locator("[role=status]")).not_to_be_empty()
    visitor.screenshot(path=shots / "03-client-errors.png", full_page=True)

    # A server error is shown by its field: too many digits for a phone number.
    phone.fill("+7 999 123 45 67 89 01 23 45 67")
    form.locator("input[type=checkbox]").check()
    form.get_by_role("button", name="Отправить заявку").click()
    expect(phone).to_have_attribute("aria-invalid", "true")
    expect(form.locator(f"#{phone.get_attribute('aria-describedby')}")).to_be_visible()
    visitor.screenshot(path=shots / "04-server-error.png", full_page=True)

    form.locator("input[name=name]").fill("Марина Окнова")
    phone.fill("+7 916 555-44-33")
    form.locator("input[name=email]").fill("marina@example.com")
    form.locator("textarea[name=message]").fill("Нужен замер трёх окон")
    form.get_by_role("button", name="Отправить заявку").click()
    expect(form.locator("[role=status]")).to_have_text("Спасибо! Перезвоним за 5 минут.")
    expect(form.locator("input[name=phone]")).to_be_hidden()
    visitor.screenshot(path=shots / "05-thanks.png", full_page=True)

    with tenant_context(shop["tenant"]):
        lead = Lead.objects.get(name="Марина Окнова")
        event = InboundEvent.objects.get(lead=lead)
    assert (lead.utm_source, lead.utm_campaign, lead.source) == ("yandex", "zamer", "web_form")
    assert lead.owner_id is None
    assert event.status == InboundEvent.Status.DONE
    assert event.message["consent"] == "Согласен на обработку персональных данных"
    assert event.message["page_url"].startswith(f"{shop['origin']}/okna?")
    assert event.headers["Origin"] == shop["origin"]

    # The manager's inbox, open all along, shows it within seconds (crm/live.py).
    row = inbox.locator(f"#lead-{lead.pk}")
    expect(row).to_be_visible(timeout=5_000)
    expect(row).to_contain_text("Марина Окнова")
    inbox.screenshot(path=shots / "06-inbox-after.png", full_page=True)
    with tenant_context(shop["tenant"]):
        assert Channel.objects.get(pk=shop["channel"].pk).events.count() == 2  # 400 + done


def test_data_style_none_leaves_the_look_to_the_site(new_page, shots, shop):
    visitor = new_page()
    visitor.goto(f"{shop['origin']}/okna-own-style")
    form = visitor.locator("#request-form form[data-voronka-form]")
    expect(form).to_be_visible()
    assert form.evaluate("f => getComputedStyle(f).borderTopLeftRadius") == "0px"
    assert form.locator("button").evaluate("b => b.style.background") == ""
    # Still a working form: the checks run and the honeypot stays out of sight.
    form.get_by_role("button", name="Отправить заявку").click()
    expect(form.locator("input[name=phone]")).to_have_attribute("aria-invalid", "true")
    assert form.locator("input[name=website]").bounding_box()["x"] < 0
    visitor.screenshot(path=shots / "01-own-style.png", full_page=True)


def test_a_plain_html_form_on_another_site_gets_the_thank_you_page(new_page, shots, shop):
    visitor = new_page()
    visitor.goto(f"{shop['origin']}/contacts")
    visitor.fill("input[name=Имя]", "Пётр")
    visitor.fill("input[name=Телефон]", "8 916 700-00-01")
    visitor.fill("input[name=Город]", "Тверь")
    visitor.screenshot(path=shots / "01-plain-form.png", full_page=True)
    visitor.click("button")
    expect(visitor.locator("[data-testid=webform-thanks]")).to_have_text(
        "Спасибо! Перезвоним за 5 минут."
    )
    visitor.screenshot(path=shots / "02-thanks-page.png", full_page=True)
    # Browsers send only the origin as Referer to another site: back to its home page.
    visitor.click(f"a[href='{shop['origin']}/']")
    visitor.wait_for_url(f"{shop['origin']}/")
    with tenant_context(shop["tenant"]):
        lead = Lead.objects.get(name="Пётр")
    assert lead.phone_e164 == "+79167000001"
    assert lead.message == "Город: Тверь"


def test_the_channel_page_shows_the_snippet_and_tilda_steps(new_page, shots, shop):
    with tenant_context(shop["tenant"]):
        admin = Membership.objects.select_related("user").get(role__kind="admin")
    page = new_page()
    _log_in(page, admin.user.email)
    page.goto(f"/shop/settings/channels/{shop['channel'].pk}/")
    token = shop["channel"].token
    expect(page.locator("[data-testid=webform-snippet]")).to_contain_text(
        f'/in/{token}/widget.js" data-channel="{token}" async'
    )
    expect(page.locator("[data-testid=webform-origins]")).to_have_text(shop["origin"])
    expect(page.locator("[data-testid=webform-tilda-url]")).to_contain_text(f"/in/{token}/")
    page.screenshot(path=shots / "01-channel-page.png", full_page=True)
