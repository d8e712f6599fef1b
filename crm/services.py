"""Write use cases of the core: tenants, members, invitations, roles, teams, the timeline.

Every service is transactional, takes the acting Membership (`actor`) where a person acts,
records TimelineEvents, and defers side effects (e-mail) until the transaction commits.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core import signing
from django.db import IntegrityError, models, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from crm import ratelimit
from crm.access import (
    DEFAULT_ROLES,
    ENTITY_ACTIONS,
    AccessDenied,
    Action,
    TeamLayout,
    TenantRight,
    can,
    grants_within,
    role_within,
    team_change_within,
    validate_rights,
)
from crm.activities import DETAIL_URLS, may_change
from crm.bulk import insert_rows
from crm.errors import DomainError
from crm.mail import send_email
from crm.models import (
    Activity,
    Invitation,
    Membership,
    Role,
    Team,
    Tenant,
    TimelineEvent,
    User,
    normalize_email,
)
from crm.notifications import notify
from crm.ordering import name_taken
from crm.tenancy import TenantMismatchError, current_tenant, tenant_context
from crm.urlnames import tenant_reverse

INVITATION_SALT = "crm.invitation"
SIGNUP_SALT = "crm.signup"


# --- Timeline -----------------------------------------------------------------------------


class _Actor:
    """Sentinel for `owner=`: the record belongs to whoever creates it."""


ACTOR = _Actor()


_TIMELINE_BUFFER: ContextVar[list[TimelineEvent] | None] = ContextVar(
    "timeline_buffer", default=None
)


@contextmanager
def timeline_batch() -> Iterator[None]:
    """Write the timeline events recorded inside the block with one INSERT when it ends
    (nothing when it ends with an exception: put it inside the transaction or savepoint
    whose work they describe). The worker wraps each delivery in one."""
    buffer: list[TimelineEvent] = []
    token = _TIMELINE_BUFFER.set(buffer)
    try:
        yield
    finally:
        _TIMELINE_BUFFER.reset(token)
    if buffer:
        TimelineEvent.objects.bulk_create(buffer)


def timeline_record(
    *, actor: Membership | None, target: models.Model, kind: str, data: dict[str, Any] | None = None
) -> TimelineEvent:
    """Append one immutable event to `target`'s history (inside the active tenant)."""
    event = TimelineEvent(
        target_type=ContentType.objects.get_for_model(target, for_concrete_model=False),
        target_id=target.pk,
        actor=actor,
        kind=kind,
        data=data or {},
    )
    buffer = _TIMELINE_BUFFER.get()
    if buffer is None:
        event.save()
    else:  # timeline_batch writes it; bulk_create gives it the tenant as save() would
        buffer.append(event)
    return event


def timeline_record_many(
    *,
    actor: Membership | None,
    model: type[models.Model],
    target_ids: list[int],
    kind: str,
    data: dict[str, Any],
) -> None:
    """The same event on many records of one model at once (bulk moves, bulk actions)."""
    timeline_record_each(
        actor=actor, model=model, kind=kind, rows=[(pk, data) for pk in target_ids]
    )


def timeline_record_each(
    *,
    actor: Membership | None,
    model: type[models.Model],
    kind: str,
    rows: list[tuple[int, dict[str, Any]]],
) -> None:
    """One event of `kind` on each of many records of one model, each with its own data
    (`rows`: (record id, data)), in one statement."""
    if not rows:
        return
    content_type = ContentType.objects.get_for_model(model, for_concrete_model=False)
    tenant = current_tenant()
    if tenant is None:
        raise TenantMismatchError("Timeline events written outside a tenant context.")
    actor_id = actor.pk if actor else None
    insert_rows(
        TimelineEvent,
        ("tenant_id", "target_type_id", "target_id", "actor_id", "kind", "data"),
        [(tenant.pk, content_type.pk, pk, actor_id, kind, data) for pk, data in rows],
    )


def _member_label(member: Membership) -> str:
    return str(member.user)


def _check_same_tenant(obj: models.Model, *related: models.Model | None) -> None:
    """FK traversal is unscoped: refuse to link rows of different tenants."""
    for other in related:
        if other is not None and other.tenant_id != obj.tenant_id:
            raise DomainError(_("That record belongs to another workspace."))


