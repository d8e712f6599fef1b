"""Exports of the lead, contact, company and deal lists: formats, columns, local time,
formula-safe cells, rights and scopes, the background path, constant queries."""

from __future__ import annotations

import csv
import datetime
import io
from urllib.parse import urlencode

import openpyxl
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contacts.models import Company, Contact
from crm.exports import FORMATS, neutralize
from crm.models import CustomField, Notification, Role
from crm.tenancy import tenant_context
from deals.models import Deal
from leads.models import Lead
from tests.contacts.factories import make_company, make_contact
from tests.deals.factories import make_deal
from tests.factories import add_member
from tests.leads.factories import make_lead
from transfer.exporting import export_jobs_purge, export_jobs_resume
from transfer.models import ExportJob

ENTITIES = ("leads", "contacts", "companies", "deals")
# The model, its custom-field entity and the field that carries a record's name.
MODELS = {
    "leads": (Lead, "lead", "title"),
    "contacts": (Contact, "contact", "last_name"),
    "companies": (Company, "company", "name"),
    "deals": (Deal, "deal", "title"),
}
# What each list page shows, as the "visible columns" export heads them.
VISIBLE = {
    "leads": [
        "Created",
        "Title",
        "Contact name",
        "Phone",
        "E-mail",
        "Source",
        "Status",
        "Next activity",
        "Next activity due",
        "Responsible",
        "Amount",
        "Currency",
    ],
    "contacts": ["Full name", "Company", "Position", "Phones", "E-mails", "Responsible", "Created"],
    "companies": ["Name", "Tax id (INN)", "Phones", "E-mails", "Responsible", "Created"],
    "deals": [
        "Created",
        "Deal",
        "Company",
        "Contact",
        "Stage",
        "Pipeline",
        "Next activity",
        "Next activity due",
        "Responsible",
        "Closing",
        "Amount",
        "Currency",
    ],
}
NAME_COLUMN = {"leads": "Title", "contacts": "Full name", "companies": "Name", "deals": "Deal"}


def make(entity: str, actor, name: str, **kwargs):
    """A record of `entity` named `name`, made by `actor` through the real services."""
    if entity == "leads":
        return make_lead(actor, title=name, **kwargs)
    if entity == "contacts":
        return make_contact(actor, last_name=name, **kwargs)
    if entity == "companies":
        return make_company(actor, name=name, **kwargs)
    return make_deal(actor, data={"title": name}, **kwargs)


def export(client, tenant, entity, params=None, *, fmt="csv", columns="visible", **headers):
    """Press a list's export menu: the list's query string, the chosen format and columns."""
    query = f"?{urlencode(params, doseq=True)}" if params else ""
    return client.post(
        f"/{tenant.slug}/{entity}/export/{query}",
        {"format": fmt, "columns": columns},
        **headers,
    )


def table(response_or_bytes, fmt="csv") -> list[list[str]]:
    """The file's rows, headers first, read back with csv or openpyxl."""
    content = getattr(response_or_bytes, "content", response_or_bytes)
    if fmt == "csv":
        text = content.decode("utf-8-sig")
        return list(csv.reader(io.StringIO(text), delimiter=";"))
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    cells = [cell for row in sheet.iter_rows() for cell in row]
    assert {cell.data_type for cell in cells} <= {"s", "inlineStr"}  # text, never a formula
    return [[cell.value or "" for cell in row] for row in sheet.iter_rows()]


def records(rows: list[list[str]]) -> list[dict[str, str]]:
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("entity", ENTITIES)
def test_each_list_exports_its_visible_columns_in_both_formats(
    client_for, tenant, admin, entity, fmt
):
    with tenant_context(tenant):
        make(entity, admin, "Первый")
        make(entity, admin, "Второй")
    response = export(client_for(admin, "en"), tenant, entity, fmt=fmt)
    assert response.status_code == 200
    disposition = response["Content-Disposition"]
    assert disposition.startswith(f'attachment; filename="{entity}-acme-')
    assert disposition.endswith(f'.{fmt}"')
    rows = table(response, fmt)
    assert rows[0] == VISIBLE[entity]
    found = records(rows)
    assert [row[NAME_COLUMN[entity]] for row in found] == ["Второй", "Первый"]  # newest first
    assert {row["Responsible"] for row in found} == {str(admin.user)}  # names, not ids


