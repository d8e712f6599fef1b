"""End to end in a real browser: the import wizard (issue 16) — a Bitrix24 leads export in
windows-1251 from upload to report, the rejected rows' file and the undo; a large file's
live progress bar, cancelled mid-run."""

from __future__ import annotations

import csv
import io
import re
import time
from functools import partial
from pathlib import Path

import pytest
from django.utils import translation
from django.utils.translation import gettext
from playwright.sync_api import expect

from crm.models import Membership
from crm.sources import LeadSource
from crm.tenancy import tenant_context
from leads.models import Lead
from tests.e2e.pages import log_in
from tests.factories import make_tenant
from transfer.models import ImportJob
from transfer.services import field_labels

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FILES = Path(__file__).resolve().parents[1] / "transfer" / "files"
NO_WAY_TO_REACH = "No phone, e-mail or messenger: there is no way to reach the person."


def _russian(text: str) -> str:
    """What the Russian-speaking workspace shows for an interface string."""
    with translation.override("ru"):
        return gettext(text)


def _label(choice) -> str:
    """A choice's label in the Russian-speaking workspace."""
    with translation.override("ru"):
        return str(choice.label)


def _field_label(tenant, key: str) -> str:
    """The label of an importable lead field in the Russian-speaking workspace."""
    with tenant_context(tenant), translation.override("ru"):
        return field_labels("leads")[key]


@pytest.fixture
def workspace(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    tenant = make_tenant("sklad", name="Склад")  # speaks Russian, as every new workspace
    with tenant_context(tenant):
        admin = Membership.objects.select_related("user").get(role__kind="admin")
    return {"tenant": tenant, "admin": admin}


_log_in = partial(log_in, workspace="sklad")


def _open_imports(page, admin: Membership) -> None:
    page.get_by_role("button", name=str(admin.user)).click()  # the member menu
    page.click("[data-testid=imports-link]")
    page.wait_for_url(re.compile(r"/sklad/transfer/imports/$"))


def _upload_leads(page, path: Path) -> None:
    form = page.locator("[data-testid=upload-form]")
    form.locator("select[name=entity]").select_option("leads")
    form.locator("input[name=file]").set_input_files(path)
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"/sklad/transfer/imports/\d+/columns/$"))


def _field_of(page, header: str):
    """The field choice beside the file's column `header`."""
    row = page.locator("[data-testid=columns] tbody tr").filter(
        has=page.locator("td:first-child", has_text=re.compile(rf"^{re.escape(header)}$"))
    )
    return row.locator("select")


def _count(page, name: str) -> int:
    return int(page.locator(f"[data-testid=count-{name}]").inner_text())