# --- Tenants ------------------------------------------------------------------------------


def _roles_seed(tenant: Tenant) -> dict[str, Role]:
    roles = {}
    for kind, spec in DEFAULT_ROLES.items():
        roles[kind] = Role.objects.create(
            tenant=tenant,
            kind=kind,
            name=str(spec["name"]),
            rights=validate_rights(spec["rights"]),
            can_manage_settings=TenantRight.SETTINGS in spec["tenant_rights"],
            can_view_analytics=TenantRight.ANALYTICS in spec["tenant_rights"],
            can_manage_users=TenantRight.USERS in spec["tenant_rights"],
        )
    return roles


def tenant_create(
    *,
    name: str,
    slug: str,
    owner: User,
    language: str = "ru",
    default_region: str = "RU",
    time_zone: str = "Europe/Moscow",
    currency: str = "RUB",
) -> tuple[Tenant, Membership]:
    """Create a tenant with its default roles and `owner` as its first administrator.

    Raises DomainError when the slug is taken.
    """
    with transaction.atomic():
        if Tenant.objects.filter(slug=slug).exists():
            raise DomainError(_("The address “%(slug)s” is already taken.") % {"slug": slug})
        try:
            with transaction.atomic():
                tenant = Tenant.objects.create(
                    name=name,
                    slug=slug,
                    language=language,
                    default_region=default_region,
                    time_zone=time_zone,
                    currency=currency,
                )
        except IntegrityError as exc:
            raise DomainError(
                _("The address “%(slug)s” is already taken.") % {"slug": slug}
            ) from exc
        with tenant_context(tenant), translation.override(language):
            roles = _roles_seed(tenant)
            for seeder in settings.TENANT_SEEDERS:
                import_string(seeder)(tenant)
            membership = Membership.objects.create(tenant=tenant, user=owner, role=roles["admin"])
            timeline_record(
                actor=membership,
                target=membership,
                kind="member.joined",
                data={"user": _member_label(membership), "role": roles["admin"].name},
            )
    return tenant, membership


def tenant_update(*, actor: Membership, tenant: Tenant, data: dict[str, Any]) -> Tenant:
    """Change the tenant's general settings; records which fields changed."""
    fields = [
        "name",
        "mode",
        "default_region",
        "time_zone",
        "currency",
        "language",
        "response_sla_minutes",
        "sla_reassign",
    ]
    changed = {
        f: [str(getattr(tenant, f)), str(data[f])]
        for f in fields
        if f in data and getattr(tenant, f) != data[f]
    }
    if not changed:
        return tenant
    with transaction.atomic():
        for field in changed:
            setattr(tenant, field, data[field])
        tenant.save(update_fields=list(changed))
        timeline_record(
            actor=actor, target=tenant, kind="tenant.settings_changed", data={"changes": changed}
        )
    return tenant


def user_signup(
    *, email: str, password: str, full_name: str, tenant_name: str, slug: str, language: str
) -> tuple[User, Tenant, Membership]:
    """Register a person and their company's tenant, the person as its administrator."""
    with transaction.atomic():
        if User.objects.filter(email=normalize_email(email)).exists():
            raise DomainError(_("An account with this e-mail already exists. Log in instead."))
        user = User.objects.create_user(email, password, full_name=full_name)
        tenant, membership = tenant_create(
            name=tenant_name, slug=slug, owner=user, language=language
        )
    return user, tenant, membership


