"""`manage.py import_file`: the wizard's import from the command line, for migrations."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from crm.tenancy import tenant_context
from leads.models import Lead

CSV = (
    "ID;Имя;Телефон;E-mail\r\n"
    "101;Анна;+7 912 345-67-89;anna@example.com\r\n"
    "102;Без контакта;;\r\n"
    "103;Анна снова;8 (912) 345-67-89;\r\n"
    "104;Вера;89120001122;vera@example.com\r\n"
).encode("cp1251")


def test_the_command_imports_and_writes_the_rejected_rows_next_to_the_file(
    tenant, admin, tmp_path, settings
):
    settings.MEDIA_ROOT = tmp_path / "media"
    path = tmp_path / "base.csv"
    path.write_bytes(CSV)
    out = io.StringIO()
    call_command(
        "import_file",
        str(path),
        tenant=tenant.slug,
        entity="leads",
        policy="skip",
        stdout=out,
        stderr=io.StringIO(),
    )
    assert "created 2, updated 0, skipped 1, rejected 1" in out.getvalue()
    rejected = (tmp_path / "base.rejected.csv").read_bytes().decode("utf-8-sig").splitlines()
    assert rejected[0].split(";")[2:] == ["ID", "Имя", "Телефон", "E-mail"]
    assert rejected[1].split(";")[1:4] == ["3", "102", "Без контакта"]
    with tenant_context(tenant):
        assert sorted(Lead.objects.values_list("name", flat=True)) == ["Анна", "Вера"]


def test_the_command_refuses_an_unknown_workspace_and_a_missing_file(tenant, tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        call_command("import_file", str(tmp_path / "none.csv"), tenant=tenant.slug, entity="leads")
    path = tmp_path / "base.csv"
    path.write_bytes(CSV)
    with pytest.raises(CommandError, match="No workspace"):
        call_command("import_file", str(path), tenant="nope", entity="leads")