@pytest.mark.parametrize("entity", ENTITIES)
def test_all_fields_add_ids_times_and_custom_fields(client_for, tenant, admin, entity):
    model, field_entity, _name = MODELS[entity]
    with tenant_context(tenant):
        CustomField.objects.create(
            entity=field_entity, key="region", label="Регион", field_type="text"
        )
        CustomField.objects.create(
            entity=field_entity, key="curator", label="Куратор", field_type="user"
        )
        record = make(entity, admin, "Запись")
        model.objects.filter(pk=record.pk).update(custom={"region": "Урал", "curator": admin.pk})
    client = client_for(admin, "en")
    visible = table(export(client, tenant, entity))
    assert "Регион" not in visible[0]
    (row,) = records(table(export(client, tenant, entity, columns="all")))
    assert row["ID"] == str(record.pk)
    assert "Updated" in row
    assert row["Регион"] == "Урал"
    assert row["Куратор"] == str(admin.user)
    assert list(row)[-2:] == ["Регион", "Куратор"]  # custom fields last, in form order


def test_deals_read_as_people_read_them(client_for, tenant, admin):
    with tenant_context(tenant):
        company = make_company(admin, name="ООО «Ромашка»")
        deal = make_deal(admin, data={"title": "Поставка", "company": company})
    (row,) = records(table(export(client_for(admin, "en"), tenant, "deals", columns="all")))
    assert row["Stage"] == deal.stage.name
    assert row["Pipeline"] == deal.pipeline.name
    assert row["Company"] == "ООО «Ромашка»"
    assert row["Contact"] == deal.contact.full_name
    assert row["Outcome"] == "Open"


def test_the_lists_filters_and_search_apply(client_for, tenant, admin):
    with tenant_context(tenant):
        make_contact(admin, last_name="Смирнов")
        make_contact(admin, last_name="Кузнецов")
        make_deal(admin, data={"title": "Дорогая", "amount": 500_000})
        make_deal(admin, data={"title": "Дешёвая", "amount": 100})
    client = client_for(admin, "en")
    contacts = records(table(export(client, tenant, "contacts", {"q": "Смирн", "after": "x"})))
    assert [row["Full name"] for row in contacts] == ["Смирнов"]
    deals = records(table(export(client, tenant, "deals", {"amount_min": "1000"})))
    assert [row["Deal"] for row in deals] == ["Дорогая"]


@pytest.mark.parametrize("entity", ENTITIES)
def test_dates_are_in_the_workspaces_time_zone(client_for, tenant, admin, entity):
    """18:07 UTC is 04:07 the next day in Vladivostok (UTC+10)."""
    model, field_entity, _name = MODELS[entity]
    tenant.time_zone = "Asia/Vladivostok"
    tenant.save(update_fields=["time_zone"])
    instant = datetime.datetime(2026, 12, 4, 18, 7, 42, tzinfo=datetime.UTC)
    with tenant_context(tenant):
        CustomField.objects.create(
            entity=field_entity, key="visit", label="Визит", field_type="date"
        )
        record = make(entity, admin, "Запись")
        model.objects.filter(pk=record.pk).update(
            created_at=instant, custom={"visit": "2026-12-31"}
        )
    for fmt in ("csv", "xlsx"):
        response = export(client_for(admin, "en"), tenant, entity, fmt=fmt, columns="all")
        (row,) = records(table(response, fmt))
        assert row["Created"] == "05.12.2026 04:07"
        assert row["Визит"] == "31.12.2026"


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("entity", ENTITIES)
def test_formula_cells_are_neutralized_headers_too_phones_stay_readable(
    client_for, tenant, admin, entity, fmt
):
    model, field_entity, _name = MODELS[entity]
    with tenant_context(tenant):
        CustomField.objects.create(
            entity=field_entity, key="evil", label='=HYPERLINK("http://x")', field_type="text"
        )
        CustomField.objects.create(entity=field_entity, key="tab", label="\tТаб", field_type="text")
        record = make(entity, admin, "=cmd|' /C calc'!A0")
        model.objects.filter(pk=record.pk).update(custom={"evil": "@SUM(A1)", "tab": "\rx"})
        if entity == "contacts":
            Contact.objects.filter(pk=record.pk).update(
                phones=["+7 912 345-67-89"], position="-2+3"
            )
    response = export(client_for(admin, "en"), tenant, entity, fmt=fmt, columns="all")
    rows = table(response, fmt)
    assert '\'=HYPERLINK("http://x")' in rows[0]
    assert "'\tТаб" in rows[0]
    (row,) = records(rows)
    assert row[NAME_COLUMN[entity]] == "'=cmd|' /C calc'!A0"
    assert row['\'=HYPERLINK("http://x")'] == "'@SUM(A1)"
    assert row["'\tТаб"] in ("'\rx", "'\nx")  # XML reads a CR back as LF
    if entity == "contacts":
        assert row["Phones"] == "+7 912 345-67-89"  # a phone, not a formula
        assert row["Position"] == "'-2+3"


