"""Operations commands: create_tenant and seed_demo."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from crm.demo import DEMO_PASSWORD, DEMO_USERS
from crm.models import Activity, Membership, Role, Team, Tenant, User
from crm.tenancy import tenant_context
from deals.models import Deal
from leads.models import Lead, LeadEvent


def _run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_create_tenant_makes_a_workspace_with_an_admin():
    out = _run(
        "create_tenant",
        "acme",
        "--name",
        "Acme",
        "--admin-email",
        "Boss@Acme.example",
        "--admin-password",
        "a-fine-passphrase",
        "--language",
        "en",
    )
    assert "/acme/" in out
    tenant = Tenant.objects.get(slug="acme")
    assert tenant.language == "en"
    user = User.objects.get(email="boss@acme.example")
    assert user.check_password("a-fine-passphrase")
    with tenant_context(tenant):
        assert Membership.objects.get(user=user).role.kind == "admin"
        assert Role.objects.get(kind="director").name == "Director"


@pytest.mark.django_db
def test_create_tenant_refuses_an_existing_slug_clearly():
    _run(
        "create_tenant",
        "acme",
        "--name",
        "Acme",
        "--admin-email",
        "a@acme.example",
        "--admin-password",
        "pw-123456789",
    )
    with pytest.raises(CommandError, match="already taken"):
        _run(
            "create_tenant",
            "acme",
            "--name",
            "Other",
            "--admin-email",
            "b@acme.example",
            "--admin-password",
            "pw-123456789",
        )
    assert Tenant.objects.count() == 1
    assert not User.objects.filter(email="b@acme.example").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("slug", ["Bad Slug", "accounts", "x"])
def test_create_tenant_refuses_a_bad_slug(slug):
    with pytest.raises(CommandError, match="Invalid slug"):
        _run(
            "create_tenant",
            slug,
            "--name",
            "X",
            "--admin-email",
            "x@x.example",
            "--admin-password",
            "pw-123456789",
        )
    assert not Tenant.objects.exists()


@pytest.mark.django_db
def test_create_tenant_needs_a_password_for_a_new_admin():
    with pytest.raises(CommandError, match="admin-password"):
        _run("create_tenant", "acme", "--name", "Acme", "--admin-email", "new@acme.example")
    assert not Tenant.objects.exists()


@pytest.mark.django_db
def test_seed_demo_creates_one_user_per_role_and_is_idempotent(client):
    out = _run("seed_demo")
    assert DEMO_PASSWORD in out
    assert "Already present" in _run("seed_demo")
    tenant = Tenant.objects.get(slug="demo")
    assert tenant.language == "ru"
    with tenant_context(tenant):
        kinds = set(Membership.objects.values_list("role__kind", flat=True))
        assert kinds == {"admin", "director", "manager", "marketer"}
        team = Team.objects.get()
        assert team.lead.user.email == "lead@demo.voronka.local"
        assert Membership.objects.count() == len(DEMO_USERS)
        assert Deal.objects.count() >= 30
        assert Deal.objects.filter(outcome="won").exists()
        assert Deal.objects.exclude(loss_reason=None).exists()
        # The task page and the calendar have a week ahead: planned on leads and deals.
        ahead = Activity.objects.filter(done_at=None, due_at__gt=timezone.now())
        assert ahead.filter(kind="meeting").exists()
        assert {a.target_type.model for a in ahead} == {"lead", "deal"}
        # Qualification is on: rules, events, levels, and every lead scored as explained.
        leads = list(Lead.objects.all())
        assert all(lead.scored_at for lead in leads)
        assert all(lead.score == sum(p["points"] for p in lead.score_parts) for lead in leads)
        assert {lead.temperature for lead in leads} >= {"hot", "warm", "cold"}
        assert {lead.level for lead in leads} == {"", "mql", "sal", "sql"}
        assert LeadEvent.objects.exists()
    response = client.post(
        "/accounts/login/", {"username": DEMO_USERS[0].email, "password": DEMO_PASSWORD}
    )
    assert response.status_code == 302
    assert client.get("/demo/").status_code == 200
