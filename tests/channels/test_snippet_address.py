"""The web form's snippets show the address the CRM is reached at: SITE_URL, or without it
(DEBUG) the address the admin opened the page at."""

from __future__ import annotations

import re

import pytest

from channels.services import channel_create
from crm.tenancy import tenant_context
from crm.urlnames import site_url


@pytest.fixture
def channel(tenant, admin):
    with tenant_context(tenant):
        return channel_create(actor=admin, kind="web_form", name="Сайт")


def _snippet(response) -> str:
    html = response.content.decode()
    return re.search(r'data-testid="webform-snippet">(.*?)</pre>', html, re.S).group(1)


def test_without_site_url_the_snippets_use_the_address_in_use(
    settings, tenant, admin, channel, client_for
):
    settings.SITE_URL = ""
    settings.ALLOWED_HOSTS = ["crm.lan"]
    page = client_for(admin, "en").get(
        f"/{tenant.slug}/settings/channels/{channel.pk}/", HTTP_HOST="crm.lan:8000"
    )
    assert f"http://crm.lan:8000/in/{channel.token}/widget.js" in _snippet(page)
    assert 'data-testid="site-url-note"' not in page.content.decode()
    # Outside a request (e-mails from tasks), make run's own address.
    assert site_url() == "http://127.0.0.1:8000"


def test_with_site_url_the_snippets_keep_it_and_say_where_the_page_was_opened(
    settings, tenant, admin, channel, client_for
):
    settings.SITE_URL = "https://crm.example.com/"
    settings.ALLOWED_HOSTS = ["crm.example.com", "10.0.0.5"]
    client = client_for(admin, "en")
    url = f"/{tenant.slug}/settings/channels/{channel.pk}/"
    inside = client.get(url, HTTP_HOST="10.0.0.5")
    assert f"https://crm.example.com/in/{channel.token}/widget.js" in _snippet(inside)
    note = re.search(r'data-testid="site-url-note">(.*?)</p>', inside.content.decode(), re.S)
    assert "https://crm.example.com" in note.group(1)
    assert "http://10.0.0.5" in note.group(1)
    public = client.get(url, HTTP_HOST="crm.example.com", secure=True)
    assert 'data-testid="site-url-note"' not in public.content.decode()