def test_neutralize_keeps_numbers_and_phones():
    assert neutralize("+7 912 345-67-89") == "+7 912 345-67-89"
    assert neutralize("-1 000.50") == "-1 000.50"
    assert neutralize("+1+2") == "'+1+2"
    assert neutralize("-A1") == "'-A1"
    assert neutralize("\rcmd") == "'\rcmd"
    assert neutralize("@x") == "'@x"


def _give_manager_export(tenant, scope: str) -> None:
    with tenant_context(tenant):
        role = Role.objects.get(kind="manager")
        rights = role.rights
        for entity in ("lead", "deal", "contact", "company"):
            rights[entity]["export"] = scope
        role.rights = rights
        role.save(update_fields=["rights"])


@pytest.mark.parametrize("entity", ENTITIES)
def test_a_manager_with_own_scope_exports_only_own_records(
    client_for, tenant, admin, manager, entity
):
    _give_manager_export(tenant, "own")
    with tenant_context(tenant):
        make(entity, admin, "Чужая", owner=admin)
        make(entity, admin, "Своя", owner=manager)
        if entity in ("leads", "deals"):
            make(entity, admin, "Ничья", owner=None)  # the pool: seen, not exported
    client = client_for(manager, "en")
    page = client.get(f"/{tenant.slug}/{entity}/")
    assert b'data-testid="export-menu"' in page.content
    found = records(table(export(client, tenant, entity)))
    assert [row[NAME_COLUMN[entity]] for row in found] == ["Своя"]


@pytest.mark.parametrize("entity", ENTITIES)
def test_a_role_without_the_export_right_gets_no_menu_and_403(
    client_for, tenant, admin, manager, entity
):
    with tenant_context(tenant):
        make(entity, admin, "Запись", owner=manager)
    client = client_for(manager, "en")
    page = client.get(f"/{tenant.slug}/{entity}/")
    assert page.status_code == 200
    assert b'data-testid="export-menu"' not in page.content
    assert b'data-testid="exports-link"' not in page.content  # nor "My exports"
    assert export(client, tenant, entity).status_code == 403
    refused = export(client, tenant, entity, HTTP_HX_REQUEST="true")
    assert refused.status_code == 403
    assert refused["HX-Retarget"] == "#toasts"  # answered in place
    admin_page = client_for(admin).get(f"/{tenant.slug}/{entity}/")
    assert b'data-testid="export-menu"' in admin_page.content
    assert b'data-testid="exports-link"' in admin_page.content


@pytest.mark.parametrize("entity", ENTITIES)
def test_another_workspaces_list_is_404(client_for, tenant, admin, other_admin, entity):
    with tenant_context(tenant):
        make(entity, admin, "Запись")
    assert export(client_for(other_admin), tenant, entity).status_code == 404