def signup_request(
    *, email: str, full_name: str, company: str, slug: str, language: str, site: str
) -> None:
    """Step one of sign-up: e-mail `email` either a link that creates the workspace (an
    address without an account) or a reminder that it already has one, with the login and
    password-reset links (`site`: the CRM's base URL). The caller answers the same in both
    cases, so sign-up never tells whether an address has an account. At most
    SIGNUP_MAILS_PER_ADDRESS messages an hour go to one address (more are dropped
    silently: sign-up cannot be used to flood a mailbox).

    Raises OSError when the mail server refuses or cannot be reached.
    """
    email = normalize_email(email)
    if ratelimit.over_limit(
        f"signup-mail:{email}", limit=settings.SIGNUP_MAILS_PER_ADDRESS, window=3600
    ):
        return
    with translation.override(language):
        if User.objects.filter(email=email).exists():
            context = {
                "login": site + reverse("accounts:login"),
                "reset": site + reverse("accounts:password_reset"),
            }
            template = "accounts/email/signup_exists"
        else:
            token = signing.dumps(
                {"e": email, "n": full_name, "c": company, "s": slug, "l": language},
                salt=SIGNUP_SALT,
                compress=True,
            )
            context = {
                "link": site + reverse("accounts:signup_confirm", kwargs={"token": token}),
                "hours": settings.SIGNUP_LINK_MAX_AGE_HOURS,
                "company": company,
                "slug": slug,
            }
            template = "accounts/email/signup_confirm"
        subject = render_to_string(f"{template}_subject.txt", context)
        body = render_to_string(f"{template}_body.txt", context)
    send_email(subject=subject, body=body, to=[email])


@dataclass(frozen=True)
class SignupRequest:
    """What step one of sign-up asked for, read back from the e-mailed link."""

    email: str
    full_name: str
    company: str
    slug: str
    language: str


def signup_resolve(token: str) -> SignupRequest | None:
    """The sign-up a link's token carries, or None (forged, tampered or expired)."""
    try:
        data = signing.loads(
            token,
            salt=SIGNUP_SALT,
            max_age=timedelta(hours=settings.SIGNUP_LINK_MAX_AGE_HOURS),
        )
        return SignupRequest(
            email=str(data["e"]),
            full_name=str(data["n"]),
            company=str(data["c"]),
            slug=str(data["s"]),
            language=str(data["l"]),
        )
    except (signing.BadSignature, KeyError, TypeError):
        return None


# --- Invitations --------------------------------------------------------------------------


def invitation_token(invitation: Invitation) -> str:
    """The signed token in an invitation link (tenant id, invitation id and nonce)."""
    return signing.dumps(
        {"t": invitation.tenant_id, "i": invitation.pk, "n": invitation.nonce}, salt=INVITATION_SALT
    )


# The placeholder id of the invited person in a TeamLayout (no membership yet).
_INVITEE = -1


def member_invite(*, actor: Membership, email: str, role: Role, team: Team | None) -> Invitation:
    """Invite `email` to the actor's tenant; the link is e-mailed after commit.

    Raises DomainError past INVITATIONS_PER_HOUR invitations by the actor in the last hour
    (every invitation sends an e-mail from the workspace to an address anyone may type).
    """
    from crm.tasks import invitation_send_task

    email = normalize_email(email)
    if not role_within(actor, role):
        raise AccessDenied(_("You cannot give a role with more rights than your own."))
    if team is not None:
        _check_may_move(actor, roles=(role,))
        before = TeamLayout.load()
        _check_team_reach(actor, before, before.moved(member=_INVITEE, team=team.pk, role=role))
    limit = settings.INVITATIONS_PER_HOUR
    since = timezone.now() - timedelta(hours=1)
    with transaction.atomic():
        _lock_tenant(actor.tenant_id)  # two invitations at once count one after the other
        sent = Invitation.objects.filter(invited_by=actor, created_at__gte=since).count()
        if 0 < limit <= sent:
            raise DomainError(
                _(
                    "You have sent %(limit)s invitations in the last hour, the most allowed: "
                    "try again later."
                )
                % {"limit": limit}
            )
        invitation = Invitation(
            tenant=actor.tenant,
            email=email,
            role=role,
            team=team,
            invited_by=actor,
            nonce=secrets.token_hex(16),
            expires_at=timezone.now() + timedelta(days=settings.INVITATION_MAX_AGE_DAYS),
        )
        _check_same_tenant(invitation, role, team)
        if Membership.objects.filter(user__email=email).exists():
            raise DomainError(
                _("%(email)s is already a member of this workspace.") % {"email": email}
            )
        # A new invitation replaces earlier pending ones for the same address.
        Invitation.objects.filter(email=email, accepted_at=None, revoked_at=None).update(
            revoked_at=timezone.now()
        )
        invitation.save()
        timeline_record(
            actor=actor,
            target=invitation,
            kind="member.invited",
            data={"email": email, "role": role.name, "team": team.name if team else ""},
        )
        tenant_id, invitation_id = invitation.tenant_id, invitation.pk
        transaction.on_commit(
            lambda: invitation_send_task.delay(tenant_id=tenant_id, invitation_id=invitation_id)
        )
    return invitation