def test_an_admin_imports_a_bitrix24_export_and_undoes_it(new_page, shots, workspace):
    tenant = workspace["tenant"]
    page = new_page()
    _log_in(page, workspace["admin"].user.email)
    _open_imports(page, workspace["admin"])
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    page.screenshot(path=shots / "01-imports.png", full_page=True)

    _upload_leads(page, FILES / "bitrix24_leads_cp1251.csv")
    expect(page.locator("main h1")).to_contain_text("bitrix24_leads_cp1251.csv")
    # Read as windows-1251 with ";" (nothing asked), the Russian headers matched to fields.
    expect(page.locator("select[name=encoding]")).to_have_value("windows-1251")
    expect(page.locator("select[name=delimiter]")).to_have_value(";")
    expect(page.locator("select[name=date_order]")).to_have_value("dmy")
    expect(_field_of(page, "Рабочий телефон")).to_have_value("phone")
    expect(_field_of(page, "Рабочий телефон").locator("option:checked")).to_have_text(
        _field_label(tenant, "phone")
    )
    expect(_field_of(page, "Мобильный телефон")).to_have_value("phone")
    expect(_field_of(page, "Рабочий e-mail")).to_have_value("email")
    expect(_field_of(page, "Имя")).to_have_value("first_name")
    expect(_field_of(page, "Статус")).to_have_value("status")
    # The first values beside each column, decoded right.
    expect(page.locator("[data-testid=columns]")).to_contain_text("Ковалёва")
    page.screenshot(path=shots / "02-columns.png", full_page=True)

    page.click("[data-testid=columns-next]")
    page.wait_for_url(re.compile(r"/sklad/transfer/imports/\d+/check/$"))
    rows = page.locator("[data-testid=preview-row]")
    expect(rows).to_have_count(20)
    bad = page.locator("[data-testid=preview-row].table-danger")
    expect(bad).to_have_count(1)
    # Record 3 (file line 4, "Лид #1056"): no phone, e-mail or messenger.
    expect(bad.locator("td").first).to_have_text("4")
    expect(bad).to_contain_text(_russian(NO_WAY_TO_REACH))
    expect(page.locator("[data-testid=preview-errors]")).to_be_visible()
    # Row 2 as it will be read: the person's name, the source by its label (not its code).
    first = rows.first
    expect(first).to_contain_text("Ковалёва")
    expect(first).to_contain_text("anna.kovaleva@mail.ru")
    expect(first).to_contain_text(_label(LeadSource.WEB_FORM))
    expect(first).not_to_contain_text(LeadSource.WEB_FORM.value)
    page.screenshot(path=shots / "03-preview.png", full_page=True)
    bad.locator("td").last.scroll_into_view_if_needed()
    page.screenshot(path=shots / "03b-preview-error.png")

    # Skip duplicates, found by phone or e-mail: the wizard's defaults.
    expect(page.locator("input[name=policy][value=skip]")).to_be_checked()
    expect(page.locator("select[name=match_by]")).to_have_value("contacts")
    page.click("[data-testid=run]")
    page.wait_for_url(re.compile(r"/sklad/transfer/imports/\d+/$"))
    expect(page.locator("[data-testid=import-state]")).to_have_text(_label(ImportJob.State.DONE))
    expect(page.locator("[data-testid=count-created]")).to_have_text("17")
    expect(page.locator("[data-testid=count-updated]")).to_have_text("0")
    expect(page.locator("[data-testid=count-skipped]")).to_have_text("2")
    expect(page.locator("[data-testid=count-rejected]")).to_have_text("1")
    rejected = page.locator("[data-testid=rejected] tbody tr")
    expect(rejected).to_have_count(1)
    expect(rejected.locator("td").first).to_have_text("4")
    expect(rejected).to_contain_text("Лид #1056")
    page.screenshot(path=shots / "04-report.png", full_page=True)
    with tenant_context(tenant):
        job = ImportJob.objects.get()
        assert Lead.objects.filter(deleted_at=None).count() == 17

    with page.expect_download() as download:
        page.click("[data-testid=download-rejected]")
    assert download.value.suggested_filename == "bitrix24_leads_cp1251.rejected.csv"
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    header, *rows_back = csv.reader(io.StringIO(text), delimiter=";")
    assert header[:3] == [_russian("Error"), _russian("Row"), "ID"]
    assert "Рабочий телефон" in header
    assert len(rows_back) == 1
    row = rows_back[0]
    assert row[:4] == [_russian(NO_WAY_TO_REACH), "4", "1056", "Не обработан"]
    assert "Лид #1056" in row

    page.click("[data-nav=leads]")
    page.wait_for_url(re.compile(r"/sklad/leads/"))
    expect(page.locator("[data-testid=lead-table]")).to_contain_text("Ковалёва")

    page.go_back()
    page.wait_for_url(re.compile(rf"/sklad/transfer/imports/{job.pk}/$"))
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("[data-testid=import-undo]")
    expect(page.locator("[data-testid=undone]")).to_be_visible()
    expect(page.locator("[data-testid=import-state]")).to_have_text(_label(ImportJob.State.UNDONE))
    expect(page.locator("[data-testid=import-undo]")).to_have_count(0)
    page.screenshot(path=shots / "05-undone.png", full_page=True)
    page.click("[data-nav=leads]")
    page.wait_for_url(re.compile(r"/sklad/leads/"))
    expect(page.locator("#lead-rows tr.empty")).to_have_count(1)
    expect(page.locator("[data-testid=lead-table]")).not_to_contain_text("Ковалёва")
    page.screenshot(path=shots / "06-leads-gone.png", full_page=True)
    with tenant_context(tenant):
        assert Lead.objects.filter(deleted_at=None).count() == 0
        assert Lead.objects.count() == 17  # in the trash, where the undo puts them
        assert ImportJob.objects.get(pk=job.pk).state == ImportJob.State.UNDONE


