"""The import wizard over HTTP: upload → columns → check → run → report, rights and
tenant isolation, the rejected rows' file and the templates."""

from __future__ import annotations

import io

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from crm.tenancy import tenant_context
from crm.urlnames import tenant_reverse
from leads.models import Lead
from transfer.models import ImportJob

CSV = (
    "Имя;Телефон;E-mail;Комментарий\r\n"
    "Анна;+7 912 345-67-89;anna@example.com;Перезвонить\r\n"
    "Пустой;;;\r\n"
    "Вера;89120001122;;\r\n"
).encode("utf-8-sig")


def _upload(client, tenant, content=CSV, name="base.csv", entity="leads"):
    return client.post(
        tenant_reverse("transfer:import_new", tenant),
        {"entity": entity, "file": SimpleUploadedFile(name, content)},
    )


def test_the_wizard_imports_a_file_end_to_end(
    english_workspace,
    tenant,
    admin,
    client_for,
    django_capture_on_commit_callbacks,
    settings,
    tmp_path,
):
    settings.MEDIA_ROOT = tmp_path
    client = client_for(admin, "en")
    response = _upload(client, tenant)
    assert response.status_code == 302
    with tenant_context(tenant):
        job = ImportJob.objects.get()
    assert response["Location"].endswith(f"/imports/{job.pk}/columns/")
    assert (job.encoding, job.delimiter) == ("utf-8-sig", ";")
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert "Анна" in page.content.decode()  # first values beside the columns
    response = client.post(
        tenant_reverse("transfer:import_columns", tenant, pk=job.pk),
        {
            "col_0": "name",
            "col_1": "phone",
            "col_2": "email",
            "col_3": "message",
            "date_order": "dmy",
            "encoding": "utf-8-sig",
            "delimiter": ";",
        },
    )
    assert response.status_code == 302
    check = client.get(response["Location"])
    body = check.content.decode()
    assert "no way to reach the person" in body  # the empty row's error in the preview
    assert body.count('data-testid="preview-row"') == 3
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            tenant_reverse("transfer:import_check", tenant, pk=job.pk),
            {"policy": "skip", "match_by": "contacts", "source": "import"},
        )
    assert response.status_code == 302
    report = client.get(response["Location"]).content.decode()
    assert 'data-testid="count-created">2<' in report
    assert 'data-testid="count-rejected">1<' in report
    rejected = client.get(tenant_reverse("transfer:import_rejected", tenant, pk=job.pk))
    text = b"".join(rejected.streaming_content).decode("utf-8-sig")
    assert text.splitlines()[1].startswith("No phone, e-mail or messenger")
    with tenant_context(tenant):
        assert Lead.objects.count() == 2


def test_a_file_that_is_not_a_table_is_refused_in_place(
    tenant, admin, client_for, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    client = client_for(admin, "en")
    response = _upload(client, tenant, content=b"\xd0\xcf\x11\xe0" + b"\x00" * 600, name="old.xls")
    assert response.status_code == 400
    assert "old Excel file" in response.content.decode()
    response = _upload(client, tenant, content=b"", name="empty.csv")
    assert response.status_code == 400
    with tenant_context(tenant):
        assert not ImportJob.objects.exists()


def test_a_file_over_the_limit_is_refused(tenant, admin, client_for, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.IMPORT_MAX_UPLOAD_BYTES = 100
    response = _upload(client_for(admin, "en"), tenant, content=CSV * 10)
    assert response.status_code == 400
    assert "larger than" in response.content.decode()


def test_roles_without_the_import_right_see_no_wizard(tenant, manager, director, client_for):
    for member in (manager, director):
        client = client_for(member, "en")
        assert client.get(tenant_reverse("transfer:import_list", tenant)).status_code == 403
        assert _upload(client, tenant).status_code == 403
        page = client.get(tenant_reverse("leads:list", tenant)).content.decode()
        assert 'data-testid="imports-link"' not in page


def test_a_marketer_imports_leads_but_not_deals(tenant, marketer, client_for, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client = client_for(marketer, "en")
    page = client.get(tenant_reverse("transfer:import_list", tenant)).content.decode()
    assert 'value="leads"' in page
    assert 'value="deals"' not in page
    assert _upload(client, tenant, entity="deals").status_code == 400  # not a choice
    assert _upload(client, tenant).status_code == 302


def test_imports_of_another_workspace_and_of_another_member_are_not_found(
    tenant, admin, marketer, other_admin, client_for, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    _upload(client_for(admin), tenant)
    with tenant_context(tenant):
        job = ImportJob.objects.get()
    other = client_for(other_admin)
    url = tenant_reverse("transfer:import_detail", other_admin.tenant, pk=job.pk)
    assert other.get(url).status_code == 404
    mine = client_for(marketer)
    assert mine.get(tenant_reverse("transfer:import_columns", tenant, pk=job.pk)).status_code == 404
    assert mine.post(tenant_reverse("transfer:import_cancel", tenant, pk=job.pk)).status_code == 404


def test_templates_download_with_the_fields_the_wizard_recognises(tenant, admin, client_for):
    client = client_for(admin, "ru")
    response = client.get(
        tenant_reverse("transfer:import_template", tenant, entity="leads", fmt="xlsx")
    )
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    headers = [cell.value for cell in sheet[1]]
    assert "Телефон" in headers
    assert "Ответственный" in headers
    assert client.get(
        tenant_reverse("transfer:import_template", tenant, entity="nope", fmt="csv")
    ).status_code in (400, 404)


@pytest.mark.parametrize(
    ("url_name", "entity"),
    [
        ("leads:list", "leads"),
        ("contacts:list", "contacts"),
        ("companies:list", "companies"),
        ("deals:list", "deals"),
    ],
)
def test_each_list_offers_its_import_to_roles_that_may(
    tenant, admin, manager, client_for, url_name, entity
):
    page = client_for(admin, "en").get(tenant_reverse(url_name, tenant)).content.decode()
    assert f"/transfer/imports/?entity={entity}" in page
    page = client_for(manager, "en").get(tenant_reverse(url_name, tenant)).content.decode()
    assert 'data-testid="import-button"' not in page


def test_the_wizard_opens_with_the_list_s_kind_chosen(tenant, admin, client_for):
    url = tenant_reverse("transfer:import_list", tenant) + "?entity=companies"
    page = client_for(admin, "en").get(url).content.decode()
    assert '<option value="companies" selected>' in page


@pytest.mark.parametrize(
    ("name", "entity", "rows"),
    [
        ("hubspot_contacts.csv", "contacts", 12),
        ("hubspot_companies.csv", "companies", 10),
        ("hubspot_deals.csv", "deals", 10),
        ("amocrm_leads.xlsx", "deals", 12),
    ],
)
def test_every_kind_s_columns_and_preview_pages_render(
    tenant, admin, client_for, settings, tmp_path, name, entity, rows
):
    from pathlib import Path

    settings.MEDIA_ROOT = tmp_path
    client = client_for(admin, "ru")
    content = (Path(__file__).parent / "files" / name).read_bytes()
    response = _upload(client, tenant, content=content, name=name, entity=entity)
    assert response.status_code == 302
    columns = client.get(response["Location"])
    assert columns.status_code == 200
    with tenant_context(tenant):
        job = ImportJob.objects.get()
    check = client.get(tenant_reverse("transfer:import_check", tenant, pk=job.pk))
    assert check.status_code == 200
    body = check.content.decode()
    assert body.count('data-testid="preview-row"') == rows
    assert 'data-testid="preview-error"' not in body
