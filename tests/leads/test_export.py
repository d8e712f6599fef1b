"""Exporting the filtered lead list: rights, custom fields, formula injection."""

from __future__ import annotations

import csv
import io

import openpyxl

from crm.exports import neutralize
from crm.models import CustomField
from crm.tenancy import tenant_context
from tests.leads.factories import make_lead


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
    response = client_for(admin).get(f"/{tenant.slug}/leads/export/", {"source": "web_form"})
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
    response = client_for(admin).get(f"/{tenant.slug}/leads/export/", {"format": "xlsx"})
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    values = [cell.value for cell in sheet[2]]
    assert "'=1+1" in values


def test_export_needs_the_export_right_and_follows_its_scope(
    client_for, tenant, admin, manager, marketer
):
    with tenant_context(tenant):
        make_lead(admin, title="Лид")
    assert client_for(manager).get(f"/{tenant.slug}/leads/export/").status_code == 403
    assert len(_csv(client_for(marketer).get(f"/{tenant.slug}/leads/export/"))) == 1


def test_neutralize():
    assert neutralize("=cmd") == "'=cmd"
    assert neutralize("-2+3") == "'-2+3"
    assert neutralize("-42") == "-42"
    assert neutralize("+7 (999) 123-45-67") == "+7 (999) 123-45-67"
    assert neutralize("\tx") == "'\tx"
    assert neutralize("ok") == "ok"
    assert neutralize(5) == 5
