"""Helpers of the import tests: upload a file and run its import to the end."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from crm.models import Membership
from crm.tenancy import tenant_context
from transfer import services
from transfer.models import ImportJob


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def run_import(django_capture_on_commit_callbacks) -> Callable[..., ImportJob]:
    """Upload `content` as `name` for `member`, map it (`mapping`: column -> key, else as
    detected), start it with `policy`/`match_by`/`defaults` and run it to the end."""

    def run(
        member: Membership,
        content: bytes,
        *,
        entity: str = "leads",
        name: str = "base.csv",
        mapping: dict[int, str] | None = None,
        policy: str = "skip",
        match_by: str = "contacts",
        defaults: dict[str, Any] | None = None,
        **configure: Any,
    ) -> ImportJob:
        with tenant_context(member.tenant):
            job = services.import_upload(
                actor=member, entity=entity, upload=SimpleUploadedFile(name, content)
            )
            if mapping is not None or configure:
                chosen = (
                    mapping if mapping is not None else {int(i): k for i, k in job.mapping.items()}
                )
                services.import_configure(actor=member, job=job, mapping=chosen, **configure)
            with django_capture_on_commit_callbacks(execute=True):
                services.import_start(
                    actor=member, job=job, policy=policy, match_by=match_by, defaults=defaults
                )
            job.refresh_from_db()
        return job

    return run
