"""Inviting people by e-mail with a role and team: link, expiry, revocation, acceptance."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from crm.models import Invitation, Membership, Role, TimelineEvent, User
from crm.tenancy import tenant_context
from tests.factories import TeamFactory, add_member


@pytest.fixture
def invite(django_capture_on_commit_callbacks):
    """POST the invite form; on-commit work (the e-mail task) runs as the request commits."""

    def post(client, tenant, email="new.person@example.com", kind="manager", team=None):
        with tenant_context(tenant):
            role = Role.objects.get(kind=kind)
        data = {"email": email, "role": role.pk, "team": team.pk if team else ""}
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(f"/{tenant.slug}/settings/users/invite/", data)

    return post


def _link_path() -> str:
    return re.search(r"https?://[^/\s]+(/accounts/invitation/\S+/)", mail.outbox[-1].body).group(1)


@pytest.fixture
def team(tenant):
    with tenant_context(tenant):
        return TeamFactory(name="Продажи")


def test_admin_invites_and_a_new_person_joins_with_role_and_team(
    invite, client_for, tenant, admin, team
):
    response = invite(client_for(admin), tenant, "New.Person@Example.com", team=team)
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["new.person@example.com"]
    link = _link_path()

    newcomer = Client()
    page = newcomer.get(link)
    assert page.status_code == 200
    assert "new.person@example.com" in page.content.decode()
    response = newcomer.post(
        link,
        {
            "full_name": "Новый Человек",
            "password1": "a-fine-passphrase",
            "password2": "a-fine-passphrase",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == f"/{tenant.slug}/"
    assert newcomer.get(f"/{tenant.slug}/").status_code == 200
    user = User.objects.get(email="new.person@example.com")
    with tenant_context(tenant):
        member = Membership.objects.get(user=user)
        assert (member.role.kind, member.team) == ("manager", team)
        assert TimelineEvent.objects.filter(kind="member.invited").count() == 1
        assert TimelineEvent.objects.filter(kind="member.joined", target_id=member.pk).count() == 1
    # The link is spent.
    assert Client().get(link).status_code == 404


def test_an_existing_user_logs_in_and_accepts(
    invite, client_for, tenant, other_tenant, admin, other_admin
):
    invite(client_for(admin), tenant, other_admin.user.email, kind="director")
    link = _link_path()
    anonymous = Client()
    assert anonymous.get(link)["Location"].startswith("/accounts/login/")
    invited = client_for(other_admin)
    assert invited.get(link).status_code == 200
    assert invited.post(link)["Location"] == f"/{tenant.slug}/"
    with tenant_context(tenant):
        assert Membership.objects.get(user=other_admin.user).role.kind == "director"


def test_someone_else_cannot_accept(invite, client_for, tenant, other_tenant, admin, other_admin):
    invite(client_for(admin), tenant, "invitee@example.com")
    link = _link_path()
    response = client_for(other_admin).post(link)
    assert response.status_code == 403
    with tenant_context(tenant):
        assert not Membership.objects.filter(user=other_admin.user).exists()


def test_expired_revoked_and_forged_links_are_404(invite, client_for, tenant, admin):
    client = client_for(admin)
    invite(client, tenant, "late@example.com")
    late_link = _link_path()
    with tenant_context(tenant):
        Invitation.objects.filter(email="late@example.com").update(
            expires_at=timezone.now() - timedelta(minutes=1)
        )
    assert Client().get(late_link).status_code == 404

    invite(client, tenant, "revoked@example.com")
    revoked_link = _link_path()
    with tenant_context(tenant):
        invitation = Invitation.objects.get(email="revoked@example.com")
    assert (
        client.post(f"/{tenant.slug}/settings/invitations/{invitation.pk}/revoke/").status_code
        == 302
    )
    assert Client().get(revoked_link).status_code == 404
    assert Client().get(revoked_link[:-3] + "xx/").status_code == 404
    assert User.objects.filter(email__in=["late@example.com", "revoked@example.com"]).count() == 0


def test_inviting_an_existing_member_or_bad_input_changes_nothing(
    invite, client_for, tenant, admin, manager
):
    client = client_for(admin)
    response = invite(client, tenant, manager.user.email)
    assert response.status_code == 400
    assert response.context["invite_form"].errors["email"]
    response = client.post(
        f"/{tenant.slug}/settings/users/invite/", {"email": "x@example.com", "role": 999999}
    )
    assert response.status_code == 400
    with tenant_context(tenant):
        assert not Invitation.objects.exists()
    assert mail.outbox == []


def test_a_role_of_another_tenant_cannot_be_given(invite, client_for, tenant, other_tenant, admin):
    with tenant_context(other_tenant):
        foreign_role = Role.objects.get(kind="admin")
    response = client_for(admin).post(
        f"/{tenant.slug}/settings/users/invite/",
        {"email": "sneaky@example.com", "role": foreign_role.pk},
    )
    assert response.status_code == 400
    with tenant_context(tenant):
        assert not Invitation.objects.exists()


def test_managers_cannotinvite(invite, client_for, tenant, manager):
    assert invite(client_for(manager), tenant).status_code == 403
    with tenant_context(tenant):
        assert not Invitation.objects.exists()


def test_a_password_mismatch_on_acceptance_creates_nothing(invite, client_for, tenant, admin):
    invite(client_for(admin), tenant, "typo@example.com")
    response = Client().post(
        _link_path(), {"full_name": "T", "password1": "a-fine-passphrase", "password2": "other"}
    )
    assert response.status_code == 200
    assert not User.objects.filter(email="typo@example.com").exists()


def test_invitations_per_member_and_hour_are_limited_with_a_message(
    client_for, tenant, admin, settings
):
    settings.INVITATIONS_PER_HOUR = 3
    client = client_for(admin)
    with tenant_context(tenant):
        role = Role.objects.get(kind="manager")
    url = f"/{tenant.slug}/settings/users/invite/"
    for n in range(3):
        response = client.post(url, {"email": f"person{n}@example.com", "role": role.pk})
        assert response.status_code == 302
    sent = len(mail.outbox)
    refused = client.post(url, {"email": "one-more@example.com", "role": role.pk})
    assert refused.status_code == 400
    assert "3" in refused.context["invite_form"].errors["email"][0]
    assert len(mail.outbox) == sent
    with tenant_context(tenant):
        assert not Invitation.objects.filter(email="one-more@example.com").exists()
    # Another member has their own allowance.
    second = add_member(tenant, "admin")
    response = client_for(second).post(url, {"email": "x@example.com", "role": role.pk})
    assert response.status_code == 302
