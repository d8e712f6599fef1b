"""The demo workspace's contacts and companies: enough to look real, duplicates to merge."""

from __future__ import annotations

import pytest

from contacts import selectors
from contacts.models import Company, Contact
from crm.demo import seed_demo
from crm.models import Membership
from crm.tenancy import tenant_context
from leads import selectors as lead_selectors


@pytest.mark.django_db
def test_demo_has_contacts_companies_duplicates_and_related_leads():
    tenant, created = seed_demo()
    assert created
    with tenant_context(tenant):
        admin = Membership.objects.select_related("role").get(role__kind="admin")
        assert Company.objects.count() >= 10
        contacts = list(Contact.objects.all())
        assert len(contacts) >= 24
        with_duplicates = [c for c in contacts if selectors.likely_duplicates(c, actor=admin)]
        assert len(with_duplicates) >= 6  # three pairs, each seeing the other
        assert any(lead_selectors.party_leads(c, actor=admin) for c in contacts)
        romashka = Company.objects.get(name="ООО «Ромашка»")
        assert selectors.likely_duplicates(romashka, actor=admin)
