"""Importing leads: a file's rows become leads through one set of duplicate rules, with
exact counts per policy, rejected rows kept with their reasons, and the undo."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from crm.models import TimelineEvent
from crm.tenancy import tenant_context
from intake.models import Identity
from leads.models import Lead, LeadWord
from leads.services import lead_create
from transfer.models import ImportJob, ImportRejected

HEADER = "Имя;Телефон;E-mail;Комментарий;Дата создания\r\n"
MAPPING = {0: "name", 1: "phone", 2: "email", 3: "message", 4: "created_at"}


def _csv(*rows: str, header: str = HEADER, encoding: str = "utf-8-sig") -> bytes:
    return (header + "".join(r + "\r\n" for r in rows)).encode(encoding)


def test_rows_become_leads_with_their_dates_in_the_workspace_zone(tenant, admin, run_import):
    tenant.time_zone = "Asia/Vladivostok"
    tenant.save(update_fields=["time_zone"])
    job = run_import(
        admin,
        _csv(
            "Анна Петрова;+7 (912) 345-67-89;anna@example.com;Хочет счёт;05.12.2026 09:30",
            "Борис;8 912 000 11 22, 8 912 000 11 23;;;2026-12-01",
        ),
        mapping=MAPPING,
    )
    assert (job.state, job.total_rows, job.processed_rows) == ("done", 2, 2)
    assert (job.created_count, job.updated_count, job.skipped_count, job.rejected_count) == (
        2,
        0,
        0,
        0,
    )
    with tenant_context(tenant):
        anna = Lead.objects.get(name="Анна Петрова")
        assert anna.phone_e164 == "+79123456789"
        assert anna.source == "import"
        assert anna.state == "new"
        local = anna.created_at.astimezone(ZoneInfo("Asia/Vladivostok"))
        assert (local.date().isoformat(), local.hour, local.minute) == ("2026-12-05", 9, 30)
        boris = Lead.objects.get(name="Борис")
        assert boris.phone_e164 == "+79120001122"
        assert boris.other_phones == ["8 912 000 11 23"]
        kinds = set(TimelineEvent.objects.filter(target_id=anna.pk).values_list("kind", flat=True))
        assert "lead.imported" in kinds
        assert set(Identity.objects.filter(lead=anna).values_list("kind", "source")) == {
            ("phone", "import"),
            ("email", "import"),
        }


@pytest.mark.parametrize(
    ("policy", "counts", "name", "message"),
    [
        ("skip", (1, 0, 2), "Старое имя", "было"),
        # The file's second row of the person brings nothing new: a skipped duplicate.
        ("merge", (1, 1, 1), "Старое имя", "было\n\nновое"),
        ("replace", (1, 1, 1), "Новое имя", "было\n\nновое"),
        ("create", (3, 0, 0), "Старое имя", "было"),
    ],
)
def test_each_duplicate_policy_gives_exact_counts(
    tenant, admin, run_import, policy, counts, name, message
):
    with tenant_context(tenant):
        existing = lead_create(
            actor=admin, data={"name": "Старое имя", "phone": "+79123456789", "message": "было"}
        )
    job = run_import(
        admin,
        _csv(
            "Новое имя;8 (912) 345-67-89;new@example.com;новое;",  # the existing lead's phone
            "Новое имя;89123456789;;новое;",  # the same person again in the file
            "Вера;+7 912 111-22-33;;;",
        ),
        mapping=MAPPING,
        policy=policy,
    )
    assert (job.created_count, job.updated_count, job.skipped_count) == counts
    assert job.rejected_count == 0
    assert sum(counts) == job.processed_rows == 3  # every row counted once
    with tenant_context(tenant):
        existing.refresh_from_db()
        assert existing.name == name
        assert existing.message == message
        if policy in ("merge", "replace"):
            assert existing.email == "new@example.com"  # it had none: filled either way
        words = set(LeadWord.objects.filter(lead=existing).values_list("word", flat=True))
        assert ("НОВОЕ" in words) == (policy == "replace")  # the search finds its new name


def test_bad_rows_are_rejected_with_their_reason_and_the_rest_imported(
    english_workspace, tenant, admin, run_import
):
    job = run_import(
        admin,
        _csv(
            "Без контактов;;;;",
            "Плохой телефон;12;;;",
            "Плохая дата;+79120000001;;;32.13.2026",
            "Хороший;+79120000002;;;",
        ),
        mapping=MAPPING,
    )
    assert (job.created_count, job.rejected_count) == (1, 3)
    with tenant_context(tenant):
        rejected = list(ImportRejected.objects.filter(job=job).values_list("row_number", "reason"))
    assert [number for number, _reason in rejected] == [2, 3, 4]
    assert "no way to reach" in rejected[0][1]
    assert "date" in rejected[2][1]


def test_undo_removes_created_leads_and_restores_merged_ones(
    tenant, admin, run_import, django_capture_on_commit_callbacks
):
    from transfer.services import import_undo

    with tenant_context(tenant):
        existing = lead_create(actor=admin, data={"phone": "+79123456789"})
    job = run_import(
        admin,
        _csv("Анна;+79123456789;;;", "Вера;+79121112233;;;"),
        mapping=MAPPING,
        policy="merge",
    )
    assert (job.created_count, job.updated_count) == (1, 1)
    with tenant_context(tenant):
        existing.refresh_from_db()
        assert existing.name == "Анна"
        job = import_undo(actor=admin, job=job)
        assert job.state == ImportJob.State.UNDONE
        existing.refresh_from_db()
        assert existing.name == ""
        vera = Lead.objects.get(name="Вера")
        assert vera.deleted_at is not None


def test_a_later_row_gives_an_earlier_new_lead_its_phone(tenant, admin, run_import):
    job = run_import(
        admin,
        _csv("Анна;;anna@example.com;;", "Анна;+7 912 345-67-89;ANNA@example.com;;"),
        mapping=MAPPING,
        policy="merge",
    )
    # The second row merged into the lead the first one made: counted as an update.
    assert (job.created_count, job.updated_count, job.skipped_count) == (1, 1, 0)
    with tenant_context(tenant):
        lead = Lead.objects.get()
    assert (lead.phone_e164, lead.email_key) == ("+79123456789", "anna@example.com")


def test_a_mobile_in_a_range_the_metadata_lacks_is_kept_beside_an_office_number(
    tenant, admin, run_import, monkeypatch
):
    """A Bitrix24 row with its mobile and work phone columns (the mobile in a range
    phonenumbers does not list yet); the same person again in a later batch by the mobile
    written another way is merged, not made a second lead."""
    from transfer import engine

    monkeypatch.setattr(engine, "BATCH", 1)
    content = (
        "Имя;Мобильный телефон;Рабочий телефон;Комментарий\r\n"
        "Евгения Рогова;+79300652196;8 (812) 328-43-84, доб. 430;\r\n"
        "Евгения Рогова;8 930 065 21 96;;Повторная заявка\r\n"
    ).encode()
    mapping = {0: "name", 1: "phone", 2: "phone", 3: "message"}
    job = run_import(admin, content, mapping=mapping, policy="merge")
    assert (job.created_count, job.updated_count, job.rejected_count) == (1, 1, 0)
    with tenant_context(tenant):
        lead = Lead.objects.get()
    assert (lead.phone, lead.phone_e164) == ("+79300652196", "+79300652196")
    assert lead.other_phones == ["+7 812 328-43-84 доб. 430"]


def test_who_started_an_import_is_told_when_it_ends(english_workspace, tenant, admin, run_import):
    from crm.models import Notification
    from crm.notifications import notification_text

    job = run_import(admin, _csv("Анна;+79123456789;;;", "Пусто;;;;"), mapping=MAPPING)
    with tenant_context(tenant):
        note = Notification.objects.get(recipient=admin, kind="import.done")
        assert f"/transfer/imports/{job.pk}/" in note.url
        assert notification_text(note) == (
            "Import of “base.csv” done: 1 created, 0 updated, 0 skipped, 1 rejected"
        )


def test_a_new_lead_of_a_known_contact_is_a_repeat_linked_to_it(tenant, admin, run_import):
    from contacts.services import contact_create

    with tenant_context(tenant):
        known = contact_create(
            actor=admin, data={"first_name": "Анна", "phones": ["8 912 345-67-89"]}
        )
    run_import(admin, _csv("Анна;+7 (912) 345-67-89;;;", "Вера;+79120001122;;;"), mapping=MAPPING)
    with tenant_context(tenant):
        anna, vera = Lead.objects.get(name="Анна"), Lead.objects.get(name="Вера")
    assert (anna.contact_id, anna.is_repeat) == (known.pk, True)
    assert (vera.contact_id, vera.is_repeat) == (None, False)


def test_imported_leads_are_scored_when_the_workspace_scores(tenant, admin, run_import):
    from leads.models import ScoringRule

    with tenant_context(tenant):
        ScoringRule.objects.create(
            tenant=tenant, name="E-mail given", subject="email", operator="filled", points=12
        )
    job = run_import(
        admin,
        _csv(
            "Анна Петрова;+7 (912) 345-67-89;anna@example.com;;",
            "Борис;8 912 000 11 22;;;",
        ),
        mapping=MAPPING,
    )
    assert job.state == "done"
    with tenant_context(tenant):
        scores = dict(Lead.objects.values_list("name", "score"))
        assert scores == {"Анна Петрова": 12, "Борис": 0}
        assert not Lead.objects.filter(scored_at=None).exists()
