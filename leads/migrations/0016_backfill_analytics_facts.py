"""The analytics facts of the leads that exist, read from their timelines.

- `is_repeat`: the lead has a "lead.repeat" event (a repeat inquiry registered it);
- `taken_at`: the earliest "lead.moved" event into in progress or converted; else, for a
  lead in progress or converted now, its first response, close or last change;
- one open StatusStay per lead in its status, from its last "lead.moved" event (else its
  creation).

Set-based statements only (UPDATE … subquery; on PostgreSQL one INSERT … SELECT, on
SQLite — development databases — bulk inserts), run as the migrating role, which owns the
tables and bypasses row-level security. Running it again changes nothing. The reverse is
a no-op: undoing 0015 drops the columns and the table.
"""

from django.db import migrations
from django.db.models import Exists, F, OuterRef, Subquery
from django.db.models.functions import Coalesce

TAKEN_STATES = ("in_progress", "converted")
BATCH = 2000

STAYS_SQL = """
INSERT INTO leads_statusstay (tenant_id, lead_id, status_id, entered_at, left_at, created_at,
                              updated_at)
SELECT l.tenant_id, l.id, l.status_id,
       COALESCE((SELECT max(e.created_at) FROM crm_timelineevent e
                 WHERE e.tenant_id = l.tenant_id AND e.target_type_id = %s
                   AND e.target_id = l.id AND e.kind = 'lead.moved'), l.created_at),
       NULL, now(), now()
FROM leads_lead l
WHERE NOT EXISTS (SELECT 1 FROM leads_statusstay s WHERE s.lead_id = l.id AND s.left_at IS NULL)
"""


def backfill(apps, schema_editor):
    """Fill is_repeat, taken_at and the open stays from what the database holds."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    Lead = apps.get_model("leads", "Lead")
    StatusStay = apps.get_model("leads", "StatusStay")
    TimelineEvent = apps.get_model("crm", "TimelineEvent")
    lead_type = ContentType.objects.filter(app_label="leads", model="lead").first()
    events = (
        TimelineEvent.objects.filter(target_type=lead_type, tenant_id=OuterRef("tenant_id"))
        if lead_type is not None
        else TimelineEvent.objects.none()
    )
    leads = Lead.objects.all()

    repeats = events.filter(target_id=OuterRef("pk"), kind="lead.repeat")
    leads.filter(is_repeat=False).filter(Exists(repeats)).update(is_repeat=True)

    taken = events.filter(
        target_id=OuterRef("pk"), kind="lead.moved", data__to_state__in=TAKEN_STATES
    ).order_by("created_at")
    leads.filter(taken_at=None).filter(Exists(taken)).update(
        taken_at=Subquery(taken.values("created_at")[:1])
    )
    leads.filter(taken_at=None, state__in=TAKEN_STATES).update(
        taken_at=Coalesce("first_response_at", "closed_at", "updated_at")
    )

    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(STAYS_SQL, [lead_type.pk if lead_type is not None else -1])
        return
    last_moved = events.filter(target_id=OuterRef("pk"), kind="lead.moved").order_by("-created_at")
    open_stays = StatusStay.objects.filter(lead_id=OuterRef("pk"), left_at=None)
    rows = list(
        leads.filter(~Exists(open_stays))
        .annotate(entered=Coalesce(Subquery(last_moved.values("created_at")[:1]), F("created_at")))
        .values_list("pk", "tenant_id", "status_id", "entered")
    )
    StatusStay.objects.bulk_create(
        (
            StatusStay(tenant_id=tenant_id, lead_id=pk, status_id=status_id, entered_at=entered)
            for pk, tenant_id, status_id, entered in rows
        ),
        batch_size=BATCH,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("crm", "0006_system_member_away_sla"),
        ("leads", "0015_lead_analytics_facts"),
    ]

    operations = [
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
