"""Web security basics: CSRF, CSP and other headers, escaping, production settings."""

from __future__ import annotations

from django.test import Client

from crm.models import Team
from crm.tenancy import tenant_context
from tests.processes import run_manage


def test_posts_without_a_csrf_token_are_refused(tenant, admin):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin.user)
    response = client.post(f"/{tenant.slug}/settings/teams/", {"name": "Forged"})
    assert response.status_code == 403
    with tenant_context(tenant):
        assert not Team.objects.exists()


def test_login_form_is_csrf_protected(db):
    response = Client(enforce_csrf_checks=True).post(
        "/accounts/login/", {"username": "a@b.c", "password": "x"}
    )
    assert response.status_code == 403


def test_security_headers(client_for, tenant, admin):
    response = client_for(admin).get(f"/{tenant.slug}/")
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp
    assert "'unsafe-inline'" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_pages_have_no_inline_scripts_or_styles(client_for, tenant, admin):
    page = client_for(admin).get(f"/{tenant.slug}/settings/roles/").content.decode()
    assert "<script>" not in page
    assert " style=" not in page
    assert " onclick=" not in page


def test_user_input_is_escaped(client_for, tenant, admin):
    client = client_for(admin)
    client.post(f"/{tenant.slug}/settings/teams/", {"name": "<script>alert(1)</script>"})
    page = client.get(f"/{tenant.slug}/settings/teams/").content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_uploads_are_size_limited(settings):
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE <= 10 * 1024 * 1024


PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "x7!k2p9#q4w8e6r1t5y3u0i-o9p8a7s6d5f4g3h2j1k0l-zxcvbnm",
    "ALLOWED_HOSTS": "crm.example.com",
    "SITE_URL": "https://crm.example.com",
    "DJANGO_SETTINGS_MODULE": "crm.settings",
}


def test_check_deploy_is_clean_with_production_settings():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_start_without_a_secret_key_or_hosts():
    without_key = {k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"}
    result = run_manage("check", **without_key)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr
    without_hosts = {k: v for k, v in PRODUCTION.items() if k != "ALLOWED_HOSTS"}
    result = run_manage("check", **without_hosts)
    assert "ALLOWED_HOSTS must be set" in result.stderr
