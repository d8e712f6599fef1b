"""Access rights: one enforcement API for every view, queryset, bulk action, export and report.

A role holds a permission matrix: for each entity (lead, deal, contact, company) and action
(view, create, edit, delete, convert, export, import) a scope — none, own, team or all —
plus three tenant-level rights (settings, analytics, users).

* `scope_queryset(qs, actor=…, action=…)` narrows any queryset of an owned model to what
  the actor may act on.
* `check_object(obj, actor=…, action=…)` raises `AccessDenied` when the actor may not act
  on that object; `can(...)` is its boolean form.
* `check_entity(...)` for actions without an object (create, import, export).
* `require_right(...)` guards tenant-level pages (settings, users, analytics).

Scopes: *own* is rows the actor owns, plus rows owned by members of a team the actor
leads (the owner's manager); *team* adds rows owned by anyone in the actor's team; *all*
is the whole tenant. For entities with a shared pool (leads, deals), unassigned rows are visible
under own/team too, so managers see the inbox.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import TYPE_CHECKING, Any, ClassVar

from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from crm.tenancy import TenantModel

if TYPE_CHECKING:
    from crm.models import Membership


class Entity(models.TextChoices):
    LEAD = "lead", _("Leads")
    DEAL = "deal", _("Deals")
    CONTACT = "contact", _("Contacts")
    COMPANY = "company", _("Companies")


class Action(models.TextChoices):
    # The matrix's column heads are nouns ("Удаление"); the same words on buttons are verbs
    # ("Удалить"), so these carry their own context.
    VIEW = "view", pgettext_lazy("right", "View")
    CREATE = "create", pgettext_lazy("right", "Create")
    EDIT = "edit", pgettext_lazy("right", "Edit")
    DELETE = "delete", pgettext_lazy("right", "Delete")
    CONVERT = "convert", pgettext_lazy("right", "Convert")
    EXPORT = "export", pgettext_lazy("right", "Export")
    IMPORT = "import", pgettext_lazy("right", "Import")
    # Set a lead's level, temperature and framework answers (a marketer qualifies leads
    # they may not edit: seed 002).
    QUALIFY = "qualify", pgettext_lazy("right", "Qualify")
    # Write to the person from the record's card, in their channel (a marketer reads the
    # conversation but does not answer).
    REPLY = "reply", pgettext_lazy("right", "Reply")


class Scope(models.TextChoices):
    NONE = "none", _("None")
    OWN = "own", _("Own")
    TEAM = "team", _("Own team")
    ALL = "all", _("All")


class TenantRight(models.TextChoices):
    SETTINGS = "settings", _("Tenant settings, roles, statuses, pipelines, channels")
    ANALYTICS = "analytics", _("Analytics")
    USERS = "users", _("Users and teams")


# Which actions make sense for which entity (only leads are converted and qualified).
LEAD_ONLY = (Action.CONVERT, Action.QUALIFY)
ENTITY_ACTIONS: dict[str, tuple[str, ...]] = {
    Entity.LEAD: tuple(Action.values),
    Entity.DEAL: tuple(a for a in Action.values if a not in LEAD_ONLY),
    Entity.CONTACT: tuple(a for a in Action.values if a not in LEAD_ONLY),
    # A company has no conversation of its own (its people do).
    Entity.COMPANY: tuple(a for a in Action.values if a not in (*LEAD_ONLY, Action.REPLY)),
}

# Entities with a shared pool of unassigned rows that own/team scopes may see.
POOLED_ENTITIES = frozenset({Entity.LEAD, Entity.DEAL})


class AccessDenied(PermissionDenied):
    """The actor's role does not allow this action (HTTP 403)."""


def _matrix(default: str, **overrides: dict[str, str]) -> dict[str, dict[str, str]]:
    return {
        entity: {action: overrides.get(entity, {}).get(action, default) for action in actions}
        for entity, actions in ENTITY_ACTIONS.items()
    }