def test_bad_input_is_refused_without_a_500(client_for, tenant, admin):
    client = client_for(admin, "en")
    url = f"/{tenant.slug}/contacts/export/"
    assert client.get(url).status_code == 405
    assert client.post(url, {"format": "pdf"}).status_code == 400
    assert client.post(url, {"format": "csv", "columns": "some"}).status_code == 400
    # A filter the form refuses exports what the list shows for it (the unfiltered list).
    assert export(client, tenant, "deals", {"amount_min": "много"}).status_code == 200


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_large_export_is_prepared_in_the_background_end_to_end(
    client_for, tenant, admin, director, settings, django_capture_on_commit_callbacks, fmt
):
    settings.EXPORT_INLINE_MAX_ROWS = 2
    tenant.language = "en"
    tenant.save(update_fields=["language"])
    with tenant_context(tenant):
        for n in range(3):
            make_contact(admin, last_name=f"Контакт {n}")
    client = client_for(admin, "en")
    with django_capture_on_commit_callbacks(execute=True):
        response = export(client, tenant, "contacts", {"q": "Контакт"}, fmt=fmt)
    assert response.status_code == 302
    with tenant_context(tenant):
        job = ExportJob.objects.get()
        notification = Notification.objects.get(recipient=admin, kind="export.ready")
    assert response["Location"] == f"/{tenant.slug}/transfer/exports/{job.pk}/"
    assert job.state == ExportJob.State.DONE
    assert job.row_count == 3
    assert job.query == "q=%D0%9A%D0%BE%D0%BD%D1%82%D0%B0%D0%BA%D1%82"
    assert notification.url == response["Location"]
    assert notification.data == {"filename": job.filename}
    bell = client.get(f"/{tenant.slug}/notifications/").content.decode()
    assert f"Your export “{job.filename}” is ready to download" in bell

    page = client.get(response["Location"])
    assert b'data-testid="export-download"' in page.content
    assert b'hx-trigger="every 2s"' not in page.content  # ready: no more polling
    download = client.get(f"/{tenant.slug}/transfer/exports/{job.pk}/download/")
    assert download.status_code == 200
    assert download["Content-Type"] == FORMATS[fmt]
    assert download["Content-Disposition"] == f'attachment; filename="{job.filename}"'
    rows = table(b"".join(download.streaming_content), fmt)
    assert rows[0] == VISIBLE["contacts"]
    assert len(rows) == 4
    listing = client.get(f"/{tenant.slug}/transfer/exports/")
    assert f"/transfer/exports/{job.pk}/download/".encode() in listing.content

    # Nobody else downloads it: not a colleague, not another workspace.
    other = client_for(director)
    assert other.get(f"/{tenant.slug}/transfer/exports/{job.pk}/").status_code == 404
    assert other.get(f"/{tenant.slug}/transfer/exports/{job.pk}/download/").status_code == 404
    their_list = other.get(f"/{tenant.slug}/transfer/exports/").content
    assert f"/transfer/exports/{job.pk}/".encode() not in their_list


def test_a_queued_export_page_polls_until_ready(client_for, tenant, admin, settings):
    settings.EXPORT_INLINE_MAX_ROWS = 0
    with tenant_context(tenant):
        make_contact(admin)
    client = client_for(admin, "en")
    response = export(client, tenant, "contacts")  # on_commit never runs here: still queued
    page = client.get(response["Location"])
    assert b'hx-trigger="every 2s"' in page.content
    assert b'data-testid="export-download"' not in page.content
    fragment = client.get(response["Location"], {"fragment": "status"}, HTTP_HX_REQUEST="true")
    assert fragment.content.lstrip().startswith(b'<div id="export-status"')
    with tenant_context(tenant):
        job = ExportJob.objects.get()
    assert client.get(f"/{tenant.slug}/transfer/exports/{job.pk}/download/").status_code == 404


def test_an_export_of_a_member_who_lost_the_right_fails_and_says_so(
    client_for, tenant, admin, marketer, settings, django_capture_on_commit_callbacks
):
    settings.EXPORT_INLINE_MAX_ROWS = 0
    with tenant_context(tenant):
        make_contact(admin)
    response = export(client_for(marketer), tenant, "contacts")  # queued, not yet run
    assert response.status_code == 302, response.content
    with tenant_context(tenant):
        role = Role.objects.get(kind="marketer")
        role.rights["contact"]["export"] = "none"
        role.save(update_fields=["rights"])
        with django_capture_on_commit_callbacks(execute=True):
            assert export_jobs_resume(older_than=datetime.timedelta(0)) == 1
        job = ExportJob.objects.get()
        assert Notification.objects.filter(recipient=marketer, kind="export.failed").exists()
    assert job.state == ExportJob.State.FAILED
    assert not job.file
    assert b"could not be prepared" in client_for(marketer, "en").get(response["Location"]).content