def _large_file(path: Path, rows: int) -> Path:
    """A leads file of `rows` rows: first one with no way to reach, then distinct people
    (a phone and an e-mail each)."""
    lines = ["Имя;Фамилия;Мобильный телефон;E-mail", "Без;Контактов;;"]
    lines += [
        f"Клиент;Номер {n};+7 916 {n // 10_000:03d}-{n // 100 % 100:02d}-{n % 100:02d};"
        f"client{n}@example.com"
        for n in range(1, rows)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


ROWS = 30_000


@pytest.fixture
def stop_runs(workspace):
    """Whatever the test's end, no import is left running in a server thread when the
    database is flushed."""
    yield
    tenant = workspace["tenant"]
    with tenant_context(tenant):
        ImportJob.objects.filter(state=ImportJob.State.RUNNING).update(cancel_requested=True)
    for _attempt in range(60):
        with tenant_context(tenant):
            if not ImportJob.objects.filter(state=ImportJob.State.RUNNING).exists():
                return
        time.sleep(0.5)


# The run goes on in a thread of the live server, beside the page's requests: SQLite's
# in-memory test database (shared cache) answers "database table is locked" to one of
# them instead of waiting, so this runs on PostgreSQL (required in CI).
@pytest.mark.postgres
def test_a_large_import_shows_its_progress_and_is_cancelled(
    new_page, shots, workspace, settings, tmp_path, stop_runs
):
    # A thread of the server runs it, as without a broker, not the request.
    settings.BACKGROUND_INLINE = False
    tenant = workspace["tenant"]
    page = new_page()
    _log_in(page, workspace["admin"].user.email)
    _open_imports(page, workspace["admin"])
    _upload_leads(page, _large_file(tmp_path / "big.csv", ROWS))
    expect(_field_of(page, "Мобильный телефон")).to_have_value("phone")
    expect(_field_of(page, "E-mail")).to_have_value("email")
    page.click("[data-testid=columns-next]")
    page.wait_for_url(re.compile(r"/sklad/transfer/imports/\d+/check/$"))
    expect(page.locator("[data-testid=preview-row]")).to_have_count(20)
    expect(page.locator("[data-testid=preview-row].table-danger")).to_have_count(1)
    page.click("[data-testid=run]")
    page.wait_for_url(re.compile(r"/sklad/transfer/imports/\d+/$"))

    progress = page.locator("[data-testid=import-progress]")
    bar = progress.locator("[role=progressbar]")
    expect(progress.locator("[data-testid=import-state]")).to_have_text(
        _label(ImportJob.State.RUNNING)
    )
    expect(bar).not_to_have_attribute("aria-valuenow", "0", timeout=30_000)
    first = int(bar.get_attribute("aria-valuenow"))
    created = _count(page, "created")
    assert 0 < first < 100
    assert created > 0
    _wait_filled_as_it_says(page)  # the bar is seen filling, not only the figure changing
    page.screenshot(path=shots / "01-progress.png", full_page=True)
    # It moves on its own (htmx polls every second); the page is not reloaded.
    page.evaluate("window.__notReloaded = true")
    expect(bar).not_to_have_attribute("aria-valuenow", str(first), timeout=10_000)
    second = int(bar.get_attribute("aria-valuenow"))
    assert first < second < 100
    assert _count(page, "created") > created
    _wait_filled_as_it_says(page)
    assert page.evaluate("window.__notReloaded") is True
    page.screenshot(path=shots / "02-progress-moved.png", full_page=True)

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("[data-testid=import-cancel]")
    expect(page.locator("[data-testid=import-state]")).to_have_text(
        _label(ImportJob.State.CANCELLED), timeout=15_000
    )
    expect(page.locator("[data-testid=import-cancel]")).to_have_count(0)
    expect(page.locator("[data-testid=import-undo]")).to_be_visible()
    stopped = _count(page, "created")
    assert second * ROWS // 100 <= stopped + 1 < ROWS
    expect(page.locator("[data-testid=count-rejected]")).to_have_text("1")
    # Rejected by the run in the server's thread, in the workspace's language.
    expect(page.locator("[data-testid=rejected] tbody tr")).to_contain_text(
        _russian(NO_WAY_TO_REACH)
    )
    page.screenshot(path=shots / "03-cancelled.png", full_page=True)
    # The counts stay where the run stopped.
    time.sleep(2)
    page.reload()
    expect(page.locator("[data-testid=count-created]")).to_have_text(str(stopped))
    with tenant_context(tenant):
        job = ImportJob.objects.get()
        assert job.state == ImportJob.State.CANCELLED
        assert job.processed_rows < job.total_rows == ROWS
        assert job.processed_rows == job.created_count + job.rejected_count
        assert job.created_count == stopped == Lead.objects.count()


def _wait_filled_as_it_says(page) -> None:
    """Wait until the progress bar's coloured part is as wide as its figure says (±2%)."""
    page.wait_for_function(
        """() => {
          const bar = document.querySelector("[data-testid=import-progress] [role=progressbar]");
          const fill = bar.querySelector(".progress-bar").getBoundingClientRect().width;
          const shown = (fill * 100) / bar.getBoundingClientRect().width;
          return Math.abs(shown - Number(bar.getAttribute("aria-valuenow"))) <= 2;
        }"""
    )
