"""Russian and English: the language switch, the tenant's default, compiled messages."""

from __future__ import annotations

from django.utils import translation


def test_compiled_russian_messages_are_shipped():
    with translation.override("ru"):
        assert translation.gettext("Log in") == "Войти"


def test_the_tenant_language_is_the_default(client_for, tenant, admin):
    page = client_for(admin).get(f"/{tenant.slug}/").content.decode()
    assert '<html lang="ru">' in page
    assert "Ваш доступ" in page


def test_the_language_switch_changes_the_interface(client_for, tenant, admin):
    client = client_for(admin)
    response = client.post("/i18n/setlang/", {"language": "en", "next": f"/{tenant.slug}/"})
    assert response.status_code == 302
    assert response["Location"] == f"/{tenant.slug}/"
    page = client.get(f"/{tenant.slug}/").content.decode()
    assert '<html lang="en">' in page
    assert "Your access" in page
    client.post("/i18n/setlang/", {"language": "ru", "next": "/"})
    assert "Ваш доступ" in client.get(f"/{tenant.slug}/").content.decode()


def test_anonymous_pages_follow_the_browser(client, db):
    assert (
        "Вход в Воронку"
        in client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    )
    assert (
        "Log in to Voronka"
        in client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    )
