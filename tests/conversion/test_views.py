"""The conversion dialog, the converted card, bulk conversion and the lists' query counts."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts.models import Company, Contact
from crm.tenancy import tenant_context
from deals.models import Deal, Pipeline
from leads.conversion import Target, lead_convert
from leads.models import Lead
from tests.deals.factories import make_contact
from tests.leads.factories import make_lead


def _url(tenant, lead) -> str:
    return f"/{tenant.slug}/leads/{lead.pk}/convert/"


def test_the_dialog_is_prefilled_and_shows_the_matching_contact(client_for, tenant, manager):
    with tenant_context(tenant):
        known = make_contact(manager, last_name="Смирнова", phones=["+7 916 222-33-44"])
        lead = make_lead(manager, name="Ольга", phone="8 (916) 222 33 44", company_name="Ромашка")
    response = client_for(manager).get(_url(tenant, lead), headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html  # the form alone, for the dialog
    assert response.context["match_contact"] == known
    assert 'data-testid="contact-match"' in html
    form = response.context["form"]
    assert form.initial["contact_mode"] == "match"
    assert form.initial["company_mode"] == "new"
    assert form.initial["first_name"] == "Ольга"


def test_posting_the_dialog_converts_and_the_card_links_what_it_became(client_for, tenant, manager):
    with tenant_context(tenant):
        lead = make_lead(manager, name="Ольга", company_name="Ромашка")
        sales = Pipeline.objects.get(is_default=True)
    client = client_for(manager)
    response = client.post(
        _url(tenant, lead),
        {
            "contact_mode": "new",
            "last_name": "Иванова",
            "first_name": "Ольга",
            "phone": lead.phone,
            "company_mode": "new",
            "company_name": "ООО Ромашка",
            "tax_id": "7707083893",
            "make_deal": "on",
            "deal_title": "Окна для Ромашки",
            "pipeline": sales.pk,
        },
    )
    assert response.status_code == 302
    with tenant_context(tenant):
        lead = Lead.objects.select_related("contact", "company", "deal").get(pk=lead.pk)
    assert response["Location"] == f"/{tenant.slug}/deals/{lead.deal.pk}/"  # lands on the deal
    with tenant_context(tenant):
        assert lead.state == "converted"
        assert lead.contact.last_name == "Иванова"
        assert lead.company.tax_id == "7707083893"
        assert lead.deal.title == "Окна для Ромашки"
    card = client.get(f"/{tenant.slug}/leads/{lead.pk}/").content.decode()
    assert 'data-testid="converted-into"' in card
    assert f"/contacts/{lead.contact.pk}/" in card
    assert f"/companies/{lead.company.pk}/" in card
    assert f"/deals/{lead.deal.pk}/" in card
    assert 'data-testid="convert"' not in card
    assert 'data-testid="edit-details"' not in card
    # The activities moved on: the card says where, instead of "no activities yet".
    assert "дела лида перешли в сделку" in card


def test_htmx_success_redirects_the_whole_page(client_for, tenant, manager):
    with tenant_context(tenant):
        lead = make_lead(manager)
    response = client_for(manager).post(
        _url(tenant, lead),
        {"contact_mode": "new", "company_mode": "none", "first_name": "Анна"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    with tenant_context(tenant):
        contact = Lead.objects.get(pk=lead.pk).contact
    # No deal made: the manager lands on the new contact.
    assert response["HX-Redirect"] == f"/{tenant.slug}/contacts/{contact.pk}/"


def test_bad_input_shows_the_form_again_and_writes_nothing(client_for, tenant, manager):
    with tenant_context(tenant):
        lead = make_lead(manager)
    client = client_for(manager)
    response = client.post(
        _url(tenant, lead), {"contact_mode": "none", "company_mode": "new", "company_name": ""}
    )
    assert response.status_code == 400
    response = client.post(_url(tenant, lead), {"contact_mode": "none", "company_mode": "none"})
    assert response.status_code == 400
    with tenant_context(tenant):
        assert Lead.objects.get(pk=lead.pk).state == "new"
        assert Contact.objects.count() == Company.objects.count() == Deal.objects.count() == 0


def test_wrong_methods_are_refused(client_for, tenant, manager):
    with tenant_context(tenant):
        lead = make_lead(manager)
    assert client_for(manager).put(_url(tenant, lead)).status_code == 405


def test_roles_without_the_right_get_403_and_strangers_404(
    client_for, tenant, other_tenant, manager, marketer, other_admin
):
    with tenant_context(tenant):
        lead = make_lead(manager)
    assert client_for(marketer).get(_url(tenant, lead)).status_code == 403
    assert client_for(marketer).post(_url(tenant, lead), {"contact_mode": "new"}).status_code == 403
    assert client_for(other_admin).get(_url(tenant, lead)).status_code == 404
    with tenant_context(other_tenant):
        foreign = make_lead(other_admin)
    assert client_for(manager).get(_url(tenant, foreign)).status_code == 404
    with tenant_context(tenant):
        assert Lead.objects.get(pk=lead.pk).state == "new"


def test_a_converted_lead_cannot_be_converted_again(client_for, tenant, manager):
    with tenant_context(tenant):
        lead = make_lead(manager)
        lead_convert(actor=manager, lead=lead, deal={})
    response = client_for(manager).post(_url(tenant, lead), {"contact_mode": "new"})
    assert response.status_code == 302
    with tenant_context(tenant):
        assert Deal.objects.count() == 1
        assert Contact.objects.count() == 0


def test_bulk_conversion_from_the_list_reports_skips(client_for, tenant, manager, admin):
    with tenant_context(tenant):
        mine = make_lead(manager, name="Анна")
        theirs = make_lead(admin)
    response = client_for(manager).post(
        f"/{tenant.slug}/leads/bulk/",
        {"ids": [mine.pk, theirs.pk], "action": "convert"},
        follow=True,
    )
    texts = [str(m) for m in response.context["messages"]]
    assert texts[0].endswith(" 1.")
    with tenant_context(tenant):
        mine.refresh_from_db()
        assert mine.state == "converted"
        assert mine.deal.contact.first_name == "Анна"
        assert Lead.objects.get(pk=theirs.pk).state == "new"


def test_a_director_sees_skips_with_reasons_in_bulk(client_for, tenant, manager, director):
    with tenant_context(tenant):
        done = make_lead(manager)
        lead_convert(actor=manager, lead=done, contact=Target())
        fresh = make_lead(manager)
    response = client_for(director).post(
        f"/{tenant.slug}/leads/bulk/",
        {"ids": [done.pk, fresh.pk], "action": "convert"},
        follow=True,
    )
    texts = [str(m) for m in response.context["messages"]]
    assert texts[0].endswith(" 1.")
    assert any(done.title in t for t in texts[1:])


def test_lists_and_board_keep_a_constant_query_count_with_converted_leads(
    client_for, tenant, admin, django_assert_num_queries
):
    client = client_for(admin)
    with tenant_context(tenant):
        lead_convert(actor=admin, lead=make_lead(admin), contact=Target(), deal={})
        make_lead(admin)  # an open card too: the board reads cards only when it has some
    pages = [f"/{tenant.slug}/leads/", f"/{tenant.slug}/leads/board/", f"/{tenant.slug}/deals/"]
    counts = {}
    for page in pages:
        client.get(page)
        with CaptureQueriesContext(connection) as few:
            client.get(page)
        counts[page] = len(few.captured_queries)
    with tenant_context(tenant):
        for _ in range(6):
            lead_convert(
                actor=admin,
                lead=make_lead(admin, company_name="Ромашка"),
                contact=Target(),
                company=Target(),
                deal={},
            )
            make_lead(admin)
    for page in pages:
        with django_assert_num_queries(counts[page]):
            client.get(page)


def test_the_histories_link_the_lead_and_what_it_became(client_for, tenant, manager):
    with tenant_context(tenant):
        lead = make_lead(manager, title="Окна")
        result = lead_convert(actor=manager, lead=lead, contact=Target(), deal={})
    client = client_for(manager)
    card = client.get(f"/{tenant.slug}/leads/{lead.pk}/").content.decode()
    assert f'href="/{tenant.slug}/contacts/{result.contact.pk}/"' in card
    assert f'href="/{tenant.slug}/deals/{result.deal.pk}/"' in card
    deal_card = client.get(f"/{tenant.slug}/deals/{result.deal.pk}/").content.decode()
    assert "сконвертировал(а) лид в эту сделку:" in deal_card
    # The "source lead" field and the history's "converted" line (the lead's own events,
    # carried over into the deal's history, link to it as well: data-testid="carried").
    assert deal_card.count(f'href="/{tenant.slug}/leads/{lead.pk}/">') == 2
    assert 'data-testid="carried"' in deal_card
    assert f'<a href="/{tenant.slug}/leads/{lead.pk}/">Окна</a>' in deal_card
