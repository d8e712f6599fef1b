"""Files kept with records go when the records are deleted for good (the trash purges);
a rolled-back purge keeps them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from contacts.models import Contact
from contacts.services import contact_create, parties_purge_trash, record_delete
from crm.attachments import attachment_store
from crm.models import Attachment
from crm.tenancy import tenant_context
from leads import services
from leads.models import Lead
from tests.leads.factories import make_lead


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def _kept(record, name: str) -> Attachment:
    return attachment_store(
        target=record, filename=name, content_type="text/plain", payload=b"price list"
    )


def test_a_purged_lead_takes_its_files_with_it_and_others_stay(
    tenant, admin, django_capture_on_commit_callbacks
):
    with tenant_context(tenant):
        old, kept = make_lead(admin), make_lead(admin)
        gone, stays = _kept(old, "old.txt"), _kept(kept, "kept.txt")
        storage = gone.file.storage
        services.lead_delete(actor=admin, lead=old)
        Lead.objects.filter(pk=old.pk).update(deleted_at=timezone.now() - timedelta(days=31))
        with django_capture_on_commit_callbacks(execute=True):
            assert services.leads_purge_trash(tenant=tenant) == 1
        assert list(Attachment.objects.values_list("pk", flat=True)) == [stays.pk]
    assert not storage.exists(gone.file.name)
    assert storage.exists(stays.file.name)


def _purge_then_fail(tenant) -> None:
    with transaction.atomic():
        parties_purge_trash(tenant=tenant)
        raise RuntimeError("the purge fails after the files' rows went")


def test_a_purged_contact_takes_its_files_and_a_rollback_keeps_them(
    tenant, admin, django_capture_on_commit_callbacks
):
    with tenant_context(tenant):
        contact = contact_create(actor=admin, data={"first_name": "Ирина"}, owner=admin)
        kept = _kept(contact, "договор.txt")
        record_delete(actor=admin, record=contact)
        Contact.objects.filter(pk=contact.pk).update(deleted_at=timezone.now() - timedelta(days=31))
        with pytest.raises(RuntimeError):
            _purge_then_fail(tenant)
        assert Attachment.objects.filter(pk=kept.pk).exists()
        assert kept.file.storage.exists(kept.file.name)
        with django_capture_on_commit_callbacks(execute=True):
            assert parties_purge_trash(tenant=tenant) == 1
        assert not Attachment.objects.exists()
    assert not kept.file.storage.exists(kept.file.name)
