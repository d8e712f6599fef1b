"""How timeline events read to people: one translatable sentence per event kind."""

from __future__ import annotations

from collections import defaultdict

from django.utils.translation import gettext_lazy as _

from crm.history import field_label
from crm.models import Activity, TimelineEvent
from crm.periods import local_text
from crm.text import isolated

ACTIVITY_KINDS = dict(Activity.Kind.choices)

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
    "member.away": _("is away: gets no new leads"),
    "member.back": _("is back: gets new leads again"),
    "role.created": _("created the role %(role)s"),
    "role.rights_changed": _("changed the role %(role)s (%(count)s changes)"),
    "role.deleted": _("deleted the role %(role)s"),
    "team.created": _("created the team %(team)s"),
    "team.changed": _("changed the team %(team)s"),
    "team.deleted": _("deleted the team %(team)s"),
    "tenant.settings_changed": _("changed the workspace settings: %(fields)s"),
    "lead.created": _("created the lead “%(title)s”"),
    "lead.changed": _("changed %(fields)s"),
    "lead.phone_shared": _("set the phone to %(phone)s, shared by the person via “%(channel)s”"),
    "lead.moved": _("moved the lead from “%(from)s” to “%(to)s”"),
    "lead.taken": _("took the lead"),
    "lead.assigned": _("made %(to)s responsible"),
    "lead.unassigned": _("returned the lead to the shared inbox"),
    "lead.deleted": _("moved the lead to the trash"),
    "lead.restored": _("restored the lead from the trash"),
    "lead.archived": _("archived the lead"),
    "lead.unarchived": _("returned the lead from the archive to the lists"),
    "lead.converted": _("converted the lead into"),
    "lead.escalated": _("escalated the lead: no answer within %(minutes)s min"),
    "lead.postponed": _("postponed the lead until %(until)s: %(reason)s"),
    "lead.unpostponed": _("brought the postponed lead back to the lists"),
    "lead.returned": _("brought the lead back to the lists: its postponement ended (%(reason)s)"),
    "lead.inquiry": _("received an inquiry (%(source)s)"),
    "lead.repeat": _("registered a repeat inquiry (%(source)s) from someone already known:"),
    "lead.deal_created": _("made a deal for the inquiry:"),
    "lead.imported": _("imported the lead from “%(file)s”"),
    "lead.import_updated": _("updated the lead from “%(file)s”"),
    "lead.import_undone": _("undid the import “%(file)s”: the lead's values came back"),
    "lead.import_removed": _("undid the import “%(file)s”: the lead went to the trash"),
    "lead.spam": _("marked the lead as spam and blocked %(blocked)s"),
    "blocklist.added": _("added %(value)s to the blocklist"),
    "blocklist.removed": _("removed %(value)s from the blocklist"),
    "contact.converted_from": _("converted a lead into this contact:"),
    "company.converted_from": _("converted a lead into this company:"),
    "deal.inquiry": _("registered an inquiry (%(source)s)"),
    "inbound.edited": _("received an edit via “%(channel)s”; the message was: “%(old)s”"),
    "inbound.button": _("recorded a press of the button “%(label)s” in Telegram"),
    "lead.behaviour": _("recorded the event “%(event)s” from the API"),
    "lead.level": _("set the qualification level %(to)s (was %(from)s)"),
    "lead.temperature": _("set the temperature by hand: %(to)s"),
    "lead.temperature_auto": _("gave the temperature back to the score"),
    "lead.temperature_scored": _("the score %(score)s changed the temperature: %(from)s → %(to)s"),
    "lead.qualified": _("answered %(framework)s: %(questions)s"),
    "deal.converted_from": _("converted a lead into this deal:"),
    "deal.created": _("created the deal “%(title)s” in “%(stage)s”"),
    "deal.imported": _("imported the deal from “%(file)s”"),
    "deal.import_updated": _("updated the deal from “%(file)s”"),
    "deal.import_undone": _("undid the import “%(file)s”: the deal's values came back"),
    "deal.changed": _("changed %(fields)s"),
    "deal.moved": _("moved the deal from “%(from)s” to “%(to)s”"),
    "deal.won": _("won the deal (“%(to)s”)"),
    "deal.lost": _("marked the deal lost (“%(to)s”): %(reason)s"),
    "deal.reopened": _("reopened the deal (“%(from)s” → “%(to)s”)"),
    "pipeline.created": _("created the pipeline %(pipeline)s"),
    "pipeline.changed": _("changed the pipeline %(pipeline)s"),
    "pipeline.default": _("made %(pipeline)s the default pipeline"),
    "pipeline.deleted": _("deleted the pipeline %(pipeline)s, moving %(moved)s deals"),
    "loss_reason.created": _("added the loss reason %(reason)s"),
    "loss_reason.changed": _("renamed the loss reason %(from)s to %(reason)s"),
    "loss_reason.moved": _("moved the loss reason %(reason)s"),
    "loss_reason.activated": _("turned on the loss reason %(reason)s"),
    "loss_reason.deactivated": _("turned off the loss reason %(reason)s"),
    "stage.created": _("created the stage %(stage)s in %(pipeline)s"),
    "stage.changed": _("changed the stage %(stage)s in %(pipeline)s"),
    "stage.deleted": _("deleted the stage %(stage)s, moving %(moved)s deals to %(to)s"),
    "contact.created": _("created the contact “%(name)s”"),
    "contact.imported": _("imported the contact from “%(file)s”"),
    "contact.import_updated": _("updated the contact from “%(file)s”"),
    "contact.import_undone": _("undid the import “%(file)s”: the contact's values came back"),
    "contact.import_removed": _("undid the import “%(file)s”: the contact went to the trash"),
    "contact.changed": _("changed %(fields)s"),
    "contact.deleted": _("moved the contact to the trash"),
    "contact.restored": _("restored the contact from the trash"),
    "contact.merged": _("merged “%(name)s” into this contact"),
    "contact.merged_into": _("merged this contact into “%(name)s”"),
    "contact.merge_undone": _("undid the merge with “%(name)s”"),
    "company.created": _("created the company “%(name)s”"),
    "company.imported": _("imported the company from “%(file)s”"),
    "company.import_updated": _("updated the company from “%(file)s”"),
    "company.import_undone": _("undid the import “%(file)s”: the company's values came back"),
    "company.import_removed": _("undid the import “%(file)s”: the company went to the trash"),
    "company.changed": _("changed %(fields)s"),
    "company.deleted": _("moved the company to the trash"),
    "company.restored": _("restored the company from the trash"),
    "company.merged": _("merged “%(name)s” into this company"),
    "company.merged_into": _("merged this company into “%(name)s”"),
    "company.merge_undone": _("undid the merge with “%(name)s”"),
    "activity.created": _("added %(kind_label)s “%(subject)s”"),
    "activity.created_due": _("added %(kind_label)s “%(subject)s”, due %(due)s"),
    "activity.done": _("completed %(kind_label)s “%(subject)s”"),
    "activity.rescheduled": _("moved %(kind_label)s “%(subject)s” to %(due)s"),
    "activity.assigned": _("gave %(kind_label)s “%(subject)s” to %(to)s"),
    "field.created": _("added the custom field %(field)s"),
    "field.changed": _("changed the custom field %(field)s"),
    "field.deleted": _("removed the custom field %(field)s"),
    "status.created": _("created the status %(status)s"),
    "status.changed": _("changed the status %(status)s"),
    "status.default": _("made %(status)s the default of its stage"),
    "status.deleted": _("deleted the status %(status)s, moving %(moved)s leads to %(to)s"),
    "rule.created": _("created the distribution rule %(rule)s"),
    "rule.changed": _("changed the distribution rule %(rule)s"),
    "rule.moved": _("moved the distribution rule %(rule)s"),
    "rule.enabled": _("turned on the distribution rule %(rule)s"),
    "rule.disabled": _("turned off the distribution rule %(rule)s"),
    "rule.deleted": _("deleted the distribution rule %(rule)s"),
    "scoring_rule.created": _("created the scoring rule %(rule)s"),
    "scoring_rule.changed": _("changed the scoring rule %(rule)s"),
    "scoring_rule.moved": _("moved the scoring rule %(rule)s"),
    "scoring_rule.enabled": _("turned on the scoring rule %(rule)s"),
    "scoring_rule.disabled": _("turned off the scoring rule %(rule)s"),
    "scoring_rule.deleted": _("deleted the scoring rule %(rule)s"),
}


