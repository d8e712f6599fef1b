"""The isolation sweep: every URL pattern of the resolver against a policy table.

For each URL name the table says which methods it answers and what each role gets. The
sweep checks: anonymous visitors are sent to the login page; a member of another tenant
gets a 404 identical to a missing tenant's; another tenant's object id gets a 404 identical
to a missing id's; each role gets its expected status; nothing answers 5xx; and no denied
request changes the database. A URL missing from the table fails the suite.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.apps import apps
from django.contrib.sessions.models import Session
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from channels.adapters import RawDelivery
from channels.models import ReplyTemplate
from channels.services import channel_create, event_reject
from contacts.blocklist import blocked_sender_add
from contacts.services import (
    company_create,
    contact_create,
    record_activity_add,
    record_delete,
    record_merge,
)
from crm.attachments import attachment_store
from crm.models import CustomField, Invitation, Role, Team, Tenant
from crm.notifications import notify
from crm.savedfilters import saved_filter_create
from crm.services import member_invite
from crm.tenancy import TenantModel, tenant_context
from deals.models import LossReason, Pipeline
from deals.services import deal_activity_add, deal_create
from leads.distribution import rule_save
from leads.models import LeadStatus
from leads.scoring_rules import scoring_rule_save
from leads.services import (
    lead_activity_add,
    lead_archive,
    lead_create,
    lead_delete,
    lead_move,
)
from tests.factories import TeamFactory, add_member
from transfer.models import ExportJob, ImportJob

ROLES = ("admin", "director", "manager", "marketer")
ADMIN_ONLY = {"admin": 200, "director": 403, "manager": 403, "marketer": 403}
EVERYONE = dict.fromkeys(ROLES, 200)
MISSING_PK = 987_654_321
_RR = {"strategy": "round_robin"}
LEAD_VIEW = {"admin": 200, "director": 200, "manager": 404, "marketer": 200}
LEAD_EDIT = {"admin": 200, "director": 200, "manager": 404, "marketer": 403}
# Qualifying: marketers qualify leads they may not edit (seed 002).
LEAD_QUALIFY = {"admin": 302, "director": 302, "manager": 404, "marketer": 302}
# Contacts and companies: everyone may view the customer base; the record in the world
# belongs to another manager, so the manager role may see it but not change it.
PARTY_EDIT = {"admin": 200, "director": 200, "manager": 403, "marketer": 403}
PARTY_CREATE = {**EVERYONE, "marketer": 403}
# Deals: the deal in the world belongs to another manager (like the lead).
DEAL_VIEW = LEAD_VIEW
DEAL_EDIT = LEAD_EDIT
# Acting on the world's activity (the admin's, on the other manager's lead) as a plain form.
TASK_EDIT = {"admin": 302, "director": 302, "manager": 404, "marketer": 403}
# Reports: the analytics right (admins, directors and marketers by default).
ANALYSTS = {**EVERYONE, "manager": 403}
# Exports: the export right (all but the manager by default).
EXPORTERS = {**EVERYONE, "manager": 403}
# A background export: only the member who asked for it (the world's admin).
REQUESTER = {"admin": 200, "director": 404, "manager": 404, "marketer": 404}
# Import rights: administrators and marketers (leads, contacts, companies).
IMPORTERS = {**EVERYONE, "director": 403, "manager": 403}
# Another member's import: only who started it or an administrator (here: the admin's).
ITS_IMPORTER = REQUESTER


@dataclass(frozen=True)
class Public:
    """A URL outside any tenant: expected status per method for an anonymous visitor."""

    methods: dict[str, int]
    kwargs: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TenantUrl:
    """A URL under /<tenant-slug>/: expected status per method and role.

    `obj` names the world object whose id fills <pk>; `data` builds a POST body that would
    change something if the permission check were missing.
    """

    methods: dict[str, dict[str, int]]
    obj: str | None = None
    data: Callable[[dict[str, Any]], dict[str, Any]] = lambda w: {}
    # Further URL arguments taken from the world, e.g. {"activity_pk": "activity"}.
    more: dict[str, str] = field(default_factory=dict)
    # Further URL arguments given as they are, e.g. {"kind": "api"}.
    fixed: dict[str, str] = field(default_factory=dict)


def _rights_body(w: dict[str, Any]) -> dict[str, Any]:
    body = {"name": "Hacked", "tenant_rights": ["settings", "users"]}
    body.update(
        {
            f"{e}__{a}": "all"
            for e in ("lead", "deal", "contact", "company")
            for a in ("view", "create", "edit", "delete", "export", "import")
        }
    )
    body["lead__convert"] = "all"
    return body


def _rule_body(w: dict[str, Any], name: str) -> dict[str, Any]:
    return {"name": name, "strategy": "random", "members": [w["member"].pk]}


def _scoring_settings_body(w: dict[str, Any]) -> dict[str, Any]:
    return {
        "champ": "on",
        "hot_from": "5",
        "warm_from": "1",
        "fit_a_from": "5",
        "fit_b_from": "1",
        "engagement_1_from": "5",
        "engagement_2_from": "1",
    }


def _scoring_rule_body(w: dict[str, Any]) -> dict[str, Any]:
    return {"name": "Hacked", "subject": "amount", "operator": "filled", "points": "1000"}


def _party_urls(ns: str, data: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, TenantUrl]:
    """The same URLs for contacts and companies; world objects are named after `ns`."""
    one = ns.removesuffix("s").replace("companie", "company")
    return {
        f"{ns}:list": TenantUrl({"GET": EVERYONE}),
        f"{ns}:options": TenantUrl({"GET": EVERYONE}),
        # The export right: not the manager's by default (tests/transfer/test_exports.py).
        f"{ns}:export": TenantUrl({"POST": EXPORTERS}, data=lambda w: {"format": "csv"}),
        f"{ns}:create": TenantUrl({"GET": PARTY_CREATE, "POST": PARTY_CREATE}, data=data),
        f"{ns}:trash": TenantUrl({"GET": ADMIN_ONLY}),
        f"{ns}:detail": TenantUrl({"GET": EVERYONE}, obj=one),
        f"{ns}:edit": TenantUrl({"GET": PARTY_EDIT, "POST": PARTY_EDIT}, obj=one, data=data),
        f"{ns}:field": TenantUrl(
            {"GET": PARTY_EDIT, "POST": PARTY_EDIT},
            obj=one,
            fixed={"field": "phones"},
            data=lambda w: {"phones": "+7 999 000-00-00"},
        ),
        f"{ns}:activity_add": TenantUrl(
            {"POST": PARTY_EDIT}, obj=one, data=lambda w: {"kind": "call", "subject": "Hacked"}
        ),
        f"{ns}:activity_done": TenantUrl(
            {"POST": PARTY_EDIT}, obj=one, more={"activity_pk": f"{one}_activity"}
        ),
        f"{ns}:delete": TenantUrl({"POST": ADMIN_ONLY}, obj=one),
        f"{ns}:restore": TenantUrl({"POST": ADMIN_ONLY}, obj=f"trashed_{one}"),
        f"{ns}:merge": TenantUrl(
            {"GET": PARTY_EDIT, "POST": PARTY_EDIT},
            obj=one,
            data=lambda w: {"merged": w[f"other_{one}"].pk},
        ),
        f"{ns}:merge_undo": TenantUrl({"POST": ADMIN_ONLY}, obj=f"{one}_merge"),
    }


POLICY: dict[str, Public | TenantUrl] = {
    "home": Public({"GET": 302}),
    "healthz": Public({"GET": 200}),
    "inbound": Public({"GET": 404, "POST": 404}, {"token": "no-such-token"}),
    "inbound_path": Public({"GET": 404, "POST": 404}, {"token": "no-such-token", "path": "leads"}),
    "set_language": Public({"POST": 302}),
    "accounts:login": Public({"GET": 200}),
    "accounts:logout": Public({"POST": 302}),
    "accounts:signup": Public({"GET": 200}),
    "accounts:signup_sent": Public({"GET": 200}),
    "accounts:signup_confirm": Public({"GET": 404, "POST": 404}, {"token": "forged-token"}),
    "accounts:workspaces": Public({"GET": 302}),
    "accounts:invitation_accept": Public({"GET": 404, "POST": 404}, {"token": "forged-token"}),
    "accounts:password_reset": Public({"GET": 200}),
    "accounts:password_reset_done": Public({"GET": 200}),
    "accounts:password_reset_confirm": Public({"GET": 200}, {"uidb64": "MQ", "token": "bad-token"}),
    "accounts:password_reset_complete": Public({"GET": 200}),
    "crm:home": TenantUrl({"GET": EVERYONE}),
    "analytics:dashboard": TenantUrl({"GET": ANALYSTS}),
    "analytics:report": TenantUrl({"GET": ANALYSTS}, fixed={"slug": "sources"}),
    # Every member marks themselves away or back (only their own membership).
    "crm:availability": TenantUrl(
        {"POST": dict.fromkeys(ROLES, 302)}, data=lambda w: {"away": "1"}
    ),
    # Every member chooses how new leads are announced to them (their own membership).
    "crm:alerts": TenantUrl(
        {"GET": EVERYONE, "POST": dict.fromkeys(ROLES, 302)}, data=lambda w: {"sound": "on"}
    ),
    "crm:settings": TenantUrl({"GET": {**ADMIN_ONLY, "admin": 302}}),
    "crm:settings_general": TenantUrl(
        {"GET": ADMIN_ONLY, "POST": ADMIN_ONLY},
        data=lambda w: {
            "name": "Hacked",
            "mode": "simple",
            "language": "en",
            "default_region": "US",
            "time_zone": "UTC",
            "currency": "USD",
        },
    ),
    "crm:members": TenantUrl({"GET": ADMIN_ONLY}),
    "crm:member_invite": TenantUrl(
        {"POST": ADMIN_ONLY}, data=lambda w: {"email": "intruder@example.com", "role": w["role"].pk}
    ),
    "crm:member_edit": TenantUrl(
        {"GET": ADMIN_ONLY, "POST": ADMIN_ONLY},
        obj="member",
        data=lambda w: {"role": w["admin_role"].pk, "team": w["team"].pk},
    ),
    "crm:member_deactivate": TenantUrl({"POST": ADMIN_ONLY}, obj="member"),
    "crm:member_reactivate": TenantUrl({"POST": ADMIN_ONLY}, obj="inactive_member"),
    "crm:invitation_revoke": TenantUrl({"POST": ADMIN_ONLY}, obj="invitation"),
    "crm:teams": TenantUrl(
        {"GET": ADMIN_ONLY, "POST": ADMIN_ONLY}, data=lambda w: {"name": "Hacked team"}
    ),
    "crm:team_edit": TenantUrl(
        {"GET": ADMIN_ONLY, "POST": ADMIN_ONLY}, obj="team", data=lambda w: {"name": "Hacked team"}
    ),
    "crm:team_delete": TenantUrl({"POST": ADMIN_ONLY}, obj="team"),
    "crm:roles": TenantUrl(
        {"GET": ADMIN_ONLY, "POST": ADMIN_ONLY}, data=lambda w: {"name": "Hacked role"}
    ),
    "crm:role_edit": TenantUrl(
        {"GET": ADMIN_ONLY, "POST": ADMIN_ONLY}, obj="role", data=_rights_body
    ),
    "crm:role_delete": TenantUrl({"POST": ADMIN_ONLY}, obj="custom_role"),
    "crm:audit": TenantUrl({"GET": ADMIN_ONLY}),
    "crm:custom_fields": TenantUrl(
        {"GET": ADMIN_ONLY, "POST": ADMIN_ONLY},
        data=lambda w: {"entity": "lead", "label": "Hacked", "key": "hacked", "field_type": "text"},
    ),
    "crm:custom_field_edit": TenantUrl(
        {"GET": ADMIN_ONLY, "POST": ADMIN_ONLY},
        obj="custom_field",
        data=lambda w: {"label": "Hacked"},
    ),
    "crm:custom_field_delete": TenantUrl({"POST": ADMIN_ONLY}, obj="custom_field"),
    # Saving filters: any member who sees the list; removing: only the owner's own filter.
    "crm:saved_filter_create": TenantUrl(
        {"POST": dict.fromkeys(ROLES, 302)},
        data=lambda w: {"list_name": "leads:list", "name": "Hacked", "query": "state=new"},
    ),
    "crm:saved_filter_delete": TenantUrl(
        {"POST": {"admin": 302, "director": 404, "manager": 404, "marketer": 404}},
        obj="saved_filter",
    ),
    # Tasks: every member has the page; acting on an activity takes its ownership or the
    # right to edit its record (the world's activity: the admin's, on another's lead).
    "crm:tasks": TenantUrl({"GET": EVERYONE}),
    "crm:task_calendar": TenantUrl({"GET": EVERYONE}),
    "crm:task_records": TenantUrl({"GET": EVERYONE}),
    "crm:task_create": TenantUrl(
        {"POST": {**TASK_EDIT, "manager": 400}},
        data=lambda w: {"record": f"lead:{w['lead'].pk}", "kind": "call", "subject": "Hacked"},
    ),
    "crm:task_done": TenantUrl({"POST": TASK_EDIT}, obj="activity"),
    "crm:task_reschedule": TenantUrl(
        {"POST": TASK_EDIT}, obj="activity", data=lambda w: {"to": "hour"}
    ),
    "crm:task_assign": TenantUrl(
        {"POST": TASK_EDIT}, obj="activity", data=lambda w: {"owner": w["member"].pk}
    ),
    "crm:notifications": TenantUrl({"GET": EVERYONE}),
    # A file kept with the world's lead (an e-mail's attachment): those who may see the lead.
    "crm:attachment": TenantUrl({"GET": LEAD_VIEW}, obj="attachment"),
    # Only the recipient opens a notification; everyone else gets the "missing" 404.
    "crm:notification_open": TenantUrl(
        {"GET": {"admin": 302, "director": 404, "manager": 404, "marketer": 404}},
        obj="notification",
    ),
    "crm:notifications_read": TenantUrl({"POST": dict.fromkeys(ROLES, 302)}),
    # The top-bar search: each kind narrowed by the member's rights (tests/search).
    "search:results": TenantUrl({"GET": EVERYONE}),
    # Leads: the lead in the world belongs to another manager, so the manager role gets the
    # same 404 as for another tenant's lead; the marketer may view but not change it.
    "leads:inbox": TenantUrl({"GET": EVERYONE}),
    # The open pages' poll (crm.live); without a token it goes the whole way, as here.
    "leads:live": TenantUrl({"GET": EVERYONE}),
    "leads:list": TenantUrl({"GET": EVERYONE}),
    "leads:kanban": TenantUrl({"GET": EVERYONE}),
    "leads:export": TenantUrl({"POST": EXPORTERS}, data=lambda w: {"format": "csv"}),
    # Bulk actions skip what a role may not touch (tests/leads/test_board_and_bulk.py).
    "leads:bulk": TenantUrl({"POST": dict.fromkeys(ROLES, 302)}),
    "leads:trash": TenantUrl({"GET": {**ADMIN_ONLY}}),
    "leads:create": TenantUrl({"GET": EVERYONE, "POST": EVERYONE}),
    "leads:quick_create": TenantUrl({"POST": EVERYONE}),
    # The new-lead form's look-up of a typed phone or e-mail (tests/intake/test_duplicates.py).
    "leads:duplicates": TenantUrl({"GET": EVERYONE}),
    "leads:detail": TenantUrl({"GET": LEAD_VIEW}, obj="lead"),
    "leads:edit": TenantUrl(
        {"GET": LEAD_EDIT, "POST": LEAD_EDIT},
        obj="lead",
        data=lambda w: {
            "title": "Hacked",
            "phone": "+7 999 000-00-00",
            "source": "manual",
            "currency": "RUB",
        },
    ),
    "leads:field": TenantUrl(
        {"GET": LEAD_EDIT, "POST": LEAD_EDIT},
        obj="lead",
        fixed={"field": "name"},
        data=lambda w: {"name": "Hacked"},
    ),
    "leads:move": TenantUrl(
        {"POST": LEAD_EDIT}, obj="lead", data=lambda w: {"status": w["junk_status"].pk}
    ),
    "leads:convert": TenantUrl(
        {"GET": LEAD_EDIT, "POST": LEAD_EDIT},
        obj="lead",
        data=lambda w: {
            "contact_mode": "new",
            "company_mode": "none",
            "first_name": "Hacked",
            "make_deal": "on",
            "pipeline": w["sales"].pk,
        },
    ),
    "leads:take": TenantUrl({"POST": {**EVERYONE, "marketer": 403}}, obj="pool_lead"),
    "leads:assign": TenantUrl({"POST": LEAD_EDIT}, obj="lead", data=lambda w: {"owner": ""}),
    "leads:activity_add": TenantUrl(
        {"POST": LEAD_EDIT}, obj="lead", data=lambda w: {"kind": "call", "subject": "Hacked"}
    ),
    "leads:activity_done": TenantUrl(
        {"POST": LEAD_EDIT}, obj="lead", more={"activity_pk": "activity"}
    ),
    "leads:delete": TenantUrl({"POST": {**LEAD_EDIT, "director": 403}}, obj="lead"),
    "leads:archive": TenantUrl({"POST": LEAD_EDIT}, obj="junk_lead"),
    "leads:unarchive": TenantUrl({"POST": LEAD_EDIT}, obj="archived_lead"),
    "leads:spam": TenantUrl({"POST": LEAD_EDIT}, obj="lead"),
    "leads:postpone": TenantUrl(
        {"POST": LEAD_EDIT},
        obj="lead",
        data=lambda w: {"day": "2200-01-01", "reason": "Hacked"},
    ),
    "leads:unpostpone": TenantUrl({"POST": LEAD_EDIT}, obj="lead"),
    "leads:restore": TenantUrl({"POST": ADMIN_ONLY}, obj="trashed_lead"),
    "leads:qualification": TenantUrl({"GET": LEAD_VIEW}, obj="lead"),
    "leads:level": TenantUrl({"POST": LEAD_QUALIFY}, obj="lead", data=lambda w: {"level": "mql"}),
    "leads:temperature": TenantUrl(
        {"POST": LEAD_QUALIFY}, obj="lead", data=lambda w: {"temperature": "hot"}
    ),
    "leads:answers": TenantUrl(
        {"POST": LEAD_QUALIFY},
        obj="lead",
        fixed={"framework": "bant"},
        data=lambda w: {"budget": "100000"},
    ),
    "leads:qualify_task": TenantUrl(
        {"POST": LEAD_QUALIFY},
        obj="lead",
        data=lambda w: {"assignee": w["members"]["marketer"].pk},
    ),
    "leads:statuses": TenantUrl(
        {"GET": ADMIN_ONLY, "POST": ADMIN_ONLY},
        data=lambda w: {"name": "Hacked", "color": "#000000", "state": "new", "position": 1},
    ),
    "leads:status_edit": TenantUrl(
        {"GET": ADMIN_ONLY, "POST": ADMIN_ONLY},
        obj="status",
        data=lambda w: {"name": "Hacked", "color": "#000000", "position": 1},
    ),
    "leads:status_default": TenantUrl({"POST": ADMIN_ONLY}, obj="status"),
    "leads:status_delete": TenantUrl(
        {"POST": ADMIN_ONLY}, obj="status", data=lambda w: {"replacement": w["other_status"].pk}
    ),
    "leads:rules": TenantUrl({"GET": ADMIN_ONLY}),
    "leads:rule_create": TenantUrl(
        {"GET": ADMIN_ONLY, "POST": ADMIN_ONLY}, data=lambda w: _rule_body(w, "Hacked rule")
    ),
    "leads:rule_edit": TenantUrl(
        {"GET": ADMIN_ONLY, "POST": ADMIN_ONLY},
        obj="rule",
        data=lambda w: _rule_body(w, "Hacked rule"),
    ),
    "leads:rule_move": TenantUrl({"POST": ADMIN_ONLY}, obj="rule", data=lambda w: {"up": "1"}),
    "leads:rule_toggle": TenantUrl(
        {"POST": ADMIN_ONLY}, obj="rule", data=lambda w: {"enabled": "0"}
    ),
    "leads:rule_delete": TenantUrl({"POST": ADMIN_ONLY}, obj="rule"),
    "leads:scoring": TenantUrl(
        {"GET": ADMIN_ONLY, "POST": ADMIN_ONLY}, data=_scoring_settings_body
    ),
    "leads:scoring_preview": TenantUrl({"POST": ADMIN_ONLY}, data=_scoring_settings_body),
    "leads:scoring_rule_create": TenantUrl(
        {"GET": ADMIN_ONLY, "POST": ADMIN_ONLY}, data=_scoring_rule_body
    ),
    "leads:scoring_rule_preview_new": TenantUrl({"POST": ADMIN_ONLY}, data=_scoring_rule_body),
    "leads:scoring_rule_edit": TenantUrl(
        {"GET": ADMIN_ONLY, "POST": ADMIN_ONLY}, obj="scoring_rule", data=_scoring_rule_body
    ),
    "leads:scoring_rule_preview": TenantUrl(
        {"POST": ADMIN_ONLY}, obj="scoring_rule", data=_scoring_rule_body
    ),
    "leads:scoring_rule_move": TenantUrl(
        {"POST": ADMIN_ONLY}, obj="scoring_rule", data=lambda w: {"up": "1"}
    ),
    "leads:scoring_rule_toggle": TenantUrl(
        {"POST": ADMIN_ONLY}, obj="scoring_rule", data=lambda w: {"enabled": "0"}
    ),
    "leads:scoring_rule_delete": TenantUrl({"POST": ADMIN_ONLY}, obj="scoring_rule"),
    "deals:list": TenantUrl({"GET": EVERYONE}),
    "deals:kanban": TenantUrl({"GET": EVERYONE}),
    # Bulk moves skip what a role may not touch (tests/deals/test_views.py).
    # Simple mode's quick deal: classic tenants (the sweep's) get 404, see tests/conversion.
    "deals:quick_create": TenantUrl(
        {"POST": dict.fromkeys(ROLES, 404)}, data=lambda w: {"name": "X", "contact": "+7 999 1"}
    ),
    "deals:bulk": TenantUrl({"POST": dict.fromkeys(ROLES, 302)}),
    "deals:export": TenantUrl({"POST": EXPORTERS}, data=lambda w: {"format": "xlsx"}),
    "deals:create": TenantUrl(
        {"GET": PARTY_CREATE, "POST": PARTY_CREATE},
        data=lambda w: {"title": "Hacked", "stage": w["stage"].pk, "owner": w["member"].pk},
    ),
    "deals:detail": TenantUrl({"GET": DEAL_VIEW}, obj="deal"),
    # The conversion dialog's stage menu: roles that may create deals.
    "deals:stage_options": TenantUrl({"GET": PARTY_CREATE}),
    "deals:edit": TenantUrl(
        {"GET": DEAL_EDIT, "POST": DEAL_EDIT},
        obj="deal",
        data=lambda w: {"title": "Hacked", "currency": "RUB", "owner": w["member"].pk},
    ),
    "deals:field": TenantUrl(
        {"GET": DEAL_EDIT, "POST": DEAL_EDIT},
        obj="deal",
        fixed={"field": "title"},
        data=lambda w: {"title": "Hacked"},
    ),
    "deals:loss_reasons": TenantUrl(
        {"GET": ADMIN_ONLY, "POST": ADMIN_ONLY}, data=lambda w: {"name": "Hacked"}
    ),
    "deals:loss_reason_edit": TenantUrl(
        {"GET": ADMIN_ONLY, "POST": ADMIN_ONLY},
        obj="loss_reason",
        data=lambda w: {"name": "Hacked"},
    ),
    "deals:loss_reason_move": TenantUrl(
        {"POST": ADMIN_ONLY}, obj="loss_reason", data=lambda w: {"up": "0"}
    ),
    "deals:loss_reason_toggle": TenantUrl(
        {"POST": ADMIN_ONLY}, obj="loss_reason", data=lambda w: {"active": "0"}
    ),
    "deals:move": TenantUrl(
        {"POST": DEAL_EDIT}, obj="deal", data=lambda w: {"stage": w["lost_stage"].pk}
    ),
    "deals:activity_add": TenantUrl(
        {"POST": DEAL_EDIT}, obj="deal", data=lambda w: {"kind": "call", "subject": "Hacked"}
    ),
    "deals:activity_done": TenantUrl(
        {"POST": DEAL_EDIT}, obj="deal", more={"activity_pk": "deal_activity"}
    ),
    "deals:pipelines": TenantUrl(
        {"GET": ADMIN_ONLY, "POST": ADMIN_ONLY}, data=lambda w: {"name": "Hacked", "position": 1}
    ),
    "deals:pipeline_edit": TenantUrl(
        {"GET": ADMIN_ONLY, "POST": ADMIN_ONLY},
        obj="pipeline",
        data=lambda w: {"name": "Hacked", "position": 1},
    ),
    "deals:pipeline_default": TenantUrl({"POST": ADMIN_ONLY}, obj="pipeline"),
    "deals:pipeline_delete": TenantUrl(
        {"POST": ADMIN_ONLY}, obj="pipeline", data=lambda w: {"replacement": w["sales"].pk}
    ),
    "deals:stage_edit": TenantUrl(
        {"GET": ADMIN_ONLY, "POST": ADMIN_ONLY},
        obj="stage",
        data=lambda w: {"name": "Hacked", "color": "#000000", "kind": "open", "probability": 5},
    ),
    "deals:stage_delete": TenantUrl(
        {"POST": ADMIN_ONLY}, obj="stage", data=lambda w: {"replacement": w["other_stage"].pk}
    ),
    # Channel settings: the settings right only.
    "channels:list": TenantUrl({"GET": ADMIN_ONLY}),
    "channels:templates": TenantUrl(
        {"GET": ADMIN_ONLY, "POST": {**ADMIN_ONLY, "admin": 302}},
        data=lambda w: {"name": "Взлом", "text": "Привет"},
    ),
    "channels:template_edit": TenantUrl(
        {"GET": ADMIN_ONLY, "POST": {**ADMIN_ONLY, "admin": 302}},
        obj="reply_template",
        data=lambda w: {"name": "Взлом", "text": "Привет"},
    ),
    "channels:template_delete": TenantUrl(
        {"POST": {**ADMIN_ONLY, "admin": 302}}, obj="reply_template"
    ),
    # The conversation panel of the world's lead (another manager's): who may see it reads
    # it, who may answer it answers (a refused reply goes back to the card, 302).
    "conversations:panel": TenantUrl({"GET": LEAD_VIEW}, obj="lead", fixed={"kind": "lead"}),
    "conversations:reply": TenantUrl(
        {"POST": TASK_EDIT}, obj="lead", fixed={"kind": "lead"}, data=lambda w: {"text": "x"}
    ),
    "conversations:template": TenantUrl(
        {"GET": {**LEAD_EDIT, "marketer": 403}}, obj="lead", fixed={"kind": "lead"}
    ),
    "conversations:answered": TenantUrl({"POST": TASK_EDIT}, obj="lead", fixed={"kind": "lead"}),
    "conversations:again": TenantUrl(
        {"POST": TASK_EDIT},
        obj="lead",
        fixed={"kind": "lead", "message_pk": str(MISSING_PK)},
    ),
    "conversations:unread": TenantUrl({"GET": EVERYONE}),
    "channels:create": TenantUrl(
        {"GET": ADMIN_ONLY, "POST": ADMIN_ONLY},
        fixed={"kind": "api"},
        data=lambda w: {"name": "Hacked", "enabled": "on", "config-rate_limit": "10"},
    ),
    "channels:detail": TenantUrl({"GET": ADMIN_ONLY}, obj="channel"),
    "channels:edit": TenantUrl(
        {"GET": ADMIN_ONLY, "POST": ADMIN_ONLY},
        obj="channel",
        data=lambda w: {"name": "Hacked", "config-rate_limit": "10"},
    ),
    "channels:rotate": TenantUrl({"POST": ADMIN_ONLY}, obj="channel"),
    "channels:delete": TenantUrl({"POST": ADMIN_ONLY}, obj="channel"),
    "channels:event": TenantUrl({"GET": ADMIN_ONLY}, obj="channel", more={"event_pk": "event"}),
    "channels:replay": TenantUrl({"POST": ADMIN_ONLY}, obj="channel", more={"event_pk": "event"}),
    **_party_urls(
        "contacts", lambda w: {"last_name": "Hacked", "phones": "+7 999 000-00-00", "owner": ""}
    ),
    **_party_urls("companies", lambda w: {"name": "Hacked", "owner": ""}),
    "contacts:blocklist": TenantUrl(
        {"GET": ADMIN_ONLY, "POST": ADMIN_ONLY},
        data=lambda w: {"kind": "phone", "value": "+7 999 555-00-00", "reason": "Hacked"},
    ),
    "contacts:blocklist_delete": TenantUrl({"POST": ADMIN_ONLY}, obj="blocked_sender"),
    # Every member has their own exports' list; an export is its requester's alone.
    "transfer:exports": TenantUrl({"GET": EVERYONE}),
    "transfer:export_detail": TenantUrl({"GET": REQUESTER}, obj="export_job"),
    "transfer:export_download": TenantUrl({"GET": REQUESTER}, obj="export_job"),
    "transfer:import_list": TenantUrl({"GET": IMPORTERS}),
    "transfer:import_new": TenantUrl({"GET": IMPORTERS}),
    "transfer:import_template": TenantUrl(
        {"GET": IMPORTERS}, fixed={"entity": "leads", "fmt": "csv"}
    ),
    "transfer:import_detail": TenantUrl({"GET": ITS_IMPORTER}, obj="import_job"),
    "transfer:import_rejected": TenantUrl({"GET": ITS_IMPORTER}, obj="import_job"),
    # An ended import: its set-up pages lead to its report.
    "transfer:import_columns": TenantUrl({"GET": {**ITS_IMPORTER, "admin": 302}}, obj="import_job"),
    "transfer:import_check": TenantUrl({"GET": {**ITS_IMPORTER, "admin": 302}}, obj="import_job"),
    "transfer:import_progress": TenantUrl(
        {"GET": {**ITS_IMPORTER, "admin": 204}}, obj="import_job"
    ),
    "transfer:import_cancel": TenantUrl({"POST": {**ITS_IMPORTER, "admin": 400}}, obj="import_job"),
    "transfer:import_undo": TenantUrl({"POST": {**ITS_IMPORTER, "admin": 302}}, obj="import_job"),
}


def _url_names(patterns: list, prefix: str = "") -> list[str]:
    names = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            namespace = f"{prefix}{pattern.namespace}:" if pattern.namespace else prefix
            names += _url_names(pattern.url_patterns, namespace)
        elif isinstance(pattern, URLPattern):
            assert pattern.name, (
                f"unnamed URL pattern {pattern.pattern}: name it and add it to POLICY"
            )
            names.append(prefix + pattern.name)
    return names


def test_every_url_is_in_the_policy_table():
    names = _url_names(get_resolver().url_patterns)
    assert names, "the sweep found no URLs"
    assert sorted(set(names) - set(POLICY)) == [], "add these URLs to POLICY in this file"
    assert sorted(set(POLICY) - set(names)) == [], "these POLICY entries match no URL"


def _world(tenant: Tenant) -> dict[str, Any]:
    members = {kind: add_member(tenant, kind) for kind in ROLES}
    with tenant_context(tenant):
        team = TeamFactory(name=f"Team of {tenant.slug}")
        inactive = add_member(tenant, "manager")
        inactive.is_active = False
        inactive.save()
        invitation = member_invite(
            actor=members["admin"],
            email=f"invitee@{tenant.slug}.example",
            role=Role.objects.get(kind="manager"),
            team=None,
        )
        owner = add_member(tenant, "manager")
        admin = members["admin"]
        lead = lead_create(
            actor=admin, data={"name": "Пётр", "phone": "+7 999 111-22-33"}, owner=owner
        )
        pool_lead = lead_create(actor=admin, data={"email": "pool@example.com"}, owner=None)
        junk_lead = lead_create(actor=admin, data={"email": "junk@example.com"}, owner=owner)
        junk_status = LeadStatus.objects.filter(state="junk").first()
        lead_move(actor=admin, lead=junk_lead, status=junk_status)
        archived = lead_create(actor=admin, data={"email": "old@example.com"}, owner=owner)
        lead_move(actor=admin, lead=archived, status=junk_status)
        lead_archive(actor=admin, lead=archived)
        trashed = lead_create(actor=admin, data={"email": "trash@example.com"}, owner=owner)
        lead_delete(actor=admin, lead=trashed)
        activity = lead_activity_add(actor=admin, lead=lead, kind="task", subject="Перезвонить")
        attachment = attachment_store(
            target=lead, filename="прайс.pdf", content_type="application/pdf", payload=b"%PDF-1.4"
        )
        in_progress = list(LeadStatus.objects.filter(state="in_progress"))
        (notification,) = notify(recipients=[admin], kind="lead.assigned", data={"title": "X"})
        saved_filter = saved_filter_create(
            actor=admin, list_name="leads:list", name="Мои горячие", query="temperature=hot"
        )
        custom_field = CustomField.objects.create(
            entity="lead", key="city", label="Город", field_type="text"
        )
        parties = {}
        for one, create, data in (
            ("contact", contact_create, {"last_name": "Петров", "phones": ["+7 999 111-22-33"]}),
            ("company", company_create, {"name": "ООО «Ромашка»", "tax_id": "7707083893"}),
        ):
            parties[one] = create(actor=admin, data=data, owner=owner)
            parties[f"other_{one}"] = create(actor=admin, data=data, owner=owner)
            parties[f"trashed_{one}"] = create(actor=admin, data=data, owner=owner)
            record_delete(actor=admin, record=parties[f"trashed_{one}"])
            parties[f"{one}_activity"] = record_activity_add(
                actor=admin, record=parties[one], kind="task", subject="Позвонить"
            )
            parties[f"{one}_merge"] = record_merge(
                actor=admin,
                survivor=create(actor=admin, data=data, owner=owner),
                merged=create(actor=admin, data=data, owner=owner),
            )
        sales = Pipeline.objects.get(is_default=True)
        repeat = Pipeline.objects.get(is_repeat=True)
        open_stages = list(sales.stages.filter(kind="open"))
        deal = deal_create(
            actor=admin,
            data={"title": "Поставка", "contact": parties["contact"]},
            owner=owner,
            stage=open_stages[0],
        )
        deal_activity = deal_activity_add(actor=admin, deal=deal, kind="task", subject="Счёт")
        channel = channel_create(actor=admin, kind="api", name=f"API {tenant.slug}")
        event = event_reject(channel=channel, raw=RawDelivery(body=b"{"), reason="Not JSON")
        rule_save(actor=admin, rule=None, data={"name": "Первое", "members": [owner.pk]} | _RR)
        rule = rule_save(actor=admin, rule=None, data={"name": "Сайт", "members": [owner.pk]} | _RR)
        scoring_rule_save(
            actor=admin,
            data={"name": "Бюджет", "subject": "amount", "operator": "filled", "points": 10},
        )
        scoring_rule = scoring_rule_save(
            actor=admin, data={"name": "Демо", "subject": "event", "values": ["demo"], "points": 5}
        )
        export_job = ExportJob.objects.create(
            entity="leads", requested_by=admin, fmt="csv", state="done", filename="leads.csv"
        )
        export_job.file.save("leads.csv", ContentFile(b"ID;Title\r\n"))
        import_job = ImportJob(
            entity="leads",
            created_by=admin,
            filename="base.csv",
            file_format="csv",
            encoding="utf-8",
            delimiter=";",
            headers=["Имя", "Телефон"],
            mapping={"0": "name", "1": "phone"},
            state="done",
            created_count=1,
        )
        import_job.file.save("base.csv", ContentFile("Имя;Телефон\r\nА;+79120000000\r\n".encode()))
        blocked_sender = blocked_sender_add(
            actor=admin, kind="email", value=f"spam@{tenant.slug}.example"
        )
        reply_template = ReplyTemplate.objects.create(name="Приветствие", text="Здравствуйте!")
        return {
            "channel": channel,
            "event": event,
            "reply_template": reply_template,
            "rule": rule,
            "scoring_rule": scoring_rule,
            **parties,
            "deal": deal,
            "deal_activity": deal_activity,
            "blocked_sender": blocked_sender,
            "export_job": export_job,
            "import_job": import_job,
            "sales": sales,
            "pipeline": repeat,
            "stage": open_stages[1],
            "other_stage": open_stages[2],
            "lost_stage": sales.stages.get(kind="lost"),
            "loss_reason": LossReason.objects.order_by("pk").first(),
            "custom_field": custom_field,
            "saved_filter": saved_filter,
            "notification": notification,
            "lead": lead,
            "pool_lead": pool_lead,
            "junk_lead": junk_lead,
            "archived_lead": archived,
            "trashed_lead": trashed,
            "activity": activity,
            "attachment": attachment,
            "junk_status": junk_status,
            "status": in_progress[1],
            "other_status": in_progress[0],
            "tenant": tenant,
            "members": members,
            "member": add_member(tenant, "manager"),
            "inactive_member": inactive,
            "team": team,
            "role": Role.objects.get(kind="manager"),
            "admin_role": Role.objects.get(kind="admin"),
            "custom_role": Role.objects.create(name="Custom", rights={}),
            "invitation": invitation,
        }


def _snapshot() -> dict[str, list]:
    """Every row of every table (per tenant, as RLS allows), sessions aside."""
    state: dict[str, list] = {}
    tenants = list(Tenant.objects.order_by("pk"))
    for model in apps.get_models():
        if model is Session:
            continue
        if issubclass(model, TenantModel):
            rows = []
            for tenant in tenants:
                with tenant_context(tenant):
                    rows += list(model.unscoped.order_by("pk").values())
        else:
            rows = list(model._base_manager.order_by("pk").values())
        state[model._meta.label] = rows
    return state


def _client(member) -> Client:
    client = Client()
    client.force_login(member.user)
    return client


def _url(
    name: str,
    world: dict[str, Any],
    spec: TenantUrl,
    pk: int | None = None,
    objects: dict[str, Any] | None = None,
) -> str:
    kwargs: dict[str, Any] = {"tenant_slug": world["tenant"].slug}
    if spec.obj:
        kwargs["pk"] = pk if pk is not None else world[spec.obj].pk
    for arg, key in spec.more.items():
        kwargs[arg] = (objects or world)[key].pk
    kwargs.update(spec.fixed)
    return reverse(name, kwargs=kwargs)


def _call(client: Client, method: str, url: str, data: dict[str, Any]):
    return client.get(url) if method == "GET" else client.post(url, data)


@pytest.mark.parametrize("name", sorted(n for n, s in POLICY.items() if isinstance(s, Public)))
@pytest.mark.django_db
def test_public_urls(name):
    spec = POLICY[name]
    url = reverse(name, kwargs=spec.kwargs or None)
    for method, expected in spec.methods.items():
        response = _call(Client(), method, url, {})
        assert response.status_code == expected, (method, url)


@pytest.mark.parametrize("name", sorted(n for n, s in POLICY.items() if isinstance(s, TenantUrl)))
def test_tenant_urls(name, tenant, other_tenant):
    spec = POLICY[name]
    mine, theirs = _world(tenant), _world(other_tenant)
    url = _url(name, mine, spec)
    # Log everyone in first: logging in itself writes (last_login, the access log).
    outsider = _client(theirs["members"]["admin"])
    members = {role: _client(mine["members"][role]) for role in ROLES}
    before = _snapshot()

    for method in spec.methods:
        data = spec.data(mine)
        # Anonymous: to the login page, nothing changes.
        response = _call(Client(), method, url, data)
        assert response.status_code == 302, (method, "anonymous")
        assert response["Location"].startswith("/accounts/login/")

        # A member of another tenant: the same 404 as a tenant that does not exist.
        denied = _call(outsider, method, url, data)
        missing = _call(
            outsider, method, url.replace(f"/{tenant.slug}/", "/no-such-tenant/", 1), data
        )
        assert denied.status_code == 404, (method, "outsider")
        assert denied.content == missing.content

        # Another tenant's object under my tenant: the same 404 as a missing id.
        if spec.obj:
            admin = members["admin"]
            foreign = _call(
                admin, method, _url(name, mine, spec, theirs[spec.obj].pk), spec.data(theirs)
            )
            absent = _call(admin, method, _url(name, mine, spec, MISSING_PK), spec.data(theirs))
            assert foreign.status_code == absent.status_code == 404, (method, "foreign object")
            assert foreign.content == absent.content

        # Each role of my tenant gets what the table says; denied writes change nothing.
        for role, expected in spec.methods[method].items():
            if expected < 400:
                continue  # allowed requests run after the snapshot check (below)
            response = _call(members[role], method, url, data)
            assert response.status_code == expected, (method, role)

    assert _snapshot() == before, "a denied request changed the database"

    # Allowed reads answer what the table says (opening a notification marks it read, so
    # these come after the snapshot); allowed writes are covered by the feature tests.
    for role, expected in spec.methods.get("GET", {}).items():
        if expected < 400:
            assert _call(members[role], "GET", url, {}).status_code == expected, ("GET", role)


def test_get_pages_never_answer_5xx_for_allowed_roles(tenant):
    world = _world(tenant)
    for name, spec in POLICY.items():
        if isinstance(spec, TenantUrl) and "GET" in spec.methods:
            for role, expected in spec.methods["GET"].items():
                response = _client(world["members"][role]).get(_url(name, world, spec))
                assert response.status_code == expected, (name, role)


def test_invitation_objects_exist_for_the_sweep(tenant):
    world = _world(tenant)
    with tenant_context(tenant):
        assert Invitation.objects.filter(pk=world["invitation"].pk).exists()
        assert Team.objects.filter(pk=world["team"].pk).exists()
