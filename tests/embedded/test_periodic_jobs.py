"""The embedded default runs the periodic jobs: the server of `make run` (SQLite file, no
broker) sends due reminders, escalates leads nobody answered in time, brings back a
postponed lead whose day has come and sweeps a stored delivery nobody processed, through
its scheduler, within seconds of starting."""

from __future__ import annotations

from tests.embedded.stack import EmbeddedStack
from tests.processes import wait_for


def test_the_server_of_make_run_runs_the_periodic_jobs(embedded: EmbeddedStack):
    seeded = embedded.seed("--stuck-delivery")

    def reminders() -> list[tuple]:
        return embedded.rows(
            "SELECT recipient_id FROM crm_notification WHERE kind = 'activity.reminder'"
        )

    def escalated() -> list[tuple]:
        return embedded.rows(
            "SELECT escalated_at FROM leads_lead WHERE id = ? AND escalated_at IS NOT NULL",
            seeded["overdue_lead"],
        )

    def returned() -> list[tuple]:
        return embedded.rows(
            "SELECT id FROM leads_lead WHERE id = ? AND postponed_until IS NULL",
            seeded["postponed_lead"],
        )

    def stuck_status() -> str:
        return embedded.value(
            "SELECT status FROM channels_inboundevent WHERE id = ?", seeded["stuck_delivery"]
        )

    # Nothing of it happens without the server.
    assert reminders() == []
    assert escalated() == []
    assert returned() == []
    assert stuck_status() == "pending"

    embedded.start()
    try:
        wait_for(reminders, "the reminder", seconds=60)
        wait_for(escalated, "the escalation", seconds=60)
        wait_for(returned, "the return of the postponed lead", seconds=60)
        wait_for(lambda: stuck_status() == "done", "the sweeper", seconds=60)
    except AssertionError as error:
        raise AssertionError(f"{error}\n{embedded.log()}") from None

    assert reminders() == [(seeded["admin"],)]
    assert embedded.value(
        "SELECT reminded_at IS NOT NULL FROM crm_activity WHERE id = ?", seeded["activity"]
    )
    # Nobody leads a team here: the administrator is told, and the event is on the lead.
    assert embedded.rows(
        "SELECT recipient_id FROM crm_notification WHERE kind = 'lead.escalated'"
    ) == [(seeded["admin"],)]
    assert (
        embedded.value(
            "SELECT COUNT(*) FROM crm_timelineevent"
            " WHERE kind = 'lead.escalated' AND target_id = ?",
            seeded["overdue_lead"],
        )
        == 1
    )
    # The postponed lead is back, its owner (who added it) told, once.
    assert embedded.rows(
        "SELECT recipient_id FROM crm_notification WHERE kind = 'lead.returned'"
    ) == [(seeded["admin"],)]
    # The swept delivery made its lead, once.
    assert embedded.value("SELECT COUNT(*) FROM leads_lead WHERE phone_e164 = '+79990000003'") == 1