# Defaults for the four roles every tenant starts with (DESIGN §9).
DEFAULT_ROLES: dict[str, dict[str, Any]] = {
    "admin": {
        "name": _("Administrator"),
        "rights": _matrix(Scope.ALL),
        "tenant_rights": set(TenantRight.values),
    },
    "director": {
        "name": _("Director"),
        "rights": _matrix(
            Scope.ALL,
            **{e: {"delete": Scope.NONE, "import": Scope.NONE} for e in ENTITY_ACTIONS},
        ),
        "tenant_rights": {TenantRight.ANALYTICS},
    },
    "manager": {
        "name": _("Manager"),
        "rights": _matrix(
            Scope.OWN,
            lead={"delete": Scope.NONE, "export": Scope.NONE, "import": Scope.NONE},
            deal={"delete": Scope.NONE, "export": Scope.NONE, "import": Scope.NONE},
            # The customer base is shared so duplicates are found, edits stay with the owner.
            contact={
                "view": Scope.ALL,
                "create": Scope.ALL,
                "delete": Scope.NONE,
                "export": Scope.NONE,
                "import": Scope.NONE,
            },
            company={
                "view": Scope.ALL,
                "create": Scope.ALL,
                "delete": Scope.NONE,
                "export": Scope.NONE,
                "import": Scope.NONE,
            },
        ),
        "tenant_rights": set(),
    },
    "marketer": {
        "name": _("Marketer"),
        "rights": _matrix(
            Scope.NONE,
            lead={
                "view": Scope.ALL,
                "create": Scope.ALL,
                "qualify": Scope.ALL,
                "export": Scope.ALL,
                "import": Scope.ALL,
            },
            deal={"view": Scope.ALL, "export": Scope.ALL},
            contact={"view": Scope.ALL, "export": Scope.ALL, "import": Scope.ALL},
            company={"view": Scope.ALL, "export": Scope.ALL, "import": Scope.ALL},
        ),
        "tenant_rights": {TenantRight.ANALYTICS},
    },
}


def validate_rights(rights: Any) -> dict[str, dict[str, str]]:
    """Return a complete, clean matrix from `rights` or raise ValueError."""
    if not isinstance(rights, dict):
        raise ValueError("rights must be a mapping")
    clean: dict[str, dict[str, str]] = {}
    for entity, actions in ENTITY_ACTIONS.items():
        given = rights.get(entity, {})
        if not isinstance(given, dict):
            raise ValueError(f"rights[{entity}] must be a mapping")
        unknown = set(given) - set(actions)
        if unknown:
            raise ValueError(f"unknown actions for {entity}: {sorted(unknown)}")
        clean[entity] = {}
        for action in actions:
            value = given.get(action, Scope.NONE)
            if value not in Scope.values:
                raise ValueError(f"bad scope {value!r} for {entity}.{action}")
            clean[entity][action] = str(value)
    unknown_entities = set(rights) - set(ENTITY_ACTIONS)
    if unknown_entities:
        raise ValueError(f"unknown entities: {sorted(unknown_entities)}")
    return clean