# The values qualification events store, as people read them (leads/models.py's choices).
LEVEL_LABELS = {"": _("none"), "mql": "MQL", "sal": "SAL", "sql": "SQL"}
TEMPERATURE_LABELS = {"": "—", "hot": _("Hot"), "warm": _("Warm"), "cold": _("Cold")}
QUALIFICATION_KINDS = (
    "lead.level",
    "lead.temperature",
    "lead.temperature_scored",
    "lead.qualified",
)


def _qualification(event: TimelineEvent, values: defaultdict[str, str]) -> str:
    """Fill `values` for a qualification event; the kind whose text says it."""
    data = event.data
    labels = LEVEL_LABELS if event.kind == "lead.level" else TEMPERATURE_LABELS
    for key in ("from", "to"):
        value = data.get(key) or ""
        values[key] = str(labels.get(value, value)) if isinstance(value, str) else ""
    if event.kind == "lead.qualified":
        asked = data.get("questions") if isinstance(data.get("questions"), list) else []
        values["questions"] = ", ".join(isolated(str(label)) for label in asked)
    if event.kind == "lead.temperature" and data.get("auto"):
        return "lead.temperature_auto"
    return event.kind


def describe(event: TimelineEvent) -> str:
    """The event as a sentence (its actor is shown separately); unknown kinds show the kind.
    Times in it are the workspace's (the active zone)."""
    kind = event.kind
    if kind == "activity.created" and event.data.get("due_at"):
        kind = "activity.created_due"
    template = EVENT_TEXTS.get(kind)
    if template is None:
        return event.kind
    # Values people typed are isolated: right-to-left text or direction characters in a
    # title or a message cannot reorder the sentence around them (crm/text.py).
    values: defaultdict[str, str] = defaultdict(
        str, {k: isolated(str(v)) for k, v in event.data.items()}
    )
    values["count"] = str(len(event.data.get("changes", {})))
    values["fields"] = ", ".join(field_label(event, name) for name in event.data.get("changes", {}))
    if "due_at" in event.data:
        values["due"] = local_text(event.data["due_at"])
    if "until" in event.data:
        values["until"] = local_text(event.data["until"])
    if kind in QUALIFICATION_KINDS:
        kind = _qualification(event, values)
        template = EVENT_TEXTS[kind]
    if event.kind == "lead.assigned" and not event.data.get("to"):
        return str(EVENT_TEXTS["lead.unassigned"])
    if "kind" in event.data:
        values["kind_label"] = str(
            ACTIVITY_KINDS.get(event.data["kind"], event.data["kind"])
        ).lower()
    return str(template) % values


# Records an event links to: (id key in the data, URL name, label key in the data).
LINKS = (
    ("contact_id", "contacts:detail", "contact"),
    ("company_id", "companies:detail", "company"),
    ("deal_id", "deals:detail", "deal"),
    ("lead_id", "leads:detail", "title"),
)


def links(event: TimelineEvent) -> list[tuple[str, int, str]]:
    """(URL name, id, label) of the records the event names (conversions link both ways)."""
    return [
        (url_name, event.data[key], str(event.data.get(label, "")))
        for key, url_name, label in LINKS
        if isinstance(event.data.get(key), int)
    ]