def invitation_revoke(*, actor: Membership, invitation: Invitation) -> None:
    """Cancel a pending invitation so its link stops working."""
    if not invitation.is_pending:
        raise DomainError(_("This invitation is no longer pending."))
    with transaction.atomic():
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at", "updated_at"])
        timeline_record(
            actor=actor,
            target=invitation,
            kind="member.invitation_revoked",
            data={"email": invitation.email},
        )


def invitation_resolve(token: str) -> Invitation | None:
    """The pending invitation a link's token names, or None (bad, expired, used, revoked).

    Runs before any tenant is active: the signed token names the tenant to enter.
    """
    try:
        payload = signing.loads(
            token, salt=INVITATION_SALT, max_age=timedelta(days=settings.INVITATION_MAX_AGE_DAYS)
        )
        tenant = Tenant.objects.get(pk=payload["t"])
    except (signing.BadSignature, Tenant.DoesNotExist, KeyError, TypeError):
        return None
    with tenant_context(tenant):
        invitation = (
            Invitation.objects.select_related("tenant", "role", "team")
            .filter(pk=payload.get("i"), nonce=payload.get("n"))
            .first()
        )
    if invitation is None or not invitation.is_pending:
        return None
    return invitation


def invitation_accept(*, invitation: Invitation, user: User) -> Membership:
    """Make `user` a member with the invitation's role and team; the link is then spent."""
    if normalize_email(user.email) != invitation.email:
        raise DomainError(_("This invitation was sent to another e-mail address."))
    with tenant_context(invitation.tenant):
        claimed = Invitation.objects.filter(
            pk=invitation.pk, accepted_at=None, revoked_at=None, expires_at__gt=timezone.now()
        ).update(accepted_at=timezone.now())
        if claimed != 1:
            raise DomainError(_("This invitation is no longer valid."))
        existing = Membership.objects.filter(user=user).first()
        if existing is not None:
            raise DomainError(_("You are already a member of this workspace."))
        membership = Membership.objects.create(
            user=user, role=invitation.role, team=invitation.team
        )
        timeline_record(
            actor=membership,
            target=membership,
            kind="member.joined",
            data={"user": _member_label(membership), "role": invitation.role.name},
        )
    return membership


def user_signup_from_invitation(*, invitation: Invitation, full_name: str, password: str) -> User:
    """Create the invited person's account and membership in one transaction."""
    with transaction.atomic():
        if User.objects.filter(email=invitation.email).exists():
            raise DomainError(_("An account with this e-mail already exists. Log in to accept."))
        user = User.objects.create_user(invitation.email, password, full_name=full_name)
        invitation_accept(invitation=invitation, user=user)
    return user


# --- Members ------------------------------------------------------------------------------

SYSTEM_EMAIL = "system@voronka.invalid"


# The robot of each tenant this process has met, keyed by the tenant's id and creation
# time (a reused id in a test database is another tenant). Robots are never deleted and keep
# the administrator role, whose rights cannot be reduced.
_ROBOTS: dict[tuple[int, Any], Membership] = {}


def system_actor(tenant: Tenant) -> Membership:
    """The tenant's robot member, created on first use: channels and periodic tasks act as
    it. It has the administrator role, is never listed among people, and its user cannot log
    in (inactive, no usable password). Call inside the tenant's context."""
    key = (tenant.pk, tenant.created_at)
    known = _ROBOTS.get(key)
    if known is not None:
        member = copy.copy(known)
        member.tenant = tenant  # the caller's, with its current settings
        return member
    member = _robot_get_or_create(tenant)
    _ROBOTS[key] = member
    return member