class OwnedModel(TenantModel):
    """Base for tenant data with an owner, governed by one entity row of the matrix."""

    access_entity: ClassVar[str]

    owner = models.ForeignKey(
        "crm.Membership", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta(TenantModel.Meta):
        abstract = True


def scope_for(actor: Membership, entity: str, action: str) -> str:
    """The actor's scope for `action` on `entity` (Scope.NONE for an inactive member)."""
    if not actor.is_active:
        return Scope.NONE
    return actor.role.scope(entity, action)


def _members(**filters: Any) -> QuerySet:
    from crm.models import Membership

    return Membership.objects.filter(**filters).values("pk")


def _own_q(actor: Membership) -> Q:
    # Semi-joins on small membership sets instead of joining every row to its owner's team:
    # the planner keeps using the lead indexes (measured in bench/).
    return Q(owner=actor) | Q(owner_id__in=_members(team__lead=actor))


def scope_queryset(qs: QuerySet, *, actor: Membership, action: str) -> QuerySet:
    """Narrow `qs` (of an OwnedModel) to the rows `actor` may `action`."""
    entity = qs.model.access_entity
    scope = scope_for(actor, entity, action)
    if scope == Scope.ALL:
        return qs
    if scope == Scope.NONE:
        return qs.none()
    allowed = _own_q(actor)
    if scope == Scope.TEAM and actor.team_id is not None:
        allowed |= Q(owner_id__in=_members(team_id=actor.team_id))
    if entity in POOLED_ENTITIES and action == Action.VIEW:
        allowed |= Q(owner__isnull=True)
    return qs.filter(allowed)


@dataclass(frozen=True)
class OwnerScope:
    """The rows of a scope short of "all", by owner: `owner_ids` (evaluated) and, when
    `unassigned`, rows without an owner."""

    owner_ids: list[int]
    unassigned: bool


def owner_scope(*, actor: Membership, entity: str, action: str) -> OwnerScope | None:
    """The same rows as `scope_queryset`, as owner ids for indexes keyed by owner (e.g. the
    lead search words); None means every row. One query for the team members (own, team)."""
    scope = scope_for(actor, entity, action)
    if scope == Scope.ALL:
        return None
    if scope == Scope.NONE:
        return OwnerScope(owner_ids=[], unassigned=False)
    from crm.models import Membership

    members = Q(team__lead=actor)
    if scope == Scope.TEAM and actor.team_id is not None:
        members |= Q(team_id=actor.team_id)
    others = Membership.objects.filter(members).exclude(pk=actor.pk).values_list("pk", flat=True)
    return OwnerScope(
        owner_ids=[actor.pk, *others],
        unassigned=entity in POOLED_ENTITIES and action == Action.VIEW,
    )


def abilities(actor: Membership) -> dict[str, dict[str, bool]]:
    """Whether the actor's role allows each action on some records of each entity, as
    {entity: {action: bool}}: templates show a control only to those it leads somewhere
    (`may.lead.delete`). No query: the role is loaded with the membership."""
    return {
        entity: {action: scope_for(actor, entity, action) != Scope.NONE for action in actions}
        for entity, actions in ENTITY_ACTIONS.items()
    }


def can(obj: OwnedModel, *, actor: Membership, action: str) -> bool:
    """Whether `actor` may `action` this object. Reads the owner's team when scoped."""
    if obj.tenant_id != actor.tenant_id:
        return False
    scope = scope_for(actor, obj.access_entity, action)
    if scope == Scope.ALL:
        return True
    if scope == Scope.NONE:
        return False
    owner = obj.owner
    if owner is None:
        return obj.access_entity in POOLED_ENTITIES and action == Action.VIEW
    if owner.pk == actor.pk:
        return True
    if owner.team_id is None:
        return False
    if scope == Scope.TEAM and owner.team_id == actor.team_id:
        return True
    return owner.team.lead_id == actor.pk


def check_object(obj: OwnedModel, *, actor: Membership, action: str) -> None:
    """Raise AccessDenied unless `actor` may `action` this object."""
    if not can(obj, actor=actor, action=action):
        raise AccessDenied(_("Your role does not allow this action on this record."))


def check_entity(*, actor: Membership, entity: str, action: str) -> str:
    """Raise AccessDenied unless `actor` may `action` some `entity`; return the scope."""
    scope = scope_for(actor, entity, action)
    if scope == Scope.NONE:
        raise AccessDenied(_("Your role does not allow this action."))
    return scope


SCOPE_RANK = {Scope.NONE: 0, Scope.OWN: 1, Scope.TEAM: 2, Scope.ALL: 3}


def grants_within(
    actor: Membership, rights: dict[str, dict[str, str]], tenant_rights: set[str]
) -> bool:
    """Whether `rights` and `tenant_rights` give nothing beyond what the actor holds.

    Administrators may grant anything; everyone else only up to their own rights, so a
    member with the users or settings right cannot raise anyone (themselves included)
    above their own level.
    """
    if actor.role.is_admin:
        return True
    for entity, actions in rights.items():
        for action, scope in actions.items():
            if SCOPE_RANK[Scope(scope)] > SCOPE_RANK[Scope(actor.role.scope(entity, action))]:
                return False
    return all(actor.role.has_right(right) for right in tenant_rights)


def role_within(actor: Membership, role: Any) -> bool:
    """Whether the actor may hand out `role` (never the Administrator role unless admin)."""
    if actor.role.is_admin:
        return True
    if role.is_admin:
        return False
    granted = {e: {a: role.scope(e, a) for a in acts} for e, acts in ENTITY_ACTIONS.items()}
    return grants_within(actor, granted, {r for r in TenantRight.values if role.has_right(r)})


def has_right(actor: Membership | None, right: str) -> bool:
    """Whether `actor` holds a tenant-level right (settings, analytics, users)."""
    return actor is not None and actor.is_active and actor.role.has_right(right)


def require_right(*rights: str) -> Callable:
    """View decorator: 403 unless the request's membership holds one of `rights`."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(request: Any, *args: Any, **kwargs: Any) -> Any:
            actor = getattr(request, "membership", None)
            if not any(has_right(actor, right) for right in rights):
                raise AccessDenied(_("Your role does not give access to this page."))
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


# --- Reach through teams ------------------------------------------------------------------
#
# Scopes short of "all" read the teams: "own" covers the records of the members of a team one
# leads, "team" those of one's team mates. So moving a member into a team or naming a team's
# lead hands out reach just as a role does, and obeys the same limit as role edits: nobody
# but an administrator gives anyone (themselves included) reach over records they cannot
# reach themselves.


@dataclass(frozen=True)
class TeamLayout:
    """Who is in which team, who leads which, and with which role: what scopes read.

    Keys are membership ids (a pending invitee may use a negative placeholder id).
    """

    team_of: dict[int, int | None]
    lead_of: dict[int, int | None]
    roles: dict[int, Any]

    @classmethod
    def load(cls) -> TeamLayout:
        """The current tenant's layout (two queries; robots are left out)."""
        from crm.models import Membership, Role, Team

        rows = list(
            Membership.objects.filter(is_system=False).values_list("pk", "team_id", "role_id")
        )
        roles = {role.pk: role for role in Role.objects.all()}
        return cls(
            team_of={pk: team for pk, team, _role in rows},
            lead_of=dict(Team.objects.values_list("pk", "lead_id")),
            roles={pk: roles[role] for pk, _team, role in rows},
        )

    def moved(
        self,
        *,
        member: int,
        team: int | None,
        role: Any = None,
    ) -> TeamLayout:
        """The layout with `member` in `team` (and holding `role`, when given)."""
        roles = self.roles if role is None else {**self.roles, member: role}
        return TeamLayout({**self.team_of, member: team}, self.lead_of, roles)

    def led(self, *, team: int, lead: int | None) -> TeamLayout:
        """The layout with `lead` leading `team` (a lead belongs to the team they lead)."""
        team_of = self.team_of if lead is None else {**self.team_of, lead: team}
        return TeamLayout(team_of, {**self.lead_of, team: lead}, self.roles)

    def without(self, *, team: int) -> TeamLayout:
        """The layout once `team` is deleted (its members stay, without a team)."""
        team_of = {pk: (None if t == team else t) for pk, t in self.team_of.items()}
        lead_of = {t: lead for t, lead in self.lead_of.items() if t != team}
        return TeamLayout(team_of, lead_of, self.roles)

    def reach(self, member: int, entity: str, action: str) -> frozenset[int] | None:
        """The owners whose records `member` may `action` (None: every owner)."""
        scope = self.roles[member].scope(entity, action)
        if scope == Scope.ALL:
            return None
        if scope == Scope.NONE:
            return frozenset()
        led = {team for team, lead in self.lead_of.items() if lead == member}
        own_team = self.team_of.get(member) if scope == Scope.TEAM else None
        return frozenset(
            pk
            for pk, team in self.team_of.items()
            if pk == member or (team is not None and (team in led or team == own_team))
        )


def _touched(before: TeamLayout, after: TeamLayout) -> set[int]:
    """Members whose reach may differ between the layouts: everyone in or leading a team
    whose members or lead changed."""
    changed = {
        team
        for team in before.lead_of.keys() | after.lead_of.keys()
        if before.lead_of.get(team) != after.lead_of.get(team)
    }
    for pk in before.team_of.keys() | after.team_of.keys():
        if before.team_of.get(pk) != after.team_of.get(pk):
            changed |= {before.team_of.get(pk), after.team_of.get(pk)} - {None}
    members = {
        pk for layout in (before, after) for pk, team in layout.team_of.items() if team in changed
    }
    members |= {
        lead
        for layout in (before, after)
        for team, lead in layout.lead_of.items()
        if team in changed and lead is not None
    }
    return members & after.roles.keys()


def team_change_within(actor: Membership, before: TeamLayout, after: TeamLayout) -> bool:
    """Whether moving from `before` to `after` — other teams, leads or roles — gives nobody
    reach beyond the actor's own.

    Administrators may arrange people freely. For everyone else, for every entity and
    action, the records anyone newly reaches through the change must already be within the
    actor's reach before it (so nobody widens their own "own/team" scope either). A new role
    counts by what it reaches in its holder's place, not only by its scopes (`role_within`):
    "team" scope given to a member of another team reaches that team.
    """
    if actor.role.is_admin:
        return True
    touched = _touched(before, after) | {
        pk
        for pk, role in after.roles.items()
        if getattr(before.roles.get(pk), "pk", None) != role.pk
        or getattr(before.roles.get(pk), "rights", None) != role.rights
    }
    for entity, actions in ENTITY_ACTIONS.items():
        for action in actions:
            allowed = before.reach(actor.pk, entity, action)
            if allowed is None:
                continue
            for member in touched:
                had = before.reach(member, entity, action) if member in before.roles else set()
                if had is None:
                    continue  # reached every owner already: nothing to gain
                gained = after.reach(member, entity, action)
                if gained is None or not gained - had <= allowed:
                    return False  # reaches owners (maybe every one) the actor does not
    return True
