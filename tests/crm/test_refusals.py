"""A refused htmx request answers in place: the message for the page's message area
(#toasts), never an error page swapped into the request's target. Plain requests keep their
pages, or go back where they came from with the message."""

from __future__ import annotations

from django.test import Client

from crm.models import TimelineEvent
from crm.tenancy import tenant_context
from leads.models import Lead
from tests.leads.factories import make_lead


def _is_in_place_message(response, status: int, text: str) -> None:
    assert response.status_code == status
    assert response["HX-Retarget"] == "#toasts"
    assert response["HX-Reswap"] == "beforeend"
    body = response.content.decode()
    assert 'data-testid="refusal"' in body
    assert text in body
    assert "<html" not in body


def test_a_refused_htmx_post_gets_the_message_in_place(tenant, admin, marketer, client_for):
    with tenant_context(tenant):
        lead = make_lead(admin, owner=None)
    response = client_for(marketer, "en").post(
        f"/{tenant.slug}/leads/{lead.pk}/take/", HTTP_HX_REQUEST="true"
    )
    _is_in_place_message(response, 403, "Your role does not allow taking leads.")
    with tenant_context(tenant):
        assert Lead.objects.get(pk=lead.pk).owner_id is None


def test_a_refused_plain_post_still_gets_the_page(tenant, admin, marketer, client_for):
    with tenant_context(tenant):
        lead = make_lead(admin, owner=None)
    response = client_for(marketer, "en").post(f"/{tenant.slug}/leads/{lead.pk}/take/")
    assert response.status_code == 403
    assert "<html" in response.content.decode()
    assert "Your role does not allow taking leads." in response.content.decode()
    assert "HX-Retarget" not in response


def test_a_missing_record_for_htmx_is_a_message_too(tenant, manager, client_for):
    response = client_for(manager, "en").get(
        f"/{tenant.slug}/leads/987654/edit/", HTTP_HX_REQUEST="true"
    )
    _is_in_place_message(response, 404, "reload the page")
    plain = client_for(manager, "en").get(f"/{tenant.slug}/leads/987654/edit/")
    assert plain.status_code == 404
    assert "<html" in plain.content.decode()


def test_a_stale_csrf_token_for_htmx_is_a_message(tenant, admin, manager):
    client = Client(enforce_csrf_checks=True)
    client.force_login(manager.user)
    client.cookies["django_language"] = "en"  # the check runs before the workspace's language
    with tenant_context(tenant):
        lead = make_lead(admin, owner=None)
    response = client.post(f"/{tenant.slug}/leads/{lead.pk}/take/", HTTP_HX_REQUEST="true")
    _is_in_place_message(response, 403, "This page is out of date")
    plain = client.post(f"/{tenant.slug}/leads/{lead.pk}/take/")
    assert plain.status_code == 403
    assert "HX-Retarget" not in plain


def test_a_domain_rule_no_view_handles_answers_in_place_or_back(tenant, admin, client_for):
    """`unarchive` leaves its DomainError to crm.middleware.RefusalMiddleware."""
    with tenant_context(tenant):
        lead = make_lead(admin)  # not archived
    url = f"/{tenant.slug}/leads/{lead.pk}/unarchive/"
    client = client_for(admin, "en")
    _is_in_place_message(
        client.post(url, HTTP_HX_REQUEST="true"), 400, "This lead is not archived."
    )
    card = f"http://testserver/{tenant.slug}/leads/{lead.pk}/"
    back = client.post(url, HTTP_REFERER=card)
    assert back.status_code == 302
    assert back["Location"] == card
    shown = client.get(card)
    assert [str(m) for m in shown.context["messages"]] == ["This lead is not archived."]
    # Without a page of ours to go back to: a page with the message.
    page = client.post(url, HTTP_REFERER="https://evil.example/")
    assert page.status_code == 400
    assert "This lead is not archived." in page.content.decode()
    with tenant_context(tenant):
        assert not TimelineEvent.objects.filter(kind="lead.unarchived").exists()
