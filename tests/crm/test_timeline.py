"""The timeline: an immutable history recorded by services."""

from __future__ import annotations

import pytest

from crm.models import Team, TimelineEvent
from crm.selectors import timeline_for
from crm.services import timeline_record
from crm.tenancy import tenant_context


def test_events_are_recorded_newest_first_with_actor_and_data(tenant, admin):
    with tenant_context(tenant):
        team = Team.objects.create(name="Восток")
        timeline_record(actor=admin, target=team, kind="team.created", data={"team": "Восток"})
        timeline_record(actor=None, target=team, kind="team.changed", data={"team": "Восток-2"})
        events = list(timeline_for(target=team))
        assert events[0].target == team
    assert [e.kind for e in events] == ["team.changed", "team.created"]
    assert events[1].actor == admin
    assert events[1].data == {"team": "Восток"}


def test_events_cannot_be_changed_or_deleted(tenant, admin):
    with tenant_context(tenant):
        team = Team.objects.create(name="Запад")
        event = timeline_record(actor=admin, target=team, kind="team.created")
        event.kind = "forged"
        with pytest.raises(TypeError):
            event.save()
        with pytest.raises(TypeError):
            event.delete()
        with pytest.raises(TypeError):
            TimelineEvent.objects.filter(pk=event.pk).update(kind="forged")
        with pytest.raises(TypeError):
            TimelineEvent.objects.filter(pk=event.pk).delete()
        assert TimelineEvent.objects.get(pk=event.pk).kind == "team.created"


def test_events_stay_inside_their_tenant(tenant, other_tenant, admin):
    with tenant_context(tenant):
        team = Team.objects.create(name="Север")
        timeline_record(actor=admin, target=team, kind="team.created")
    with tenant_context(other_tenant):
        assert not TimelineEvent.objects.filter(kind="team.created", target_id=team.pk).exists()


def test_membership_and_role_changes_write_events(client_for, tenant, admin, manager):
    with tenant_context(tenant):
        before = TimelineEvent.objects.count()
    client_for(admin).post(f"/{tenant.slug}/settings/users/{manager.pk}/deactivate/")
    with tenant_context(tenant):
        assert TimelineEvent.objects.count() == before + 1
        event = TimelineEvent.objects.first()
    assert (event.kind, event.actor_id, event.target_id) == (
        "member.deactivated",
        admin.pk,
        manager.pk,
    )


def test_a_timeline_batch_writes_its_events_at_once_or_not_at_all(tenant, admin):
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from crm.services import timeline_batch

    with tenant_context(tenant):
        team = Team.objects.create(name="Пакет")
        with CaptureQueriesContext(connection) as queries, timeline_batch():
            timeline_record(actor=admin, target=team, kind="team.one")
            timeline_record(actor=admin, target=team, kind="team.two")
            assert not TimelineEvent.objects.filter(kind__startswith="team.t").exists()
        inserts = [q for q in queries.captured_queries if q["sql"].startswith("INSERT")]
        assert len(inserts) == 1
        kinds = TimelineEvent.objects.filter(target_id=team.pk).order_by("pk")
        assert list(kinds.values_list("kind", flat=True))[-2:] == ["team.one", "team.two"]

        # A block that fails leaves nothing.
        def failing() -> None:
            with transaction.atomic(), timeline_batch():
                timeline_record(actor=admin, target=team, kind="team.lost")
                raise RuntimeError("rolled back")

        with pytest.raises(RuntimeError):
            failing()
        assert not TimelineEvent.objects.filter(kind="team.lost").exists()


def test_timeline_bulk_inserts_take_the_tenant_and_refuse_another(tenant, other_tenant, admin):
    from crm.services import timeline_record_many
    from crm.tenancy import TenantMismatchError

    with tenant_context(tenant):
        team = Team.objects.create(name="Пакет")
        timeline_record_many(
            actor=admin, model=Team, target_ids=[team.pk], kind="team.bulk", data={}
        )
        (event,) = TimelineEvent.objects.filter(kind="team.bulk")
        assert event.tenant_id == tenant.pk
        with pytest.raises(TenantMismatchError):
            TimelineEvent.objects.bulk_create(
                [TimelineEvent(tenant=other_tenant, target=team, kind="team.foreign", data={})]
            )
        with pytest.raises(TypeError):  # still append-only
            TimelineEvent.objects.filter(kind="team.bulk").update(kind="team.changed")
    with tenant_context(other_tenant):
        assert not TimelineEvent.objects.filter(kind__startswith="team.").exists()