def _robot_get_or_create(tenant: Tenant) -> Membership:
    member = (
        Membership.objects.filter(is_system=True).select_related("role", "tenant", "user").first()
    )
    if member is not None:
        return member
    user, _created = User.objects.get_or_create(
        email=SYSTEM_EMAIL, defaults={"full_name": "Voronka", "is_active": False}
    )
    if _created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    role = Role.objects.get(kind=Role.Kind.ADMIN)
    try:
        with transaction.atomic():
            Membership.objects.create(tenant=tenant, user=user, role=role, is_system=True)
    except IntegrityError:  # another worker created it first
        pass
    return Membership.objects.select_related("role", "tenant", "user").get(is_system=True)


def _admins_left(tenant_members: models.QuerySet, excluding: Membership) -> bool:
    return (
        tenant_members.filter(is_active=True, is_system=False, role__kind=Role.Kind.ADMIN)
        .exclude(pk=excluding.pk)
        .exists()
    )


def _check_may_manage(actor: Membership, member: Membership) -> None:
    """Only administrators act on administrators."""
    if member.role.is_admin and not actor.role.is_admin:
        raise AccessDenied(_("Only administrators can change administrators."))


_TEAM_PINNED_KINDS = (Role.Kind.ADMIN, Role.Kind.DIRECTOR)


def _check_may_move(actor: Membership, *members: Membership | None, roles: tuple = ()) -> None:
    """Only administrators change the team of an administrator or a director."""
    if actor.role.is_admin:
        return
    kinds = {m.role.kind for m in members if m is not None} | {r.kind for r in roles}
    if kinds & set(_TEAM_PINNED_KINDS):
        raise AccessDenied(
            _("Only administrators can change the team of an administrator or a director.")
        )


def _check_team_reach(actor: Membership, before: TeamLayout, after: TeamLayout) -> None:
    """Team edits obey the limit of role edits: no reach beyond the actor's own."""
    if not team_change_within(actor, before, after):
        raise AccessDenied(
            _("You cannot give anyone access to records beyond what you can reach yourself.")
        )


def _lock_tenant(tenant_id: int) -> None:
    """Serialize changes that must keep an administrator (two admins demoting each other)."""
    Tenant.objects.select_for_update().filter(pk=tenant_id).first()


def member_update(
    *, actor: Membership, member: Membership, role: Role, team: Team | None
) -> Membership:
    """Change a member's role and team; refuses to leave the tenant without an administrator.

    Raises AccessDenied when a non-administrator touches an administrator, changes their own
    role, hands out a role with more rights than their own, changes a director's team, or
    moves someone so that anyone reaches records the actor cannot (`team_change_within`).
    """
    _check_same_tenant(member, role, team)
    _check_may_manage(actor, member)
    changes: dict[str, list[str]] = {}
    if member.role_id != role.pk:
        if not role_within(actor, role):
            raise AccessDenied(_("You cannot give a role with more rights than your own."))
        if member.pk == actor.pk and not actor.role.is_admin:
            raise AccessDenied(_("You cannot change your own role."))
        changes["role"] = [member.role.name, role.name]
    if member.team_id != (team.pk if team else None):
        _check_may_move(actor, member, roles=(role,))
        changes["team"] = [member.team.name if member.team else "", team.name if team else ""]
    if not changes:
        return member
    with transaction.atomic():
        _lock_tenant(member.tenant_id)
        before = TeamLayout.load()
        after = before.moved(member=member.pk, team=team.pk if team else None, role=role)
        _check_team_reach(actor, before, after)
        if (
            "role" in changes
            and member.role.is_admin
            and not _admins_left(Membership.objects.all(), member)
        ):
            raise DomainError(_("A workspace needs at least one active administrator."))
        member.role, member.team = role, team
        member.save(update_fields=["role", "team", "updated_at"])
        for field, (old, new) in changes.items():
            kind = f"member.{field}_changed"
            if field == "team" and not old:
                kind = "member.team_joined"
            elif field == "team" and not new:
                kind = "member.team_left"
            timeline_record(
                actor=actor,
                target=member,
                kind=kind,
                data={"user": _member_label(member), "from": old, "to": new},
            )
    return member


