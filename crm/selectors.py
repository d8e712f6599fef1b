"""Read queries of the core: members, roles, teams, invitations, the audit trail."""

from __future__ import annotations

from datetime import datetime

from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, Q, QuerySet
from django.http import Http404

from crm.models import (
    Activity,
    CustomField,
    Invitation,
    Membership,
    Role,
    Team,
    TimelineEvent,
    User,
)

AUDIT_TARGETS = (Membership, Role, Team, Invitation, CustomField)


def memberships_for_user(*, user: User) -> list[Membership]:
    """The user's active memberships in every tenant, for the tenant switcher.

    Cross-tenant on purpose (unscoped manager); on PostgreSQL the RLS policy lets a user
    read only their own membership rows outside the current tenant.
    """
    return list(
        Membership.unscoped.filter(user=user, is_active=True, is_system=False)
        .select_related("tenant")
        .order_by("tenant__name")
    )


def member_list() -> QuerySet[Membership]:
    """Members of the current tenant with what a members table shows."""
    return (
        Membership.objects.filter(is_system=False)
        .select_related("user", "role", "team")
        .order_by("-is_active", "user__full_name", "user__email")
    )


def member_get(*, member_id: int) -> Membership:
    """A member of the current tenant, or 404 (also for another tenant's id)."""
    member = member_list().filter(pk=member_id).first()
    if member is None:
        raise Http404
    return member


def role_list() -> QuerySet[Role]:
    """Roles of the current tenant with their member counts."""
    return Role.objects.annotate(
        member_count=Count("memberships", filter=Q(memberships__is_active=True))
    ).order_by("pk")


def role_get(*, role_id: int) -> Role:
    role = Role.objects.filter(pk=role_id).first()
    if role is None:
        raise Http404
    return role


def team_list() -> QuerySet[Team]:
    """Teams of the current tenant with their lead and member counts."""
    return Team.objects.select_related("lead__user").annotate(
        member_count=Count("members", filter=Q(members__is_active=True))
    )


def team_get(*, team_id: int) -> Team:
    team = Team.objects.select_related("lead").filter(pk=team_id).first()
    if team is None:
        raise Http404
    return team


def invitation_list_pending() -> QuerySet[Invitation]:
    """Invitations of the current tenant that were neither used nor revoked."""
    return Invitation.objects.select_related("role", "team").filter(
        accepted_at=None, revoked_at=None
    )


def invitation_get(*, invitation_id: int) -> Invitation:
    invitation = Invitation.objects.filter(pk=invitation_id).first()
    if invitation is None:
        raise Http404
    return invitation


def audit_events() -> QuerySet[TimelineEvent]:
    """Membership, role, team and settings changes of the current tenant, newest first."""
    from crm.models import Tenant

    types = ContentType.objects.get_for_models(*AUDIT_TARGETS, Tenant).values()
    return TimelineEvent.objects.filter(target_type__in=list(types)).select_related("actor__user")


def timeline_for(*, target: object) -> QuerySet[TimelineEvent]:
    """Every event of one record, newest first."""
    content_type = ContentType.objects.get_for_model(target, for_concrete_model=False)
    return TimelineEvent.objects.filter(
        target_type=content_type, target_id=target.pk
    ).select_related("actor__user")


def user_exists_for_email(*, email: str) -> bool:
    """Whether an account uses this (normalized) e-mail address."""
    return User.objects.filter(email=email).exists()


def activities_for(*, target: object) -> QuerySet[Activity]:
    """A record's activities: open ones first by due date, then done ones."""
    content_type = ContentType.objects.get_for_model(target, for_concrete_model=False)
    return Activity.objects.filter(target_type=content_type, target_id=target.pk).select_related(
        "owner__user"
    )


def due_target_ids(*, model: type, end: datetime, start: datetime | None = None) -> QuerySet:
    """Ids of `model` rows with an activity not done that is due before `end` (and, with
    `start`, not before it): `end=now` finds the overdue ones, a local day's bounds the
    ones due that day."""
    content_type = ContentType.objects.get_for_model(model)
    activities = Activity.objects.filter(target_type=content_type, done_at=None, due_at__lt=end)
    if start is not None:
        activities = activities.filter(due_at__gte=start)
    return activities.values("target_id")


def activity_get(*, activity_id: int) -> Activity:
    activity = Activity.objects.filter(pk=activity_id).first()
    if activity is None:
        raise Http404
    return activity


def assignable_members() -> QuerySet[Membership]:
    """Active people of the tenant (robots aside): whom records and activities may be
    given to, in owner choices everywhere."""
    return (
        Membership.objects.filter(is_active=True, is_system=False)
        .select_related("user", "role", "team")
        .order_by("user__full_name", "user__email")
    )
