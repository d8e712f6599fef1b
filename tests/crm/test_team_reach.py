"""Team edits obey the limits of role edits: nobody widens anyone's reach beyond their own.

Scopes short of "all" read the teams ("own" covers the team one leads, "team" one's team
mates), so a member with the users right but not administrator must not make themselves a
lead, move people into their team, or move directors and administrators.
"""

from __future__ import annotations

import pytest

from crm.access import Scope, TeamLayout, team_change_within
from crm.models import Invitation, Membership, Role, Team
from crm.tenancy import tenant_context
from tests.factories import TeamFactory, add_member
from tests.leads.factories import make_lead


def _people_manager(tenant, **matrix: str) -> Membership:
    """A member whose custom role holds the users right and a manager's matrix (own scope),
    with `entity__action=scope` overrides."""
    member = add_member(tenant, "manager")
    with tenant_context(tenant):
        rights = Role.objects.get(kind="manager").rights
        for key, scope in matrix.items():
            entity, action = key.split("__")
            rights[entity][action] = scope
        member.role = Role.objects.create(name="Кадровик", rights=rights, can_manage_users=True)
        member.save()
    return member


@pytest.fixture
def people_manager(tenant) -> Membership:
    return _people_manager(tenant)


def _team_of(tenant, member: Membership) -> int | None:
    with tenant_context(tenant):
        return Membership.objects.get(pk=member.pk).team_id


def test_a_users_holder_cannot_make_themselves_a_team_lead(
    client_for, tenant, admin, people_manager, manager
):
    with tenant_context(tenant):
        team = TeamFactory(name="Север")
        manager.team = team
        manager.save()
        lead = make_lead(manager)
    client = client_for(people_manager)
    assert client.get(f"/{tenant.slug}/leads/{lead.pk}/").status_code == 404
    url = f"/{tenant.slug}/settings/teams/{team.pk}/"
    assert client.post(url, {"name": "Север", "lead": people_manager.pk}).status_code == 403
    new = client.post(f"/{tenant.slug}/settings/teams/", {"name": "Мой", "lead": people_manager.pk})
    with tenant_context(tenant):
        assert Team.objects.get(pk=team.pk).lead_id is None
        # Leading a new, empty team reaches nobody new: that is allowed.
        assert new.status_code == 302
        mine = Team.objects.get(name="Мой")
        assert mine.lead_id == people_manager.pk
    # …but moving a colleague into the team one leads is not.
    response = client.post(
        f"/{tenant.slug}/settings/users/{manager.pk}/", {"role": manager.role_id, "team": mine.pk}
    )
    assert response.status_code == 403
    assert _team_of(tenant, manager) == team.pk
    assert client.get(f"/{tenant.slug}/leads/{lead.pk}/").status_code == 404


def test_a_users_holder_cannot_join_a_team_their_scope_would_widen_in(
    client_for, tenant, admin, manager
):
    holder = _people_manager(tenant, lead__view=Scope.TEAM)
    with tenant_context(tenant):
        team = TeamFactory(name="Юг")
        manager.team = team
        manager.save()
    response = client_for(holder).post(
        f"/{tenant.slug}/settings/users/{holder.pk}/", {"role": holder.role_id, "team": team.pk}
    )
    assert response.status_code == 403
    assert _team_of(tenant, holder) is None


def test_a_users_holder_cannot_invite_someone_into_a_team_beyond_their_reach(
    client_for, tenant, admin, manager
):
    holder = _people_manager(tenant, lead__view=Scope.TEAM)
    with tenant_context(tenant):
        team = TeamFactory(name="Юг")
        manager.team = team
        manager.save()
        team_scope = Role.objects.create(name="Командный", rights={"lead": {"view": Scope.TEAM}})
    response = client_for(holder).post(
        f"/{tenant.slug}/settings/users/invite/",
        {"email": "new@example.com", "role": team_scope.pk, "team": team.pk},
    )
    # The role is within the holder's rights; the team is not within their reach.
    assert response.status_code == 403
    with tenant_context(tenant):
        assert not Invitation.objects.exists()


def test_only_administrators_change_the_team_of_a_director_or_administrator(
    client_for, tenant, admin, director, manager
):
    holder = _people_manager(tenant, **{f"{e}__view": Scope.ALL for e in ("lead", "deal")})
    with tenant_context(tenant):
        team = TeamFactory(name="Юг")
        director_team = TeamFactory(name="Дирекция")
        director.team = director_team
        director.save()
    client = client_for(holder)
    for member in (director, admin):
        response = client.post(
            f"/{tenant.slug}/settings/users/{member.pk}/",
            {"role": member.role_id, "team": team.pk},
        )
        assert response.status_code == 403
    assert (
        client.post(
            f"/{tenant.slug}/settings/teams/{team.pk}/", {"name": "Юг", "lead": director.pk}
        ).status_code
        == 403
    )
    delete = f"/{tenant.slug}/settings/teams/{director_team.pk}/delete/"
    assert client.post(delete).status_code == 403
    with tenant_context(tenant):
        assert Membership.objects.get(pk=director.pk).team_id == director_team.pk
        assert Membership.objects.get(pk=admin.pk).team_id is None
        assert Team.objects.get(pk=team.pk).lead_id is None
    # An administrator may.
    response = client_for(admin).post(
        f"/{tenant.slug}/settings/users/{director.pk}/",
        {"role": director.role_id, "team": team.pk},
    )
    assert response.status_code == 302
    assert _team_of(tenant, director) == team.pk


