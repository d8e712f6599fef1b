"""Setting an import up: detection of encodings, delimiters and formats, overrides, saved
mappings, Bitrix24's HTML "Excel" export, and the upkeep of old files and stalled runs."""

from __future__ import annotations

import io
from datetime import timedelta

import openpyxl
import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from crm.errors import DomainError
from crm.tenancy import tenant_context
from leads.models import Lead
from transfer import reading, services
from transfer.models import ImportJob, ImportMapping
from transfer.tasks import imports_resume_task

ROWS = [["Имя", "Телефон", "Дата"], ["Анна Ёлкина", "+7 912 345-67-89", "31.12.2026"]]


def _csv(delimiter: str, encoding: str, bom: bool = False) -> bytes:
    text = "\r\n".join(delimiter.join(row) for row in ROWS) + "\r\n"
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding)


@pytest.mark.parametrize(
    ("content", "encoding", "delimiter"),
    [
        (_csv(";", "utf-8", bom=True), "utf-8-sig", ";"),
        (_csv(",", "utf-8"), "utf-8", ","),
        (_csv("\t", "cp1251"), "windows-1251", "\t"),
        (_csv("|", "koi8-r"), "koi8-r", "|"),
        (_csv(";", "cp866"), "cp866", ";"),
        (
            "\ufeff".encode("utf-16-le")
            + "\r\n".join("\t".join(r) for r in ROWS).encode("utf-16-le"),
            "utf-16",
            "\t",
        ),
    ],
)
def test_encodings_and_delimiters_are_detected(content, encoding, delimiter):
    found = reading.detect(io.BytesIO(content), "base.csv")
    assert (found.encoding, found.delimiter) == (encoding, delimiter)
    assert found.headers == ROWS[0]
    assert [cells for _n, cells in found.sample] == [ROWS[1]]


def test_an_xlsx_file_is_read_streaming_with_its_types():
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Имя", "Телефон", "Сумма", "Дата"])
    sheet.append(["Анна", 79123456789, 1500.5, timezone.datetime(2026, 12, 31, 10, 30)])
    out = io.BytesIO()
    book.save(out)
    found = reading.detect(io.BytesIO(out.getvalue()), "base.xlsx")
    assert found.file_format == "xlsx"
    number, cells = found.sample[0]
    assert number == 2
    assert [reading.cell_text(c) for c in cells] == [
        "Анна",
        "79123456789",
        "1500.5",
        "2026-12-31 10:30:00",
    ]


def test_bitrix24_s_html_excel_export_is_read_as_a_table():
    html = (
        '<html><head><meta http-equiv="Content-type" content="text/html;charset=windows-1251">'
        "</head><body><table><tr><th>Имя</th><th>Рабочий телефон</th></tr>"
        "<tr><td>Анна</td><td>+7 912 345-67-89</td></tr></table></body></html>"
    ).encode("cp1251")
    found = reading.detect(io.BytesIO(html), "leads.xls")
    assert (found.file_format, found.encoding) == ("html", "cp1251")
    assert found.headers == ["Имя", "Рабочий телефон"]
    assert found.sample == [(2, ["Анна", "+7 912 345-67-89"])]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xd0\xcf\x11\xe0" + b"\x00" * 100, "old Excel"),
        (b"   \r\n", "empty"),
        (b"\x00\x01\x02binary" * 100, "not a table"),
        (b"just one column\r\nand another line\r\n", "Only one column"),
        (b"PK\x03\x04broken zip", "damaged"),
    ],
)
def test_files_that_are_not_tables_are_refused_with_a_reason(content, message):
    with pytest.raises(reading.UnreadableFileError, match=message):
        reading.detect(io.BytesIO(content), "x.csv")


def test_a_wrong_guess_is_corrected_and_the_headers_read_again(tenant, admin):
    content = _csv(";", "cp1251")
    with tenant_context(tenant):
        job = services.import_upload(
            actor=admin, entity="leads", upload=SimpleUploadedFile("a.csv", content)
        )
        services.import_configure(actor=admin, job=job, mapping={0: "name"}, encoding="koi8-r")
        assert job.headers[0] != "Имя"  # read wrongly on purpose
        services.import_configure(
            actor=admin, job=job, mapping={0: "name"}, encoding="windows-1251"
        )
        assert job.headers == ROWS[0]
        with pytest.raises(DomainError):
            services.import_configure(actor=admin, job=job, mapping={0: "name"}, encoding="ebcdic")


def test_a_saved_mapping_maps_the_next_file_of_the_same_shape(tenant, admin):
    content = "Клиент;Тел.;Откуда\r\nАнна;+79123456789;Сайт\r\n".encode()
    with tenant_context(tenant):
        first = services.import_upload(
            actor=admin, entity="leads", upload=SimpleUploadedFile("a.csv", content)
        )
        services.import_configure(
            actor=admin,
            job=first,
            mapping={0: "name", 1: "phone", 2: "source"},
            save_as="Наш прайс",
        )
        saved = ImportMapping.objects.get(name="Наш прайс")
        second = services.import_upload(
            actor=admin,
            entity="leads",
            upload=SimpleUploadedFile(
                "b.csv", content.replace(b"\xd0\x9a\xd0\xbb", b"\xd0\xba\xd0\xbb")
            ),
        )
        services.mapping_apply(actor=admin, job=second, mapping=saved)
        assert second.mapping == {"0": "name", "1": "phone", "2": "source"}


def test_the_upkeep_resumes_a_stalled_run_and_purges_old_files(
    tenant, admin, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path
    with tenant_context(tenant):
        stalled = services.import_upload(
            actor=admin, entity="leads", upload=SimpleUploadedFile("a.csv", _csv(";", "utf-8"))
        )
        services.import_configure(actor=admin, job=stalled, mapping={0: "name", 1: "phone"})
        services.import_start(
            actor=admin, job=stalled, policy="skip", match_by="contacts", background=False
        )
        draft = services.import_upload(
            actor=admin, entity="leads", upload=SimpleUploadedFile("b.csv", _csv(";", "utf-8"))
        )
        draft_file = draft.file.path
    with (
        time_machine.travel(timezone.now() + timedelta(days=2)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert imports_resume_task() == 1
    with tenant_context(tenant):
        stalled.refresh_from_db()
        assert stalled.state == "done"
        assert Lead.objects.count() == 1
        assert not ImportJob.objects.filter(pk=draft.pk).exists()
    assert not (tmp_path / draft_file).exists()
    with time_machine.travel(timezone.now() + timedelta(days=40)):
        imports_resume_task()
    with tenant_context(tenant):
        stalled.refresh_from_db()
        assert stalled.file == ""
        assert stalled.created_count == 1  # the report stays