def member_set_active(*, actor: Membership, member: Membership, active: bool) -> Membership:
    """Deactivate (no more access, records kept) or reactivate a member."""
    if member.is_active == active:
        return member
    _check_may_manage(actor, member)
    if not active and member.pk == actor.pk:
        raise DomainError(_("You cannot deactivate yourself."))
    with transaction.atomic():
        _lock_tenant(member.tenant_id)
        if (
            not active
            and member.role.is_admin
            and not _admins_left(Membership.objects.all(), member)
        ):
            raise DomainError(_("A workspace needs at least one active administrator."))
        member.is_active = active
        member.save(update_fields=["is_active", "updated_at"])
        timeline_record(
            actor=actor,
            target=member,
            kind="member.reactivated" if active else "member.deactivated",
            data={"user": _member_label(member)},
        )
    return member


def member_set_away(*, member: Membership, away: bool) -> Membership:
    """Mark oneself away (no new leads from distribution rules) or back."""
    if member.is_away == away:
        return member
    with transaction.atomic():
        member.is_away = away
        member.save(update_fields=["is_away", "updated_at"])
        timeline_record(
            actor=member,
            target=member,
            kind="member.away" if away else "member.back",
            data={"user": _member_label(member)},
        )
    return member


def member_set_alerts(*, member: Membership, sound: bool, desktop: bool) -> Membership:
    """How my open pages announce a new lead: a sound, a browser notification (each
    optional; only my own membership)."""
    if (member.alert_sound, member.alert_desktop) == (sound, desktop):
        return member
    member.alert_sound, member.alert_desktop = sound, desktop
    member.save(update_fields=["alert_sound", "alert_desktop", "updated_at"])
    return member


# --- Roles --------------------------------------------------------------------------------


def role_create(*, actor: Membership, name: str, copy_from: Role | None = None) -> Role:
    """Create a custom role, starting from another role's rights or from none."""
    _check_same_tenant(actor, copy_from)
    if name_taken(Role.objects.all(), name):
        raise DomainError(_("A role with this name already exists."))
    if copy_from is not None and not role_within(actor, copy_from):
        raise AccessDenied(_("You cannot create a role with more rights than your own."))
    with transaction.atomic():
        role = Role.objects.create(name=name, rights=validate_rights({}))
        if copy_from is not None:
            role.rights = {
                entity: {action: copy_from.scope(entity, action) for action in actions}
                for entity, actions in ENTITY_ACTIONS.items()
            }
            role.can_manage_settings = copy_from.has_right(TenantRight.SETTINGS)
            role.can_view_analytics = copy_from.has_right(TenantRight.ANALYTICS)
            role.can_manage_users = copy_from.has_right(TenantRight.USERS)
            role.save()
        timeline_record(actor=actor, target=role, kind="role.created", data={"role": name})
    return role


def role_update(
    *,
    actor: Membership,
    role: Role,
    name: str,
    rights: dict[str, dict[str, str]],
    tenant_rights: set[str],
) -> Role:
    """Rename a role and replace its matrix; each changed cell is recorded on the timeline.

    The Administrator role keeps every right and can only be renamed.
    """
    clean = validate_rights(rights)
    if not actor.role.is_admin:
        if role.pk == actor.role_id or role.is_admin:
            raise AccessDenied(_("Only administrators can change this role."))
        if not grants_within(actor, clean, tenant_rights):
            raise AccessDenied(_("You cannot give rights you do not have yourself."))
    if name_taken(Role.objects.all(), name, exclude_pk=role.pk):
        raise DomainError(_("A role with this name already exists."))
    changes: dict[str, list[str]] = {}
    if role.name != name:
        changes["name"] = [role.name, name]
    if not role.is_admin:
        for entity, actions in clean.items():
            for action, scope in actions.items():
                old = role.rights.get(entity, {}).get(action, "none")
                if old != scope:
                    changes[f"{entity}.{action}"] = [old, scope]
        flags = {
            "can_manage_settings": TenantRight.SETTINGS in tenant_rights,
            "can_view_analytics": TenantRight.ANALYTICS in tenant_rights,
            "can_manage_users": TenantRight.USERS in tenant_rights,
        }
        for field, value in flags.items():
            if getattr(role, field) != value:
                changes[field] = [str(getattr(role, field)), str(value)]
    if not changes:
        return role
    with transaction.atomic():
        if not role.is_admin:
            # What the new matrix reaches in its holders' places, not only its scopes.
            changed = copy.copy(role)
            changed.rights = clean
            before = TeamLayout.load()
            roles = {pk: changed if r.pk == role.pk else r for pk, r in before.roles.items()}
            _check_team_reach(actor, before, TeamLayout(before.team_of, before.lead_of, roles))
        role.name = name
        if not role.is_admin:
            role.rights = clean
            for field, value in flags.items():
                setattr(role, field, value)
        role.save()
        timeline_record(
            actor=actor,
            target=role,
            kind="role.rights_changed",
            data={"role": role.name, "changes": changes},
        )
    return role