def test_a_users_holder_who_reaches_everything_arranges_teams(client_for, tenant, admin, manager):
    """Reach the holder already has may be handed on: a holder with "all" on every action a
    manager has moves managers into teams and names leads."""
    holder = _people_manager(tenant)
    with tenant_context(tenant):
        role = holder.role
        for entity, actions in role.rights.items():
            for action, scope in actions.items():
                if scope != Scope.NONE:
                    role.rights[entity][action] = Scope.ALL
        role.save()
        other = add_member(tenant, "manager")
        team = TeamFactory(name="Юг")
    client = client_for(holder)
    assert (
        client.post(
            f"/{tenant.slug}/settings/users/{manager.pk}/",
            {"role": manager.role_id, "team": team.pk},
        ).status_code
        == 302
    )
    assert (
        client.post(
            f"/{tenant.slug}/settings/teams/{team.pk}/", {"name": "Юг", "lead": other.pk}
        ).status_code
        == 302
    )
    with tenant_context(tenant):
        assert Team.objects.get(pk=team.pk).lead_id == other.pk
        assert Membership.objects.get(pk=manager.pk).team_id == team.pk


def test_team_change_within_compares_reach_per_action(tenant, admin, manager):
    """The mechanism itself: gains measured against the actor's reach, action by action."""
    holder = _people_manager(tenant, lead__edit=Scope.ALL)
    colleague = add_member(tenant, "manager")
    with tenant_context(tenant):
        team = TeamFactory(name="Юг")
        before = TeamLayout.load()
    # Making the colleague lead of a team with the manager in it gives the colleague the
    # manager's records for view (holder: own) as well as edit (holder: all): refused.
    after = before.moved(member=manager.pk, team=team.pk).led(team=team.pk, lead=colleague.pk)
    assert not team_change_within(holder, before, after)
    assert team_change_within(admin, before, after)
    # Removing reach is always allowed.
    with tenant_context(tenant):
        manager.team = team
        manager.save()
        team.lead = colleague
        team.save()
        before = TeamLayout.load()
    assert team_change_within(holder, before, before.without(team=team.pk))


def test_a_role_given_to_a_member_of_another_team_counts_by_what_it_reaches_there(
    client_for, tenant, manager
):
    """'Team' scope is no more than the actor's own, but in another team it reaches that
    team's records, which the actor does not."""
    people_manager = _people_manager(tenant, lead__view=Scope.TEAM)
    with tenant_context(tenant):
        ours, theirs = TeamFactory(name="Юг"), TeamFactory(name="Север")
        Membership.objects.filter(pk=people_manager.pk).update(team=ours)
        Membership.objects.filter(pk=manager.pk).update(team=theirs)
        colleague = add_member(tenant, "marketer")
        Membership.objects.filter(pk=colleague.pk).update(team=theirs)
        team_role = Role.objects.get(pk=people_manager.role_id)
    url = f"/{tenant.slug}/settings/users/{colleague.pk}/"
    response = client_for(people_manager).post(url, {"role": team_role.pk, "team": theirs.pk})
    assert response.status_code == 403
    with tenant_context(tenant):
        assert Membership.objects.get(pk=colleague.pk).role.kind == "marketer"


def test_widening_a_roles_matrix_counts_what_its_holders_reach(client_for, tenant, manager):
    """A role whose holders sit in another team: raising it to 'team' would show them that
    team's records, beyond the actor's reach."""
    people_manager = _people_manager(tenant, lead__view=Scope.TEAM)
    with tenant_context(tenant):
        theirs = TeamFactory(name="Север")
        Membership.objects.filter(pk=manager.pk).update(team=theirs)
        mate = add_member(tenant, "manager")
        Membership.objects.filter(pk=mate.pk).update(team=theirs)
        held = Role.objects.create(name="Стажёр", rights=Role.objects.get(kind="manager").rights)
        Membership.objects.filter(pk=manager.pk).update(role=held)
        rights = {e: dict(a) for e, a in held.rights.items()}
        rights["lead"]["view"] = Scope.TEAM
    from crm.access import AccessDenied
    from crm.services import role_update

    with tenant_context(tenant), pytest.raises(AccessDenied):
        role_update(
            actor=people_manager, role=held, name=held.name, rights=rights, tenant_rights=set()
        )
    with tenant_context(tenant):
        assert Role.objects.get(pk=held.pk).rights["lead"]["view"] != Scope.TEAM
