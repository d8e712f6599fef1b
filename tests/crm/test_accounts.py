"""Accounts through HTTP: sign-up, log in/out, throttling, password reset, workspaces."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client

from crm.models import Membership, Role, Tenant, User
from crm.tenancy import tenant_context
from tests.factories import PASSWORD, UserFactory, add_member

SIGNUP = {
    "full_name": "Пётр Основателев",
    "email": "Founder@Example.com",
    "company": "ООО «Ромашка»",
    "slug": "romashka",
    "language": "ru",
}
PASSWORDS = {"password1": "a-long-enough-passphrase", "password2": "a-long-enough-passphrase"}


def _without_tokens(page: bytes) -> bytes:
    """A page without what differs on every request anyway (CSRF token, CSP nonce)."""
    tokens = rb'("X-CSRFToken": "|nonce="|name="csrfmiddlewaretoken" value=")[^"]+'
    return re.sub(tokens, rb"\1-", page)


def _link(message) -> str:
    return re.search(r"https?://[^/\s]+(/accounts/signup/confirm/\S+/)", message.body).group(1)


def _login(client: Client, email: str, password: str):
    return client.post("/accounts/login/", {"username": email, "password": password})


# --- Sign-up ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_signup_is_confirmed_by_e_mail_and_creates_a_tenant_with_its_owner_as_admin(client):
    response = client.post("/accounts/signup/", SIGNUP)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/signup/sent/"
    assert not User.objects.exists()
    assert not Tenant.objects.exists()
    (message,) = mail.outbox
    assert message.to == ["founder@example.com"]
    assert "ООО «Ромашка»" in message.subject
    link = _link(message)
    page = client.get(link)
    assert page.status_code == 200
    assert "/romashka/" in page.content.decode()
    response = client.post(link, {**PASSWORDS, "slug": SIGNUP["slug"]})
    assert response.status_code == 302
    assert response["Location"] == "/romashka/"
    tenant = Tenant.objects.get(slug="romashka")
    user = User.objects.get(email="founder@example.com")
    assert user.full_name == "Пётр Основателев"
    with tenant_context(tenant):
        membership = Membership.objects.get(user=user)
        assert membership.role.kind == Role.Kind.ADMIN
        assert Role.objects.count() == 4
        assert Role.objects.get(kind="manager").name == "Менеджер"
    assert client.get("/romashka/").status_code == 200
    assert user.check_password(PASSWORDS["password1"])
    assert user.password != PASSWORDS["password1"]
    # The link is spent: it sends the person to log in, and creates nothing more.
    again = Client().post(link, {**PASSWORDS, "slug": SIGNUP["slug"]})
    assert again["Location"] == "/accounts/login/"
    assert Tenant.objects.count() == 1


def test_signup_answers_the_same_whether_the_address_has_an_account(tenant, admin):
    """Nothing in the answer tells an account exists; the e-mail does, to its owner."""
    known, unknown = Client(), Client()
    answers = [
        client.post("/accounts/signup/", {**SIGNUP, "email": email})
        for client, email in ((known, admin.user.email.upper()), (unknown, "new@example.com"))
    ]
    assert [a.status_code for a in answers] == [302, 302]
    assert answers[0]["Location"] == answers[1]["Location"] == "/accounts/signup/sent/"
    pages = [
        _without_tokens(c.get(a["Location"]).content)
        for c, a in zip((known, unknown), answers, strict=True)
    ]
    assert pages[0] == pages[1]
    assert sorted(answers[0].headers) == sorted(answers[1].headers)
    assert set(answers[0].cookies) == set(answers[1].cookies)
    existing, new = mail.outbox
    assert existing.to == [admin.user.email]
    assert "already have" in existing.subject or "уже есть" in existing.subject
    assert "http://testserver/accounts/login/" in existing.body
    assert "http://testserver/accounts/password-reset/" in existing.body
    assert "/accounts/signup/confirm/" not in existing.body
    assert "/accounts/signup/confirm/" in new.body
    assert Tenant.objects.count() == 1
    assert not Tenant.objects.filter(slug="romashka").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("slug", "accounts"),
        ("slug", "Bad Slug!"),
        ("slug", "ab"),
        ("email", "not-an-email"),
        ("company", ""),
        ("language", "xx"),
    ],
)
def test_signup_with_bad_input_shows_the_error_and_writes_nothing(client, field, value):
    response = client.post("/accounts/signup/", {**SIGNUP, field: value})
    assert response.status_code == 200
    assert response.context["form"].errors[field]
    assert not Tenant.objects.exists()
    assert not User.objects.exists()
    assert not mail.outbox


@pytest.mark.django_db
def test_signup_refuses_a_weak_or_mismatched_password_and_writes_nothing(client):
    client.post("/accounts/signup/", SIGNUP)
    link = _link(mail.outbox[0])
    weak = client.post(link, {"password1": "123", "password2": "123"})
    assert weak.status_code == 400
    assert weak.context["form"].errors["password2"]
    mismatch = client.post(link, {**PASSWORDS, "password2": "something-else-entirely"})
    assert mismatch.context["form"].errors["password2"]
    assert not User.objects.exists()
    assert not Tenant.objects.exists()


@pytest.mark.django_db
def test_a_forged_tampered_or_expired_link_is_a_404(client, settings):
    client.post("/accounts/signup/", SIGNUP)
    link = _link(mail.outbox[0])
    assert client.get("/accounts/signup/confirm/forged/").status_code == 404
    assert client.get(link.replace("/confirm/", "/confirm/x")).status_code == 404
    settings.SIGNUP_LINK_MAX_AGE_HOURS = 0
    assert client.post(link, {**PASSWORDS, "slug": SIGNUP["slug"]}).status_code == 404
    assert not User.objects.exists()


def test_signup_refuses_a_taken_slug(client, tenant, admin):
    response = client.post("/accounts/signup/", {**SIGNUP, "slug": tenant.slug})
    assert "slug" in response.context["form"].errors
    assert not mail.outbox
    assert Tenant.objects.count() == 1


def test_a_slug_taken_before_the_link_is_used_is_a_form_error(client, tenant):
    client.post("/accounts/signup/", SIGNUP)
    link = _link(mail.outbox[0])
    from tests.factories import make_tenant

    make_tenant("romashka")
    assert 'value="romashka"' in client.get(link).content.decode()
    response = client.post(link, {**PASSWORDS, "slug": "romashka"})
    assert response.status_code == 400
    assert "slug" in response.context["form"].errors
    assert not User.objects.filter(email="founder@example.com").exists()
    # The address is a field of the form: another one finishes the sign-up.
    assert client.post(link, {**PASSWORDS, "slug": "romashka-2"}).status_code == 302
    assert Tenant.objects.filter(slug="romashka-2", name="ООО «Ромашка»").exists()


# --- Log in and out -----------------------------------------------------------------------


def test_login_goes_to_the_only_workspace_and_logout_ends_the_session(client, tenant, admin):
    response = _login(client, admin.user.email.upper(), PASSWORD)
    assert response.status_code == 302
    assert client.get(response["Location"])["Location"] == f"/{tenant.slug}/"
    assert client.get(f"/{tenant.slug}/").status_code == 200
    assert client.get("/accounts/logout/").status_code == 405  # logging out needs a POST
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get(f"/{tenant.slug}/")["Location"].startswith("/accounts/login/")


def test_wrong_password_is_refused(client, tenant, admin):
    response = _login(client, admin.user.email, "wrong-password")
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()


def test_login_is_throttled_after_repeated_failures(client, tenant, admin, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, admin.user.email, "wrong-password")
    locked = _login(client, admin.user.email, PASSWORD)  # even the right password now
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session
    # Another account from the same address is not locked out.
    other = add_member(tenant, "manager")
    assert _login(Client(), other.user.email, PASSWORD).status_code == 302


def test_workspace_switcher_lists_every_membership(client, tenant, other_tenant, admin):
    with tenant_context(other_tenant):
        Membership.objects.create(user=admin.user, role=Role.objects.get(kind="manager"))
    client.force_login(admin.user)
    assert client.get("/")["Location"] == "/accounts/workspaces/"
    page = client.get("/accounts/workspaces/").content.decode()
    assert f"/{tenant.slug}/" in page
    assert f"/{other_tenant.slug}/" in page
    # A page only says where to load the switcher from, when its menu opens.
    page = client.get(f"/{tenant.slug}/").content.decode()
    assert f'href="/{other_tenant.slug}/"' not in page
    assert f"/accounts/workspaces/?fragment=switcher&amp;current={tenant.slug}" in page
    items = client.get("/accounts/workspaces/", {"fragment": "switcher", "current": tenant.slug})
    html = items.content.decode()
    assert html.count('data-testid="switcher-workspace"') == 2
    assert f'class="dropdown-item active" href="/{tenant.slug}/"' in html
    assert f'class="dropdown-item" href="/{other_tenant.slug}/"' in html
    assert "<html" not in html


def test_the_switcher_lists_only_my_active_workspaces(client, tenant, other_tenant, admin):
    with tenant_context(other_tenant):
        Membership.objects.create(
            user=admin.user, role=Role.objects.get(kind="manager"), is_active=False
        )
    client.force_login(admin.user)
    html = client.get("/accounts/workspaces/", {"fragment": "switcher"}).content.decode()
    assert f'href="/{tenant.slug}/"' in html
    assert f"/{other_tenant.slug}/" not in html
    anonymous = Client().get("/accounts/workspaces/", {"fragment": "switcher"})
    assert anonymous.status_code == 302


def test_a_deactivated_member_loses_the_workspace(client, tenant, manager):
    with tenant_context(tenant):
        manager.is_active = False
        manager.save()
    client.force_login(manager.user)
    assert client.get(f"/{tenant.slug}/").status_code == 404


def test_a_member_deactivated_while_logged_in_loses_the_next_page(client, tenant, manager):
    client.force_login(manager.user)
    assert client.get(f"/{tenant.slug}/leads/inbox/").status_code == 200
    with tenant_context(tenant):
        manager.is_active = False
        manager.save()
    assert client.get(f"/{tenant.slug}/leads/inbox/").status_code == 404


def test_non_member_gets_404_like_a_missing_workspace(client, tenant, other_admin):
    client.force_login(other_admin.user)
    denied = client.get(f"/{tenant.slug}/")
    missing = client.get("/no-such-tenant/")
    assert denied.status_code == missing.status_code == 404
    assert denied.content == missing.content


# --- Password reset -----------------------------------------------------------------------


def test_password_reset_by_email(client, tenant, admin):
    response = client.post("/accounts/password-reset/", {"email": admin.user.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", mail.outbox[0].body).group(1)
    form_url = client.get(link)["Location"]
    response = client.post(
        form_url, {"new_password1": "brand-new-passphrase", "new_password2": "brand-new-passphrase"}
    )
    assert response.status_code == 302
    admin.user.refresh_from_db()
    assert admin.user.check_password("brand-new-passphrase")


@pytest.mark.django_db
def test_password_reset_for_an_unknown_address_sends_nothing_and_reveals_nothing(client):
    response = client.post("/accounts/password-reset/", {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert mail.outbox == []


def test_healthz(client, db):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_passwords_are_hashed(db):
    user = UserFactory()
    assert user.password.startswith("md5$")  # the test hasher; production uses PBKDF2
    assert PASSWORD not in user.password


def test_changing_the_case_of_the_email_does_not_reset_the_throttle(
    client, tenant, admin, settings
):
    for spelling in ("a", "A", " a"):
        email = admin.user.email if spelling == "a" else admin.user.email.upper()
        for _ in range(2):
            _login(client, (" " if spelling == " a" else "") + email, "wrong-password")
    locked = _login(client, admin.user.email.title(), PASSWORD)
    assert locked.status_code == 429


def test_behind_a_proxy_one_client_cannot_lock_out_another(client, tenant, admin, settings):
    settings.AXES_IPWARE_PROXY_COUNT = 1
    settings.AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
    attacker = {"HTTP_X_FORWARDED_FOR": "203.0.113.7, 10.0.0.2", "REMOTE_ADDR": "10.0.0.2"}
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(
            "/accounts/login/", {"username": admin.user.email, "password": "nope"}, **attacker
        )
    victim = {"HTTP_X_FORWARDED_FOR": "198.51.100.9, 10.0.0.2", "REMOTE_ADDR": "10.0.0.2"}
    response = Client().post(
        "/accounts/login/", {"username": admin.user.email, "password": PASSWORD}, **victim
    )
    assert response.status_code == 302
    again = Client().post(
        "/accounts/login/", {"username": admin.user.email, "password": PASSWORD}, **attacker
    )
    assert again.status_code == 429


def test_one_address_failing_on_many_accounts_is_paused_too(client, tenant, admin, settings):
    """Password spraying: a few tries on each of many accounts from one address."""
    settings.LOGIN_IP_FAILURE_LIMIT = 6
    victims = [add_member(tenant, "manager") for _ in range(4)]
    for victim in victims[:3]:
        for _ in range(2):  # under the per-account limit (5)
            assert _login(client, victim.user.email, "Summer2026!").status_code == 200
    locked = _login(client, victims[3].user.email, PASSWORD)  # even the right password
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session
    # Another address is not affected.
    elsewhere = Client(REMOTE_ADDR="10.0.0.9")
    assert _login(elsewhere, victims[3].user.email, PASSWORD).status_code == 302


def test_the_per_address_limit_counts_failures_not_logins(client, tenant, admin, settings):
    settings.LOGIN_IP_FAILURE_LIMIT = 3
    for _ in range(5):
        assert _login(Client(), admin.user.email, PASSWORD).status_code == 302
    _login(client, admin.user.email, "wrong")
    assert _login(client, admin.user.email, PASSWORD).status_code == 302


@pytest.mark.django_db
def test_signup_links_are_absolute_without_site_url(client, settings):
    """With SITE_URL unset (make run), the link is the address the person signed up at."""
    settings.SITE_URL = ""
    client.post("/accounts/signup/", SIGNUP)
    assert re.search(r"http://testserver/accounts/signup/confirm/\S+/", mail.outbox[0].body)


@pytest.mark.django_db
def test_signup_is_limited_per_client_address_and_per_mailbox(client, settings):
    settings.SIGNUP_PER_HOUR, settings.SIGNUP_MAILS_PER_ADDRESS = 4, 2
    answers = [
        client.post("/accounts/signup/", {**SIGNUP, "slug": f"romashka-{n}"}).status_code
        for n in range(5)
    ]
    # The same "check your inbox" for the first four; one mailbox gets two messages at most.
    assert answers == [302, 302, 302, 302, 429]
    assert len(mail.outbox) == 2
    other = client.post("/accounts/signup/", {**SIGNUP, "email": "other@example.com"})
    assert other.status_code == 429
    assert (
        "Too many sign-ups" in other.content.decode() or "Слишком много" in other.content.decode()
    )


@pytest.mark.django_db
def test_a_mail_server_down_at_signup_is_a_clear_error_not_a_500(client, monkeypatch):
    def refuse(**kwargs):
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr("crm.services.send_email", refuse)
    response = client.post("/accounts/signup/", SIGNUP)
    assert response.status_code == 503
    assert response.context["form"].non_field_errors()
    assert not User.objects.exists()