def test_old_exports_are_purged_with_their_files(
    tenant, admin, settings, django_capture_on_commit_callbacks
):
    from django.core.files.base import ContentFile

    with tenant_context(tenant):
        old = ExportJob.objects.create(entity="leads", requested_by=admin, fmt="csv", state="done")
        old.file.save("old.csv", ContentFile(b"x"))
        recent = ExportJob.objects.create(entity="leads", requested_by=admin, fmt="csv")
        ExportJob.objects.filter(pk=old.pk).update(
            created_at=datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=8)
        )
        storage, name = old.file.storage, old.file.name
        assert storage.exists(name)
        with django_capture_on_commit_callbacks(execute=True):
            assert export_jobs_purge() == 1
        assert list(ExportJob.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not storage.exists(name)


@pytest.mark.parametrize("entity", ENTITIES)
def test_an_export_runs_the_same_queries_whatever_its_size(client_for, tenant, admin, entity):
    model, field_entity, _name = MODELS[entity]
    member = add_member(tenant, "manager")
    with tenant_context(tenant):
        CustomField.objects.create(entity=field_entity, key="who", label="Кто", field_type="user")
    client = client_for(admin, "en")

    def queries(count: int) -> int:
        with tenant_context(tenant):
            for n in range(count):
                record = make(entity, admin, f"Запись {n}", owner=member)
                model.objects.filter(pk=record.pk).update(custom={"who": member.pk})
        with CaptureQueriesContext(connection) as captured:
            response = export(client, tenant, entity, columns="all")
        assert response.status_code == 200
        return len(captured)

    assert queries(2) == queries(12)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_write_table_streams_rows_across_chunks(monkeypatch, fmt):
    """Rows come from a generator and go out in chunks, none lost or repeated."""
    from crm import exports

    monkeypatch.setattr(exports, "CSV_CHUNK", 3)
    out = io.BytesIO()
    rows = ([n, f"=row {n}"] for n in range(10))
    assert exports.write_table(["N", "Text"], rows, fmt=fmt, out=out) == 10
    read = table(out.getvalue(), fmt)
    assert read[0] == ["N", "Text"]
    assert read[1:] == [[str(n), f"'=row {n}"] for n in range(10)]


@pytest.mark.django_db(transaction=True)
def test_a_long_read_holds_no_write_lock_on_sqlite(tenant):
    """`make run`'s SQLite has one writer: a large export reads outside a transaction
    (PostgreSQL needs one for its RLS setting, where reading blocks no writer)."""
    from django.db import connection

    from crm.tenancy import current_tenant, tenant_reading
    from leads.models import Lead

    with tenant_reading(tenant):
        assert current_tenant() == tenant
        assert Lead.objects.count() == 0  # scoped to the tenant, no ScopeError
        assert connection.in_atomic_block == (connection.vendor == "postgresql")


def test_an_export_its_killed_worker_left_running_is_started_again(
    tenant, admin, settings, django_capture_on_commit_callbacks
):
    settings.CELERY_LONG_TASK_TIME_LIMIT = 60
    with tenant_context(tenant):
        make_contact(admin)
        job = ExportJob.objects.create(
            requested_by=admin, entity="contacts", fmt="csv", filename="contacts.csv"
        )
        recent = ExportJob.objects.create(
            requested_by=admin, entity="contacts", fmt="csv", filename="contacts-2.csv"
        )
        long_ago = timezone.now() - datetime.timedelta(hours=2)
        ExportJob.objects.filter(pk=job.pk).update(
            state=ExportJob.State.RUNNING, updated_at=long_ago, created_at=long_ago
        )
        ExportJob.objects.filter(pk=recent.pk).update(state=ExportJob.State.RUNNING)
        with django_capture_on_commit_callbacks(execute=True):
            assert export_jobs_resume() == 1
        job.refresh_from_db()
        recent.refresh_from_db()
    assert job.state == ExportJob.State.DONE
    assert job.file
    assert recent.state == ExportJob.State.RUNNING  # a run in progress is left alone
