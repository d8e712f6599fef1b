"""How timeline events read to people: one translatable sentence per event kind."""

from __future__ import annotations

from collections import defaultdict

from django.utils.translation import gettext_lazy as _

from crm.models import TimelineEvent

EVENT_TEXTS = {
    "member.joined": _("joined as %(role)s"),
    "member.invited": _("invited %(email)s as %(role)s"),
    "member.invitation_revoked": _("revoked the invitation of %(email)s"),
    "member.role_changed": _("changed the role of %(user)s from %(from)s to %(to)s"),
    "member.team_changed": _("moved %(user)s from team “%(from)s” to “%(to)s”"),
    "member.team_joined": _("added %(user)s to team “%(to)s”"),
    "member.team_left": _("removed %(user)s from team “%(from)s”"),
    "member.deactivated": _("deactivated %(user)s"),
    "member.reactivated": _("reactivated %(user)s"),
    "role.created": _("created the role %(role)s"),
    "role.rights_changed": _("changed the role %(role)s (%(count)s changes)"),
    "role.deleted": _("deleted the role %(role)s"),
    "team.created": _("created the team %(team)s"),
    "team.changed": _("changed the team %(team)s"),
    "team.deleted": _("deleted the team %(team)s"),
    "tenant.settings_changed": _("changed the workspace settings: %(fields)s"),
}


def describe(event: TimelineEvent) -> str:
    """The event as a sentence (its actor is shown separately); unknown kinds show the kind."""
    template = EVENT_TEXTS.get(event.kind)
    if template is None:
        return event.kind
    values: defaultdict[str, str] = defaultdict(str, {k: str(v) for k, v in event.data.items()})
    values["count"] = str(len(event.data.get("changes", {})))
    values["fields"] = ", ".join(event.data.get("changes", {}))
    return str(template) % values