def role_delete(*, actor: Membership, role: Role) -> None:
    """Delete a custom role that nobody holds."""
    if role.kind != Role.Kind.CUSTOM:
        raise DomainError(_("Built-in roles cannot be deleted."))
    if role.memberships.exists():
        raise DomainError(_("Move this role's members to another role first."))
    with transaction.atomic():
        timeline_record(actor=actor, target=role, kind="role.deleted", data={"role": role.name})
        role.delete()


# --- Teams --------------------------------------------------------------------------------


def team_save(*, actor: Membership, team: Team | None, name: str, lead: Membership | None) -> Team:
    """Create a team (team=None) or rename it and change its lead (who joins the team).

    Raises AccessDenied when a non-administrator names or replaces an administrator or a
    director as lead, or when the new lead would reach records the actor cannot.
    """
    if team is not None:
        _check_same_tenant(team, lead)
    elif lead is not None and lead.tenant_id != actor.tenant_id:
        raise DomainError(_("That record belongs to another workspace."))
    if name_taken(Team.objects.all(), name, exclude_pk=team.pk if team else None):
        raise DomainError(_("A team with this name already exists."))
    old_lead = team.lead if team is not None else None
    if (old_lead.pk if old_lead else None) != (lead.pk if lead else None):
        _check_may_move(actor, old_lead, lead)
    with transaction.atomic():
        if lead is not None or old_lead is not None:
            _lock_tenant(actor.tenant_id)
            before = TeamLayout.load()
            after = before.led(team=team.pk if team else 0, lead=lead.pk if lead else None)
            _check_team_reach(actor, before, after)
        if team is None:
            team = Team.objects.create(name=name, lead=lead)
            kind = "team.created"
        else:
            team.name, team.lead = name, lead
            team.save(update_fields=["name", "lead", "updated_at"])
            kind = "team.changed"
        if lead is not None and lead.team_id != team.pk:
            lead.team = team
            lead.save(update_fields=["team", "updated_at"])
        timeline_record(
            actor=actor,
            target=team,
            kind=kind,
            data={"team": name, "lead": _member_label(lead) if lead else ""},
        )
    return team


def team_delete(*, actor: Membership, team: Team) -> None:
    """Delete a team; its members stay, without a team.

    Raises AccessDenied when a non-administrator deletes a team that an administrator or a
    director belongs to or leads.
    """
    _check_may_move(actor, team.lead, *team.members.select_related("role"))
    with transaction.atomic():
        timeline_record(actor=actor, target=team, kind="team.deleted", data={"team": team.name})
        team.delete()


# --- Activities ---------------------------------------------------------------------------


def activity_create(
    *,
    actor: Membership,
    target: models.Model,
    kind: str,
    subject: str,
    note: str = "",
    due_at: Any = None,
    remind_at: Any = None,
    owner: Membership | None = None,
) -> Activity:
    """Plan or log an activity on a record; it shows on the record's timeline."""
    owner = owner or actor
    if owner.tenant_id != actor.tenant_id or target.tenant_id != actor.tenant_id:
        raise DomainError(_("That record belongs to another workspace."))
    with transaction.atomic():
        activity = Activity.objects.create(
            target_type=ContentType.objects.get_for_model(target, for_concrete_model=False),
            target_id=target.pk,
            kind=kind,
            subject=subject,
            note=note,
            due_at=due_at,
            remind_at=remind_at,
            owner=owner,
            created_by=actor,
            done_at=timezone.now() if kind == Activity.Kind.NOTE else None,
        )
        data = {"kind": kind, "subject": subject, "activity": activity.pk}
        if due_at is not None:
            data["due_at"] = due_at.isoformat()
        timeline_record(actor=actor, target=target, kind="activity.created", data=data)
    return activity


