"""Simple mode: inquiries become deals with contacts, leads hidden, switching keeps data."""

from __future__ import annotations

from contacts.models import Contact
from crm.models import Tenant
from crm.navigation import nav_for
from crm.tenancy import tenant_context
from deals.models import Deal, Pipeline
from intake.services import inquiry_register
from leads.models import Lead
from tests.deals.factories import make_contact
from tests.leads.factories import make_lead


def _simple(tenant: Tenant) -> None:
    Tenant.objects.filter(pk=tenant.pk).update(mode=Tenant.Mode.SIMPLE)
    tenant.refresh_from_db()


def test_in_simple_mode_an_inquiry_is_a_deal_with_its_contact(tenant, manager):
    _simple(tenant)
    manager.tenant.refresh_from_db()
    with tenant_context(tenant):
        result = inquiry_register(
            actor=manager, data={"name": "Анна", "phone": "8 916 700-00-01"}, source="web_form"
        )
        assert result.outcome == "created"
        deal = result.deal
        assert isinstance(deal, Deal)
        sales = Pipeline.objects.get(is_default=True)
        assert deal.pipeline == sales
        assert deal.stage == sales.stages.order_by("position").first()
        assert deal.contact.first_name == "Анна"
        assert deal.contact.phones == ["8 916 700-00-01"]
        assert deal.owner == manager
        assert Lead.objects.count() == 0


def test_simple_mode_reuses_a_known_contact_by_phone_in_another_format(tenant, manager):
    _simple(tenant)
    manager.tenant.refresh_from_db()
    with tenant_context(tenant):
        known = make_contact(manager, phones=["+7 (916) 700-00-02"])
        result = inquiry_register(
            actor=manager, data={"name": "Другое имя", "phone": "89167000002"}, source="manual"
        )
        assert result.outcome == "repeat"
        assert result.deal.contact == known
        assert Contact.objects.count() == 1


def test_in_classic_mode_an_inquiry_is_a_lead(tenant, manager):
    with tenant_context(tenant):
        result = inquiry_register(
            actor=manager, data={"name": "Анна", "email": "a@example.com"}, source="manual"
        )
        assert isinstance(result.lead, Lead)
        assert result.deal is None
        assert Deal.objects.count() == 0


def test_simple_mode_hides_leads_from_the_navigation_and_urls(client_for, tenant, manager):
    with tenant_context(tenant):
        lead = make_lead(manager)
    client = client_for(manager)
    assert "leads:list" in [i.url_name for i in nav_for(manager)]
    _simple(tenant)
    manager.tenant.refresh_from_db()
    assert {i.url_name for i in nav_for(manager)} & {
        "leads:inbox",
        "leads:list",
        "leads:kanban",
    } == set()
    for url in ("leads/", "leads/inbox/", "leads/board/", f"leads/{lead.pk}/", "leads/new/"):
        assert client.get(f"/{tenant.slug}/{url}").status_code == 404, url
    page = client.get(f"/{tenant.slug}/deals/").content.decode()
    assert 'data-testid="quick-deal"' in page
    assert f"/{tenant.slug}/leads/" not in client.get(f"/{tenant.slug}/deals/").content.decode()


def test_the_quick_deal_makes_a_deal_and_refuses_bad_input(client_for, tenant, manager):
    _simple(tenant)
    client = client_for(manager)
    response = client.post(
        f"/{tenant.slug}/deals/quick/", {"name": "Иван", "contact": "+7 916 700-00-03"}
    )
    assert response.status_code == 302
    with tenant_context(tenant):
        deal = Deal.objects.select_related("contact").get()
        assert response["Location"].endswith(f"/deals/{deal.pk}/")
        assert deal.contact.first_name == "Иван"
    response = client.post(f"/{tenant.slug}/deals/quick/", {"name": "Иван", "contact": "a@"})
    assert response.status_code == 400
    with tenant_context(tenant):
        assert Deal.objects.count() == 1


def test_the_quick_deal_is_simple_modes_only(client_for, tenant, manager, marketer):
    response = client_for(manager).post(
        f"/{tenant.slug}/deals/quick/", {"name": "Иван", "contact": "+7 916 700-00-04"}
    )
    assert response.status_code == 404
    _simple(tenant)
    response = client_for(marketer).post(
        f"/{tenant.slug}/deals/quick/", {"name": "Иван", "contact": "+7 916 700-00-04"}
    )
    assert response.status_code == 403
    with tenant_context(tenant):
        assert Deal.objects.count() == 0


def test_switching_modes_keeps_the_leads(client_for, tenant, admin):
    with tenant_context(tenant):
        lead = make_lead(admin, title="Остаётся")
    client = client_for(admin)
    general = {
        "name": tenant.name,
        "language": tenant.language,
        "default_region": tenant.default_region,
        "time_zone": tenant.time_zone,
        "currency": tenant.currency,
    }
    assert (
        client.post(f"/{tenant.slug}/settings/general/", {**general, "mode": "simple"}).status_code
        == 302
    )
    assert client.get(f"/{tenant.slug}/leads/{lead.pk}/").status_code == 404
    with tenant_context(tenant):
        assert Lead.objects.filter(pk=lead.pk, title="Остаётся").exists()
    assert (
        client.post(f"/{tenant.slug}/settings/general/", {**general, "mode": "classic"}).status_code
        == 302
    )
    response = client.get(f"/{tenant.slug}/leads/")
    assert "Остаётся" in response.content.decode()
    assert client.get(f"/{tenant.slug}/leads/{lead.pk}/").status_code == 200
