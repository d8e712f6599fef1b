"""An import's run: batches with a fixed number of queries, resume after a stop, a second
run of the same job doing nothing twice, cancel, undo that keeps later edits, rights on
owners and tenant isolation."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.access import AccessDenied
from crm.errors import DomainError
from crm.tenancy import tenant_context, tenant_zone
from leads.models import Lead
from leads.services import lead_create, lead_update
from transfer import engine, services
from transfer.models import ImportJob

HEADER = "Имя;Телефон;E-mail\r\n"
MAPPING = {0: "name", 1: "phone", 2: "email"}


def _rows(count: int, start: int = 0) -> bytes:
    body = "".join(
        f"Клиент {n};+7 912 {n // 10000 % 1000:03d}-{n // 100 % 100:02d}-{n % 100:02d};"
        f"c{n}@example.com\r\n"
        for n in range(start, start + count)
    )
    return (HEADER + body).encode("utf-8")


def _batch_queries(tenant, admin, run_import, rows: int, monkeypatch) -> int:
    counted: list[int] = []
    original = engine.process_batch

    def counting(adapter, batch):
        with CaptureQueriesContext(connection) as queries:
            outcome = original(adapter, batch)
        counted.append(len(queries))
        return outcome

    monkeypatch.setattr(engine, "process_batch", counting)
    run_import(admin, _rows(rows), mapping=MAPPING, policy="merge")
    return counted[0]


def test_a_batch_runs_the_same_queries_whatever_its_size(tenant, admin, run_import, monkeypatch):
    with tenant_context(tenant):
        for n in (0, 1, 2, 50, 51):  # some rows meet existing leads (merged)
            lead_create(actor=admin, data={"name": "Был", "phone": f"+7 912 000-00-{n:02d}"})
    small = _batch_queries(tenant, admin, run_import, 5, monkeypatch)
    large = _batch_queries(tenant, admin, run_import, 120, monkeypatch)
    if connection.vendor == "postgresql":
        assert small == large
    else:  # SQLite splits a bulk insert by its limit of parameters per statement
        assert large < small + 10


def _queued(member, content: bytes) -> ImportJob:
    from django.core.files.uploadedfile import SimpleUploadedFile

    with tenant_context(member.tenant):
        job = services.import_upload(
            actor=member, entity="leads", upload=SimpleUploadedFile("a.csv", content)
        )
        services.import_configure(actor=member, job=job, mapping=MAPPING)
        services.import_start(
            actor=member, job=job, policy="skip", match_by="contacts", background=False
        )
    return job


def _stopped_in_third_batch(tenant, admin, monkeypatch, name: str, error: type[BaseException]):
    """Run a 35-row import in batches of 10 with the engine's `name` raising `error` on its
    third call; return the job as it was left and the original `name`."""
    monkeypatch.setattr(engine, "BATCH", 10)
    original = getattr(engine, name)
    calls = {"n": 0}

    def failing(adapter, batch):
        calls["n"] += 1
        if calls["n"] == 3:
            raise error
        return original(adapter, batch)

    monkeypatch.setattr(engine, name, failing)
    job = _queued(admin, _rows(35))
    with pytest.raises(error):
        engine.run(tenant, job.pk)
    with tenant_context(tenant):
        job.refresh_from_db()
    return job, original


def test_a_stopped_run_resumes_after_its_last_batch(tenant, admin, monkeypatch):
    # The worker killed in its third batch.
    job, original = _stopped_in_third_batch(tenant, admin, monkeypatch, "process_batch", SystemExit)
    assert (job.state, job.processed_rows, job.created_count) == ("running", 20, 20)
    monkeypatch.setattr(engine, "process_batch", original)
    engine.run(tenant, job.pk)
    with tenant_context(tenant):
        job.refresh_from_db()
        assert (job.state, job.processed_rows, job.created_count) == ("done", 35, 35)
        assert Lead.objects.count() == 35
    engine.run(tenant, job.pk)  # a redelivered task finds the job done: nothing twice
    with tenant_context(tenant):
        assert Lead.objects.count() == 35


def test_rows_are_read_ahead_in_the_workspace_zone_and_the_batches_keep_their_order(
    tenant, admin, run_import, monkeypatch
):
    monkeypatch.setattr(engine, "BATCH", 10)
    monkeypatch.setattr(engine, "READ_AHEAD", 1)
    tenant.time_zone = "Asia/Vladivostok"
    tenant.save(update_fields=["time_zone"])
    body = "".join(
        f"Клиент {n};+7 912 000-{n // 100:02d}-{n % 100:02d};05.12.2026 09:{n:02d}\r\n"
        for n in range(35)
    )
    job = run_import(
        admin,
        ("Имя;Телефон;Дата создания\r\n" + body).encode(),
        mapping={0: "name", 1: "phone", 2: "created_at"},
    )
    assert (job.state, job.processed_rows, job.created_count) == ("done", 35, 35)
    with tenant_context(tenant):
        leads = list(Lead.objects.order_by("pk"))
        assert [lead.name for lead in leads] == [f"Клиент {n}" for n in range(35)]
        local = [lead.created_at.astimezone(tenant_zone(tenant)) for lead in leads]
        assert {(t.date().isoformat(), t.hour) for t in local} == {("2026-12-05", 9)}
        assert [t.minute for t in local] == list(range(35))


def test_a_failure_while_reading_ahead_fails_the_job_and_keeps_the_batches_before(
    tenant, admin, monkeypatch
):
    # Whatever goes wrong in the reading thread.
    job, _original = _stopped_in_third_batch(tenant, admin, monkeypatch, "read_batch", MemoryError)
    assert (job.state, job.processed_rows, job.created_count) == ("failed", 20, 20)
    assert job.error  # "The import stopped on an unexpected error…"
    with tenant_context(tenant):
        assert Lead.objects.count() == 20


def test_the_reading_thread_may_not_query_the_database(tenant, admin, monkeypatch):
    from transfer.entities import LeadAdapter

    original = LeadAdapter.read

    def querying(self, cells):
        Lead.objects.exists()  # would run outside the tenant's transaction and its RLS
        return original(self, cells)

    monkeypatch.setattr(LeadAdapter, "read", querying)
    job = _queued(admin, _rows(5))
    with pytest.raises(RuntimeError, match="may not query"):
        engine.run(tenant, job.pk)
    with tenant_context(tenant):
        job.refresh_from_db()
        assert (job.state, job.created_count) == ("failed", 0)
        assert not Lead.objects.exists()


def test_cancel_stops_after_the_current_batch_and_keeps_what_was_done(
    tenant, admin, run_import, monkeypatch
):
    monkeypatch.setattr(engine, "BATCH", 10)
    original = engine.process_batch

    def cancelling(adapter, batch):
        outcome = original(adapter, batch)
        services.import_cancel(actor=admin, job=ImportJob.objects.get(pk=adapter.job.pk))
        return outcome

    monkeypatch.setattr(engine, "process_batch", cancelling)
    job = run_import(admin, _rows(35), mapping=MAPPING)
    assert (job.state, job.processed_rows, job.created_count) == ("cancelled", 10, 10)
    assert job.undoable


def test_undo_keeps_what_someone_changed_after_the_import(tenant, admin, run_import):
    with tenant_context(tenant):
        first = lead_create(actor=admin, data={"phone": "+79120000000"})
        second = lead_create(actor=admin, data={"phone": "+79120000001"})
    job = run_import(admin, _rows(2), mapping=MAPPING, policy="merge")
    assert job.updated_count == 2
    with tenant_context(tenant):
        second.refresh_from_db()
        lead_update(actor=admin, lead=second, data={"name": "Исправила Ирина"})
        job = services.import_undo(actor=admin, job=job)
        first.refresh_from_db()
        second.refresh_from_db()
        assert first.name == ""
        assert first.email == ""
        assert second.name == "Исправила Ирина"
        assert second.email == ""  # the import's other field came back
        assert job.undo_kept == 1
        with pytest.raises(DomainError):
            services.import_undo(actor=admin, job=job)


def test_only_an_administrator_undoes(tenant, admin, marketer, run_import):
    job = run_import(marketer, _rows(2), mapping=MAPPING)
    with tenant_context(tenant), pytest.raises(AccessDenied):
        services.import_undo(actor=marketer, job=job)


def test_an_own_scope_importer_cannot_give_records_to_others(tenant, admin, marketer, run_import):
    role = marketer.role
    role.rights = {**role.rights, "lead": {**role.rights["lead"], "import": "own"}}
    with tenant_context(tenant):
        role.save()
    with pytest.raises(AccessDenied):
        run_import(marketer, _rows(2), mapping=MAPPING, defaults={"owner": admin.pk})
    job = run_import(marketer, _rows(2, start=5), mapping=MAPPING)
    with tenant_context(tenant):
        owners = set(Lead.objects.filter(pk__gt=0).values_list("owner_id", flat=True))
    assert job.created_count == 2
    assert owners == {marketer.pk}


def test_another_workspace_s_people_are_not_duplicates(
    tenant, admin, other_tenant, other_admin, run_import
):
    with tenant_context(other_tenant):
        lead_create(actor=other_admin, data={"name": "Чужой", "phone": "+79120000000"})
    job = run_import(admin, _rows(1), mapping=MAPPING, policy="merge")
    assert (job.created_count, job.updated_count) == (1, 0)
    with tenant_context(other_tenant):
        assert Lead.objects.get().name == "Чужой"


def test_a_member_cannot_set_up_another_member_s_import(tenant, admin, marketer, run_import):
    from django.core.files.uploadedfile import SimpleUploadedFile

    with tenant_context(tenant):
        job = services.import_upload(
            actor=admin, entity="leads", upload=SimpleUploadedFile("a.csv", _rows(2))
        )
        with pytest.raises(AccessDenied):
            services.import_configure(actor=marketer, job=job, mapping=MAPPING)
        with pytest.raises(DomainError):
            services.import_configure(actor=admin, job=job, mapping={0: "name", 1: "name"})
        with pytest.raises(DomainError):
            services.import_configure(actor=admin, job=job, mapping={0: "no_such_field"})


def test_undo_restores_a_record_two_batches_changed(tenant, admin, run_import, monkeypatch):
    monkeypatch.setattr(engine, "BATCH", 1)
    with tenant_context(tenant):
        lead = lead_create(actor=admin, data={"phone": "+79120000000", "message": "было"})
    content = (HEADER + "Первое;+79120000000;\r\nВторое;+79120000000;c@example.com\r\n").encode()
    job = run_import(admin, content, mapping=MAPPING, policy="replace")
    assert (job.updated_count, job.processed_rows) == (2, 2)
    with tenant_context(tenant):
        lead.refresh_from_db()
        assert (lead.name, lead.email) == ("Второе", "c@example.com")
        services.import_undo(actor=admin, job=job)
        lead.refresh_from_db()
        assert (lead.name, lead.email, lead.message) == ("", "", "было")
