"""Seeds a database of the embedded setup for tests/embedded, the way an operator would.

Run as `python -m tests.embedded.seed` with the embedded setup's environment (crm.settings,
a SQLite file): creates a workspace with an administrator, a web-form channel, a lead that
waited past the response time limit, an activity whose reminder is due, a postponed lead
whose day has come and, with
`--stuck-delivery`, a delivery left stored but unprocessed; prints their ids and the
channel's token as JSON.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import timedelta

import django


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
    django.setup()

    from django.utils import timezone

    from channels.adapters import RawDelivery
    from channels.models import InboundEvent
    from channels.services import channel_create, event_accept
    from crm.models import Tenant, User
    from crm.services import activity_create, tenant_create
    from crm.tenancy import tenant_context
    from leads.models import Lead
    from leads.services import lead_create

    user = User.objects.create_user(email="boss@embedded.test", password="embedded-pass-1")
    tenant, admin = tenant_create(name="Embedded", slug="embedded", owner=user)
    Tenant.objects.filter(pk=tenant.pk).update(response_sla_minutes=5)
    tenant.refresh_from_db()
    now = timezone.now()
    with tenant_context(tenant):
        channel = channel_create(actor=admin, kind="web_form", name="Site")
        overdue = lead_create(
            actor=admin, data={"name": "Waiting", "phone": "+79990000001"}, owner=None
        )
        Lead.objects.filter(pk=overdue.pk).update(created_at=now - timedelta(minutes=30))
        called = lead_create(actor=admin, data={"name": "To call", "phone": "+79990000002"})
        activity = activity_create(
            actor=admin,
            target=called,
            kind="call",
            subject="Call back",
            due_at=now + timedelta(hours=1),
            remind_at=now - timedelta(minutes=1),
        )
        postponed = lead_create(actor=admin, data={"name": "Later", "phone": "+79990000004"})
        Lead.objects.filter(pk=postponed.pk).update(
            postponed_until=now - timedelta(minutes=1), postpone_reason="Call in December"
        )
        stuck = None
        if "--stuck-delivery" in sys.argv[1:]:
            # A delivery stored and claimed by a drain whose process then died: nobody will
            # process it but the sweeper. (Stored here, its own wake-up finds nothing new.)
            stuck, _created = event_accept(
                channel=channel,
                raw=RawDelivery(
                    body=json.dumps({"name": "Stuck", "phone": "+79990000003"}).encode(),
                    content_type="application/json",
                ),
            )
            InboundEvent.objects.filter(pk=stuck.pk).update(
                attempts=1, claimed_by="a-drain-that-died", next_attempt_at=now
            )
    sys.stdout.write(
        json.dumps(
            {
                "token": channel.token,
                "admin": admin.pk,
                "overdue_lead": overdue.pk,
                "activity": activity.pk,
                "postponed_lead": postponed.pk,
                "stuck_delivery": stuck.pk if stuck else None,
            }
        )
    )


if __name__ == "__main__":
    main()
