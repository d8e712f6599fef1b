"""Real-shaped exports of Bitrix24, amoCRM and HubSpot and a messy hand-kept file, imported
with the columns as detected: exact counts (tests/transfer/files/README.md says why)."""

from __future__ import annotations

from pathlib import Path

import pytest

from contacts.models import Company, Contact
from crm.tenancy import tenant_context
from deals.models import Deal
from leads.models import Lead, LeadState
from transfer.models import ImportRejected

FILES = Path(__file__).parent / "files"


@pytest.mark.parametrize(
    ("name", "entity", "counts", "rejected_lines"),
    [
        ("bitrix24_leads_utf8_bom.csv", "leads", (17, 0, 2, 1), [4]),
        ("bitrix24_leads_cp1251.csv", "leads", (17, 0, 2, 1), [4]),
        ("amocrm_leads.csv", "leads", (9, 0, 2, 1), [6]),
        ("amocrm_leads.xlsx", "leads", (9, 0, 2, 1), [6]),
        ("hubspot_contacts.csv", "leads", (11, 0, 1, 0), []),
        ("hubspot_contacts.csv", "contacts", (11, 0, 1, 0), []),
        ("bitrix24_contacts.csv", "contacts", (11, 0, 1, 0), []),
        ("hubspot_companies.csv", "companies", (9, 0, 1, 0), []),
        ("messy.csv", "leads", (15, 0, 3, 1), [12]),
    ],
)
def test_a_real_shaped_file_imports_with_exact_counts(
    tenant, admin, run_import, name, entity, counts, rejected_lines
):
    job = run_import(admin, (FILES / name).read_bytes(), name=name, entity=entity)
    assert job.state == "done", job.error
    assert (job.created_count, job.updated_count, job.skipped_count, job.rejected_count) == counts
    with tenant_context(tenant):
        lines = list(ImportRejected.objects.filter(job=job).values_list("row_number", flat=True))
    assert lines == rejected_lines


def test_bitrix24_statuses_sources_owners_and_dates_are_read(tenant, admin, run_import):
    tenant.time_zone = "Europe/Moscow"
    tenant.save(update_fields=["time_zone"])
    job = run_import(admin, (FILES / "bitrix24_leads_cp1251.csv").read_bytes(), name="b.csv")
    assert job.encoding == "windows-1251"
    with tenant_context(tenant):
        states = dict(
            Lead.objects.filter(external_id__in=["1054", "1051", "1045"]).values_list(
                "external_id", "state"
            )
        )
        assert states == {
            "1054": LeadState.JUNK,
            "1051": LeadState.CONVERTED,
            "1045": states["1045"],
        }
        telegram = Lead.objects.get(external_id="1045")
        assert (telegram.messenger, telegram.messenger_id) == ("telegram", "@ksenia_dev")
        assert Lead.objects.exclude(currency="RUB").count() == 0


def test_amocrm_deals_keep_their_pipelines_stages_and_customers(tenant, admin, run_import):
    job = run_import(
        admin,
        (FILES / "amocrm_leads.csv").read_bytes(),
        name="amo.csv",
        entity="deals",
        match_by="external_id",
    )
    assert (job.created_count, job.rejected_count) == (12, 0), job.error
    with tenant_context(tenant):
        deals = Deal.objects.all()
        assert deals.exclude(outcome="open").count() == 4
        assert deals.filter(outcome="open", closed_at__isnull=False).count() == 0
        # Records 6 and 12 are the people of records 2 and 1: their deals share contacts.
        contact = dict(Deal.objects.values_list("external_id", "contact_id"))
        assert contact["31857321"] == contact["31857398"] is not None
        assert contact["31857222"] == contact["31857405"] is not None
        assert Contact.objects.count() == len({c for c in contact.values() if c})


def test_hubspot_deals_import(tenant, admin, run_import):
    job = run_import(
        admin,
        (FILES / "hubspot_deals.csv").read_bytes(),
        name="hs.csv",
        entity="deals",
        match_by="external_id",
    )
    assert (job.created_count, job.skipped_count, job.rejected_count) == (10, 0, 0), job.error
    with tenant_context(tenant):
        assert Company.objects.exists()