def _check_may_change_activity(actor: Membership, activity: Activity, target: Any) -> None:
    """Its owner (who sees the record) or anyone who may edit the record changes an
    activity: completes, moves or hands it over."""
    if activity.tenant_id != actor.tenant_id or target.tenant_id != actor.tenant_id:
        raise DomainError(_("That record belongs to another workspace."))
    if (activity.target_type_id, activity.target_id) != (
        ContentType.objects.get_for_model(target, for_concrete_model=False).pk,
        target.pk,
    ):
        raise DomainError(_("This activity belongs to another record."))
    if not may_change(actor, activity, target):
        raise AccessDenied(_("Your role does not allow this action on this record."))


def activity_complete(*, actor: Membership, activity: Activity, target: models.Model) -> Activity:
    """Mark an activity done (once); recorded on its record's timeline.

    Raises AccessDenied unless the actor owns the activity or may edit the record.
    """
    _check_may_change_activity(actor, activity, target)
    if activity.done_at is not None:
        return activity
    with transaction.atomic():
        activity.done_at = timezone.now()
        activity.save(update_fields=["done_at", "updated_at"])
        timeline_record(
            actor=actor,
            target=target,
            kind="activity.done",
            data={"kind": activity.kind, "subject": activity.subject, "activity": activity.pk},
        )
    return activity


def activity_reschedule(
    *, actor: Membership, activity: Activity, target: Any, due_at: datetime
) -> Activity:
    """Move an open activity to `due_at`; its reminder moves by as much and will go out
    again. Recorded on the record's timeline.

    Raises AccessDenied (see activity_complete) and DomainError for a done activity.
    """
    _check_may_change_activity(actor, activity, target)
    if activity.done_at is not None:
        raise DomainError(_("This activity is already done."))
    if timezone.is_naive(due_at):
        raise DomainError(_("Enter a valid date and time."))
    with transaction.atomic():
        fields = ["due_at", "updated_at"]
        if activity.remind_at is not None:
            shift = due_at - (activity.due_at or activity.remind_at)
            activity.remind_at += shift
            activity.reminded_at = None
            fields += ["remind_at", "reminded_at"]
        activity.due_at = due_at
        activity.save(update_fields=fields)
        timeline_record(
            actor=actor,
            target=target,
            kind="activity.rescheduled",
            data={
                "kind": activity.kind,
                "subject": activity.subject,
                "activity": activity.pk,
                "due_at": due_at.isoformat(),
            },
        )
    return activity


def activity_assign(
    *, actor: Membership, activity: Activity, target: Any, owner: Membership
) -> Activity:
    """Give an activity to another member, who is notified (in the app and by e-mail).

    Raises AccessDenied (see activity_complete); DomainError when the member is inactive,
    of another workspace, or may not see the record (they could not open it).
    """
    _check_may_change_activity(actor, activity, target)
    if owner.tenant_id != actor.tenant_id or owner.is_system or not owner.is_active:
        raise DomainError(_("Choose an active member of this workspace."))
    if activity.owner_id == owner.pk:
        return activity
    if not can(target, actor=owner, action=Action.VIEW):
        raise DomainError(
            _("%(member)s cannot see this record, so cannot do this activity.")
            % {"member": _member_label(owner)}
        )
    with transaction.atomic():
        activity.owner = owner
        activity.reminded_at = None
        activity.save(update_fields=["owner", "reminded_at", "updated_at"])
        data: dict[str, Any] = {
            "kind": activity.kind,
            "subject": activity.subject,
            "activity": activity.pk,
            "to": _member_label(owner),
        }
        timeline_record(actor=actor, target=target, kind="activity.assigned", data=data)
        if owner.pk != actor.pk:
            note: dict[str, Any] = {
                "subject": activity.subject,
                "title": str(target),
                "by": _member_label(actor),
            }
            if activity.due_at is not None and activity.done_at is None:
                note["due_at"] = activity.due_at.isoformat()
            url = tenant_reverse(DETAIL_URLS[target.access_entity], actor.tenant, pk=target.pk)
            notify(recipients=[owner], kind="activity.assigned", data=note, url=url)
    return activity
