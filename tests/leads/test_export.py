"""Exporting the filtered lead list: rights, custom fields, formula injection."""

from __future__ import annotations

import csv
import io
from urllib.parse import urlencode

import openpyxl

from crm.exports import neutralize
from crm.models import CustomField
from crm.tenancy import tenant_context
from tests.leads.factories import make_lead


def _export(client, tenant, params=None, *, fmt="csv", columns="all"):
    """The lead list's export as its menu sends it: the list's filters in the query string."""
    query = f"?{urlencode(params, doseq=True)}" if params else ""
    url = f"/{tenant.slug}/leads/export/{query}"
    return client.post(url, {"format": fmt, "columns": columns})


def _csv(response) -> list[dict[str, str]]:
    text = response.content.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text), delimiter=";"))


def test_export_carries_filters_custom_fields_and_neutralizes_formulas(client_for, tenant, admin):
    with tenant_context(tenant):
        CustomField.objects.create(entity="lead", key="city", label="Город", field_type="text")
        make_lead(
            admin,
            title="=HYPERLINK('http://evil')",
            phone="+7 999 123-45-67",
            custom={"city": "@SUM(A1)"},
            source="web_form",
        )
        make_lead(admin, title="Другой", source="call")
    response = _export(client_for(admin), tenant, {"source": "web_form"})
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="leads-acme-')
    rows = _csv(response)
    assert len(rows) == 1
    row = rows[0]
    assert row["Название"].startswith("'=")
    assert row["Телефон"] == "+7 999 123-45-67"  # a phone is not a formula
    assert row["Город"] == "'@SUM(A1)"


def test_xlsx_export(client_for, tenant, admin):
    with tenant_context(tenant):
        make_lead(admin, title="=1+1")
    response = _export(client_for(admin), tenant, fmt="xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    values = [cell.value for cell in sheet[2]]
    assert "'=1+1" in values


def test_export_needs_the_export_right_and_follows_its_scope(
    client_for, tenant, admin, manager, marketer
):
    with tenant_context(tenant):
        make_lead(admin, title="Лид")
    assert _export(client_for(manager), tenant).status_code == 403
    assert len(_csv(_export(client_for(marketer), tenant))) == 1


def test_neutralize():
    assert neutralize("=cmd") == "'=cmd"
    assert neutralize("-2+3") == "'-2+3"
    assert neutralize("-42") == "-42"
    assert neutralize("+7 (999) 123-45-67") == "+7 (999) 123-45-67"
    assert neutralize("\tx") == "'\tx"
    assert neutralize("ok") == "ok"
    assert neutralize(5) == 5


def test_headers_are_neutralized_and_xlsx_holds_no_formula(client_for, tenant, admin):
    """Custom-field labels are tenant text: a label "=…" was a live formula in XLSX."""
    with tenant_context(tenant):
        CustomField.objects.create(
            entity="lead", key="evil", label='=HYPERLINK("http://evil","x")', field_type="text"
        )
        CustomField.objects.create(entity="lead", key="plus", label="+1+2", field_type="text")
        make_lead(admin, title="=1+1", custom={"evil": "@SUM(1)", "plus": "-3+4"})
    client = client_for(admin)
    header = next(csv.reader(io.StringIO(_csv_text(client, tenant)), delimiter=";"))
    assert '\'=HYPERLINK("http://evil","x")' in header
    assert "'+1+2" in header
    response = _export(client, tenant, fmt="xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    cells = [cell for row in sheet.iter_rows() for cell in row]
    assert cells
    assert {cell.data_type for cell in cells} <= {"s", "inlineStr"}  # text, never "f"
    values = [cell.value for cell in cells]
    assert '\'=HYPERLINK("http://evil","x")' in values
    assert "'@SUM(1)" in values
    assert "'-3+4" in values


def _csv_text(client, tenant) -> str:
    return _export(client, tenant).content.decode("utf-8-sig")


def test_exports_write_local_time_in_the_workspace_zone(client_for, tenant, other_tenant):
    """The same stored instant is 21:07 in Moscow (UTC+3) and 13:07 in New York (UTC−5)."""
    import datetime

    from crm.models import Membership
    from leads.models import Lead

    instant = datetime.datetime(2026, 12, 4, 18, 7, 42, 123456, tzinfo=datetime.UTC)
    other_tenant.time_zone = "America/New_York"
    other_tenant.save(update_fields=["time_zone"])
    expected = {tenant: "04.12.2026 21:07", other_tenant: "04.12.2026 13:07"}
    for workspace, local in expected.items():
        with tenant_context(workspace):
            admin = Membership.objects.select_related("user", "role").get(role__kind="admin")
            CustomField.objects.create(entity="lead", key="visit", label="Визит", field_type="date")
            lead = make_lead(admin, title="Лид", custom={"visit": "2026-12-31"})
            Lead.objects.filter(pk=lead.pk).update(created_at=instant)
        client = client_for(admin)
        (row,) = _csv(_export(client, workspace))
        assert row["Создан"] == local
        assert row["Визит"] == "31.12.2026"
        response = _export(client, workspace, fmt="xlsx")
        sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
        values = [cell.value for cell in sheet[2]]
        assert local in values
        assert "31.12.2026" in values


def test_all_fields_carry_the_qualification(client_for, tenant, english_workspace, admin):
    from leads.models import Lead

    with tenant_context(tenant):
        lead = make_lead(admin, title="Склад", temperature="hot")
        Lead.objects.filter(pk=lead.pk).update(
            level="sal", score=55, fit_score=40, engagement_score=15
        )
    (row,) = _csv(_export(client_for(admin, "en"), tenant, {"level": "sal"}))
    assert (row["Temperature"], row["Qualification level"]) == ("Hot", "SAL")
    assert (row["Score"], row["Fit"], row["Engagement"]) == ("55", "40", "15")
