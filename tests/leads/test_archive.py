"""The archive: reopening an archived junk lead brings it back to the lists; archived leads
have their own list (the "Archived" preset) and come back one by one or in bulk."""

from __future__ import annotations

import re

import pytest

from crm.models import TimelineEvent
from crm.tenancy import tenant_context
from leads import selectors, services
from leads.models import Lead, LeadStatus
from tests.factories import add_member
from tests.leads.factories import make_lead


def _archived(admin, **kwargs) -> Lead:
    lead = make_lead(admin, **kwargs)
    services.lead_move(
        actor=admin, lead=lead, status=LeadStatus.objects.filter(state="junk").first()
    )
    services.lead_archive(actor=admin, lead=lead)
    return Lead.objects.get(pk=lead.pk)


def _kinds(lead: Lead) -> list[str]:
    return list(
        TimelineEvent.objects.filter(target_id=lead.pk)
        .order_by("pk")
        .values_list("kind", flat=True)
    )


def test_reopening_an_archived_lead_brings_it_back_to_the_lists(tenant, admin):
    with tenant_context(tenant):
        lead = _archived(admin, title="Вернулся")
        assert not selectors.lead_list(actor=admin).filter(pk=lead.pk).exists()
        services.lead_move(
            actor=admin,
            lead=lead,
            status=LeadStatus.objects.get(state="in_progress", is_default=True),
        )
        lead = Lead.objects.get(pk=lead.pk)
        assert lead.state == "in_progress"
        assert lead.archived_at is None
        assert selectors.lead_list(actor=admin).filter(pk=lead.pk).exists()
        assert _kinds(lead)[-2:] == ["lead.moved", "lead.unarchived"]


def test_a_move_between_junk_statuses_keeps_it_archived(tenant, admin):
    with tenant_context(tenant):
        lead = _archived(admin)
        other_junk = LeadStatus.objects.filter(state="junk").exclude(pk=lead.status_id).first()
        services.lead_move(actor=admin, lead=lead, status=other_junk)
        assert Lead.objects.get(pk=lead.pk).archived_at is not None


def test_the_archived_preset_lists_archived_leads_only(tenant, admin, manager, client_for):
    with tenant_context(tenant):
        _archived(admin, title="Старый спам")
        make_lead(admin, title="Живой")
        _archived(admin, owner=add_member(tenant, "manager"), title="Чужой архив")
        _archived(admin, owner=None, title="Ничей архив")
    url = f"/{tenant.slug}/leads/"
    live = client_for(admin, "en").get(url)
    assert [row.title for row in live.context["page"].rows] == ["Живой"]
    response = client_for(admin, "en").get(url, {"preset": "archived"})
    assert response.status_code == 200
    assert {row.title for row in response.context["page"].rows} == {
        "Старый спам",
        "Чужой архив",
        "Ничей архив",
    }
    page = response.content.decode()
    assert 'data-testid="take"' not in page  # junk out of the work: nothing to take
    assert "Archived leads" in page
    assert 'value="unarchive"' not in page  # the bar is loaded when a row is ticked
    bar = client_for(admin, "en").get(
        url, {"preset": "archived", "fragment": "bulk"}, HTTP_HX_REQUEST="true"
    )
    actions = re.findall(r'<option value="(\w+)"', bar.content.decode().split("</select>")[0])
    assert actions == ["unarchive", "delete"]
    # A manager sees the archived leads they may see: their own and unassigned ones.
    mine = client_for(manager, "en").get(url, {"preset": "archived"})
    assert [row.title for row in mine.context["page"].rows] == ["Ничей архив"]
    # The inbox does not offer the preset: archived leads are never in it.
    inbox = client_for(admin, "en").get(f"/{tenant.slug}/leads/inbox/", {"q": "x"}).content.decode()
    assert 'value="archived"' not in inbox


def test_bulk_return_from_the_archive_checks_each_lead(tenant, admin, client_for):
    lead_ = add_member(tenant, "manager")
    with tenant_context(tenant):
        mine = _archived(admin, owner=lead_, title="Мой")
        theirs = _archived(admin, owner=add_member(tenant, "manager"), title="Чужой")
        live = make_lead(admin, owner=lead_, title="Не в архиве")
    response = client_for(lead_, "en").post(
        f"/{tenant.slug}/leads/bulk/",
        {
            "ids": [mine.pk, theirs.pk, live.pk],
            "action": "unarchive",
            "next": f"/{tenant.slug}/leads/?preset=archived",
        },
        follow=True,
    )
    assert response.redirect_chain[-1][0] == f"/{tenant.slug}/leads/?preset=archived"
    messages = [str(m) for m in response.context["messages"]]
    assert messages[0] == "Done: 1."
    assert "Skipped “Не в архиве”: This lead is not archived." in messages
    assert "1 more were skipped." in messages  # the other manager's lead: not visible
    with tenant_context(tenant):
        assert Lead.objects.get(pk=mine.pk).archived_at is None
        assert Lead.objects.get(pk=theirs.pk).archived_at is not None
        assert "lead.unarchived" in _kinds(mine)


def test_roles_without_the_edit_right_cannot_return_leads(tenant, admin, marketer, client_for):
    with tenant_context(tenant):
        lead = _archived(admin)
    client = client_for(marketer, "en")
    bulk = client.post(
        f"/{tenant.slug}/leads/bulk/", {"ids": [lead.pk], "action": "unarchive"}, follow=True
    )
    assert [m.level_tag for m in bulk.context["messages"]] == ["error"]
    assert client.post(f"/{tenant.slug}/leads/{lead.pk}/unarchive/").status_code == 403
    card = client.get(f"/{tenant.slug}/leads/{lead.pk}/").content.decode()
    assert 'data-testid="archived"' in card
    assert 'data-testid="unarchive"' not in card
    with tenant_context(tenant):
        assert Lead.objects.get(pk=lead.pk).archived_at is not None


def test_the_card_returns_an_archived_lead(tenant, admin, client_for):
    with tenant_context(tenant):
        lead = _archived(admin)
    client = client_for(admin, "en")
    card = client.get(f"/{tenant.slug}/leads/{lead.pk}/").content.decode()
    assert 'data-testid="unarchive"' in card
    response = client.post(f"/{tenant.slug}/leads/{lead.pk}/unarchive/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert 'data-testid="archived"' not in response.content.decode()
    with tenant_context(tenant):
        assert Lead.objects.get(pk=lead.pk).archived_at is None


def test_another_tenants_archived_lead_is_a_404(
    tenant, other_tenant, other_admin, admin, client_for
):
    with tenant_context(other_tenant):
        lead = _archived(other_admin)
    client = client_for(admin, "en")
    assert client.post(f"/{tenant.slug}/leads/{lead.pk}/unarchive/").status_code == 404
    client.post(f"/{tenant.slug}/leads/bulk/", {"ids": [lead.pk], "action": "unarchive"})
    with tenant_context(other_tenant):
        assert Lead.objects.get(pk=lead.pk).archived_at is not None


@pytest.mark.parametrize("preset", ["archived", ""])
def test_the_archived_list_keeps_a_constant_number_of_queries(
    tenant, admin, client_for, django_assert_max_num_queries, preset
):
    with tenant_context(tenant):
        for n in range(3):
            _archived(admin, title=f"Архив {n}")
    client = client_for(admin, "en")
    client.get(f"/{tenant.slug}/leads/", {"preset": preset})  # warm the caches
    with django_assert_max_num_queries(12):
        client.get(f"/{tenant.slug}/leads/", {"preset": preset})
