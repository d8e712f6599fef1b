"""Lead pages through HTTP: inbox, list, card, forms, statuses, trash."""

from __future__ import annotations

import pytest

from crm import keyset
from crm.models import Activity, TimelineEvent
from crm.tenancy import tenant_context
from leads import selectors, services
from leads.models import Lead, LeadStatus
from tests.factories import TeamFactory
from tests.leads.factories import make_lead


@pytest.fixture
def url(tenant):
    return lambda path: f"/{tenant.slug}/leads/{path}"


def _rows(response) -> list[str]:
    return [lead.title for lead in response.context["page"].rows]


def test_inbox_shows_unassigned_new_and_my_open_leads(client_for, tenant, admin, manager, url):
    other = __import__("tests.factories", fromlist=["add_member"]).add_member(tenant, "manager")
    with tenant_context(tenant):
        make_lead(admin, owner=None, title="Свободный", source="web_form")
        make_lead(admin, owner=manager, title="Мой", source="call")
        make_lead(admin, owner=other, title="Чужой")
        junk = make_lead(admin, owner=manager, title="Мой мусор")
        services.lead_move(
            actor=admin, lead=junk, status=LeadStatus.objects.filter(state="junk").first()
        )
    response = client_for(manager).get(url("inbox/"))
    assert response.status_code == 200
    assert _rows(response) == ["Мой", "Свободный"]
    counts = {item.source: item.count for item in response.context["source_counts"]}
    assert counts == {"web_form": 1, "call": 1}


def test_search_finds_a_phone_in_any_format_and_names(client_for, tenant, admin, url):
    with tenant_context(tenant):
        make_lead(admin, title="Звонок Ивана", phone="8 (999) 123-45-67")
        make_lead(admin, title="ООО Ромашка", company_name="Ромашка", email="info@romashka.ru")
        make_lead(admin, title="Другой")
    client = client_for(admin)
    for query in ("+7 999 123 45 67", "89991234567", "9991234567"):
        assert _rows(client.get(url(""), {"q": query})) == ["Звонок Ивана"]
    assert _rows(client.get(url(""), {"q": "ромаш"})) == ["ООО Ромашка"]
    assert _rows(client.get(url(""), {"q": "INFO@romashka.ru"})) == ["ООО Ромашка"]
    assert _rows(client.get(url(""), {"q": "4567"})) == []  # too short to be a phone: a name search


def test_filters_and_presets(client_for, tenant, admin, manager, url):
    with tenant_context(tenant):
        team = TeamFactory()
        manager.team = team
        manager.save()
        make_lead(admin, owner=None, title="A", temperature="hot", source="telegram")
        make_lead(admin, owner=manager, title="B", temperature="cold", source="call")
        overdue = make_lead(admin, owner=manager, title="C")
        services.lead_move(
            actor=admin, lead=overdue, status=LeadStatus.objects.filter(state="in_progress").first()
        )
        from datetime import timedelta

        from django.utils import timezone

        services.lead_activity_add(
            actor=admin,
            lead=overdue,
            kind="call",
            subject="Перезвонить",
            due_at=timezone.now() - timedelta(hours=1),
        )
    client = client_for(admin)
    assert _rows(client.get(url(""), {"temperature": "hot"})) == ["A"]
    assert _rows(client.get(url(""), {"source": ["call", "telegram"]})) == ["B", "A"]
    assert _rows(client.get(url(""), {"owner": "none"})) == ["A"]
    assert _rows(client_for(manager).get(url(""), {"preset": "mine"})) == ["C", "B"]
    assert _rows(client.get(url(""), {"preset": "unassigned"})) == ["A"]
    assert _rows(client.get(url(""), {"preset": "overdue"})) == ["C"]
    assert _rows(client.get(url(""), {"state": "in_progress"})) == ["C"]
    assert _rows(client.get(url(""), {"team": team.pk})) == ["C", "B"]
    bad = client.get(url(""), {"created_after": "not-a-date"})
    assert bad.status_code == 200
    assert bad.context["filters"].errors


def test_keyset_pagination_walks_every_lead_once(client_for, tenant, admin, url, monkeypatch):
    with tenant_context(tenant):
        for i in range(7):
            make_lead(admin, title=f"L{i}")
    monkeypatch.setattr(keyset, "PAGE_SIZE", 3)
    client, seen, after = client_for(admin), [], None
    for _ in range(5):
        response = client.get(url(""), {"after": after} if after else {})
        seen += _rows(response)
        after = response.context["page"].next_cursor
        if not after:
            break
    assert seen == [f"L{i}" for i in reversed(range(7))]
    assert client.get(url(""), {"after": "garbage"}).status_code == 200


@pytest.mark.parametrize("path", ["inbox/", ""])
def test_lists_run_a_constant_number_of_queries(
    client_for, tenant, admin, url, path, django_assert_num_queries
):
    client = client_for(admin)
    with tenant_context(tenant):
        for _ in range(5):
            make_lead(admin, owner=None)
    client.get(url(path))
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as five:
        assert len(client.get(url(path)).context["page"].rows) == 5
    with tenant_context(tenant):
        for _ in range(45):
            make_lead(admin, owner=None)
    with django_assert_num_queries(len(five.captured_queries)):
        assert len(client.get(url(path)).context["page"].rows) == 50


def test_take_from_the_inbox_with_htmx(client_for, tenant, admin, manager, url):
    with tenant_context(tenant):
        lead = make_lead(admin, owner=None)
    response = client_for(manager).post(url(f"{lead.pk}/take/"), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert str(manager.user) in response.content.decode()
    again = client_for(admin).post(url(f"{lead.pk}/take/"), HTTP_HX_REQUEST="true")
    assert again.status_code == 409
    assert 'data-testid="take-error"' in again.content.decode()
    with tenant_context(tenant):
        assert Lead.objects.get(pk=lead.pk).owner == manager


def test_quick_lead(client_for, tenant, manager, url):
    client = client_for(manager)
    response = client.post(url("quick/"), {"name": "Позвонил", "contact": "8 912 000 11 22"})
    assert response.status_code == 302
    with tenant_context(tenant):
        lead = Lead.objects.get(name="Позвонил")
        assert lead.phone_e164 == "+79120001122"
        assert lead.owner == manager
    bad = client.post(url("quick/"), {"name": "Без связи", "contact": "нет@"})
    assert bad.status_code == 400
    assert bad.context["quick_form"].errors["contact"]


def test_full_form_shows_errors_next_to_fields_and_writes_nothing(client_for, tenant, manager, url):
    client = client_for(manager)
    response = client.post(
        url("new/"), {"title": "Без контактов", "source": "manual", "email": "broken"}
    )
    assert response.status_code == 400
    form = response.context["form"]
    assert form.errors["email"]
    response = client.post(url("new/"), {"title": "Без контактов", "source": "manual"})
    assert response.context["form"].has_error("__all__", code="no_contact")
    response = client.post(
        url("new/"),
        {
            "title": "С товарами",
            "source": "manual",
            "phone": "+7 900 1234567",
            "owner": "",
            "product_name": ["Лицензия", ""],
            "product_qty": ["2", ""],
            "product_price": ["abc", ""],
        },
    )
    assert response.status_code == 400
    with tenant_context(tenant):
        assert not Lead.objects.exists()


def test_full_form_creates_with_products(client_for, tenant, admin, manager, url):
    response = client_for(admin).post(
        url("new/"),
        {
            "title": "Сделка",
            "source": "web_form",
            "phone": "+7 900 1234567",
            "owner": manager.pk,
            "utm_source": "yandex",
            "currency": "RUB",
            "product_name": ["Лицензия", "Обучение"],
            "product_qty": ["2", "1"],
            "product_price": ["100", "50.5"],
        },
    )
    assert response.status_code == 302
    with tenant_context(tenant):
        lead = Lead.objects.get()
        assert (lead.owner, lead.utm_source, str(lead.amount)) == (manager, "yandex", "250.50")


def test_card_shows_everything_and_moves_with_htmx(client_for, tenant, admin, manager, url):
    with tenant_context(tenant):
        lead = make_lead(manager, title="Карточка", phone="+7 999 555-00-11")
        make_lead(admin, owner=manager, title="Дубль", phone="8 999 555 00 11")
        junk = LeadStatus.objects.filter(state="junk").last()
    client = client_for(manager)
    page = client.get(url(f"{lead.pk}/")).content.decode()
    assert "Карточка" in page
    assert "Дубль" in page  # likely duplicates
    response = client.post(url(f"{lead.pk}/move/"), {"status": junk.pk}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response.content.decode().lstrip().startswith('<div id="lead-card"')
    new_status = LeadStatus.objects.none()
    with tenant_context(tenant):
        new_status = LeadStatus.objects.get(state="new")
    refused = client.post(
        url(f"{lead.pk}/move/"), {"status": new_status.pk}, HTTP_HX_REQUEST="true"
    )
    assert refused.status_code == 409
    assert 'data-testid="card-error"' in refused.content.decode()
    with tenant_context(tenant):
        assert Lead.objects.get(pk=lead.pk).status == junk


def test_inline_edit_and_activities(client_for, tenant, manager, url):
    with tenant_context(tenant):
        lead = make_lead(manager, title="Старое")
    client = client_for(manager)
    form = client.get(url(f"{lead.pk}/edit/"), HTTP_HX_REQUEST="true")
    assert form.content.decode().lstrip().startswith("<form")
    saved = client.post(
        url(f"{lead.pk}/edit/"),
        {
            "title": "Новое",
            "phone": lead.phone,
            "source": "manual",
            "currency": "RUB",
            "owner": manager.pk,
        },
        HTTP_HX_REQUEST="true",
    )
    assert saved.status_code == 200
    assert 'id="lead-details"' in saved.content.decode()
    assert (
        client.post(
            url(f"{lead.pk}/activities/"), {"kind": "call", "subject": "Набрать"}
        ).status_code
        == 302
    )
    assert (
        client.post(
            url(f"{lead.pk}/activities/"), {"kind": "call"}, HTTP_HX_REQUEST="true"
        ).status_code
        == 400
    )
    with tenant_context(tenant):
        lead.refresh_from_db()
        assert lead.title == "Новое"
        assert lead.first_response_at is not None
        activity = Activity.objects.get()
    assert client.post(url(f"{lead.pk}/activities/{activity.pk}/done/")).status_code == 302
    with tenant_context(tenant):
        assert Activity.objects.get().done_at is not None
        kinds = set(TimelineEvent.objects.filter(target_id=lead.pk).values_list("kind", flat=True))
        assert {"lead.changed", "activity.created", "activity.done"} <= kinds


def test_trash_page_and_restore(client_for, tenant, admin, url):
    with tenant_context(tenant):
        lead = make_lead(admin, title="Удалённый")
    client = client_for(admin)
    assert client.post(url(f"{lead.pk}/delete/")).status_code == 302
    assert client.get(url(f"{lead.pk}/")).status_code == 404
    assert "Удалённый" in client.get(url("trash/")).content.decode()
    assert client.post(url(f"{lead.pk}/restore/")).status_code == 302
    assert client.get(url(f"{lead.pk}/")).status_code == 200


def test_status_settings(client_for, tenant, admin, url):
    client = client_for(admin)
    assert client.get(url("settings/statuses/")).status_code == 200
    response = client.post(
        url("settings/statuses/"),
        {"name": "Встреча назначена", "color": "#123456", "state": "in_progress", "position": 3},
    )
    assert response.status_code == 302
    with tenant_context(tenant):
        status = LeadStatus.objects.get(name="Встреча назначена")
        assert status.color == "#123456"
    bad = client.post(
        url("settings/statuses/"), {"name": "X", "color": "red", "state": "new", "position": 1}
    )
    assert bad.status_code == 400
    client.post(
        url(f"settings/statuses/{status.pk}/"),
        {"name": "Встреча", "color": "#654321", "position": 2, "state": "junk"},
    )
    with tenant_context(tenant):
        status.refresh_from_db()
        assert (status.name, status.state) == ("Встреча", "junk")  # unused: its stage may change


def test_an_unused_status_may_change_its_stage_a_used_one_may_not(client_for, tenant, admin, url):
    client = client_for(admin)
    client.post(
        url("settings/statuses/"),
        {"name": "Перезвонить позже", "color": "#111111", "state": "in_progress", "position": 5},
    )
    with tenant_context(tenant):
        status = LeadStatus.objects.get(name="Перезвонить позже")
    client.post(
        url(f"settings/statuses/{status.pk}/"),
        {"name": "Перезвонить позже", "color": "#111111", "state": "junk", "position": 5},
    )
    with tenant_context(tenant):
        status.refresh_from_db()
        assert status.state == "junk"
        lead = make_lead(admin)
        services.lead_move(actor=admin, lead=lead, status=status)
    client.post(
        url(f"settings/statuses/{status.pk}/"),
        {"name": "Перезвонить позже", "color": "#111111", "state": "in_progress", "position": 5},
    )
    with tenant_context(tenant):
        status.refresh_from_db()
        assert status.state == "junk"


def test_source_counts_of_a_big_backlog_are_capped_and_marked(tenant, admin, manager):
    with tenant_context(tenant):
        for source in ("web_form", "web_form", "call"):
            make_lead(admin, owner=None, source=source)
        parts = selectors.inbox_parts(selectors.inbox_base(), actor=manager)
        exact = selectors.ListParts(parts, sources=True).source_counts()
        capped = selectors.ListParts(parts, sources=True).source_counts(cap=2)
    assert [(c.source, c.count, c.at_least) for c in exact] == [
        ("web_form", 2, False),
        ("call", 1, False),
    ]
    # The newest two leads of the shared inbox, and a "+" to say there are more.
    assert [(c.source, c.count, c.at_least) for c in capped] == [
        ("call", 1, True),
        ("web_form", 1, True),
    ]


def test_filter_panel_and_bulk_bar_load_on_demand(client_for, tenant, admin, manager, url):
    with tenant_context(tenant):
        make_lead(admin, owner=manager, title="Мой")
    client = client_for(manager)
    page = client.get(url("inbox/")).content.decode()
    # Closed by default: a link (htmx, or ?filters=1 without JavaScript), no member list.
    assert 'data-testid="more-filters"' in page
    assert 'data-testid="filter-panel"' not in page
    assert 'id="bulk-form"' not in page
    assert 'id="bulk-bar"' in page
    htmx = {"HTTP_HX_REQUEST": "true"}
    panel = client.get(url("inbox/"), {"fragment": "filters", "filters": "1"}, **htmx)
    assert panel.status_code == 200
    assert 'data-testid="filter-panel"' in panel.content.decode()
    assert "<html" not in panel.content.decode()
    assert manager.user.full_name in panel.content.decode()
    bar = client.get(url(""), {"fragment": "bulk", "state": "new"}, **htmx).content.decode()
    assert 'id="bulk-form"' in bar
    assert "<html" not in bar
    # The bar sends the user back to the list they were on, not to the fragment's URL.
    assert f'name="next" value="/{tenant.slug}/leads/?state=new"' in bar
    # Without JavaScript: the same pieces inline.
    for query in ({"filters": "1"}, {"status": "", "owner": "me"}):
        assert 'data-testid="filter-panel"' in client.get(url(""), query).content.decode()
    assert 'id="bulk-form"' in client.get(url(""), {"bulk": "1"}).content.decode()


def test_the_owner_filter_accepts_me_none_and_member_ids_only(
    client_for, tenant, admin, manager, url
):
    with tenant_context(tenant):
        make_lead(admin, owner=manager, title="Мой")
        make_lead(admin, owner=None, title="Свободный")
    client = client_for(admin)
    assert _rows(client.get(url(""), {"owner": "me"})) == []
    assert _rows(client.get(url(""), {"owner": "none"})) == ["Свободный"]
    assert _rows(client.get(url(""), {"owner": str(manager.pk)})) == ["Мой"]
    assert _rows(client.get(url(""), {"owner": "nobody"})) == []


def test_status_settings_count_leads_up_to_a_cap(client_for, tenant, admin, url):
    with tenant_context(tenant):
        leads = [make_lead(admin) for _ in range(3)]
        services.lead_delete(actor=admin, lead=leads[0])
        new = leads[1].status
        exact = {s.pk: s.lead_count for s in selectors.status_list_with_counts()}
        capped = {s.pk: s.lead_count for s in selectors.status_list_with_counts(cap=1)}
    assert exact[new.pk] == 2  # the deleted lead is not counted
    assert capped[new.pk] == 2  # one past the cap: shown as "1+"
    page = client_for(admin).get(url("settings/statuses/")).content.decode()
    assert '<span class="text-muted" data-testid="lead-count">2</span>' in page


def test_a_managers_list_merges_own_and_unassigned_leads_page_by_page(
    client_for, tenant, admin, manager, url, monkeypatch, django_assert_num_queries
):
    other = __import__("tests.factories", fromlist=["add_member"]).add_member(tenant, "manager")
    with tenant_context(tenant):
        expected = []
        for i in range(9):
            owner = (manager, None, other)[i % 3]
            lead = make_lead(admin, owner=owner, title=f"L{i}")
            if owner is not other:
                expected.append(lead.title)
    monkeypatch.setattr(keyset, "PAGE_SIZE", 4)
    client, seen, after = client_for(manager), [], None
    for _ in range(4):
        response = client.get(url(""), {"after": after} if after else {})
        seen += _rows(response)
        after = response.context["page"].next_cursor
        if not after:
            break
    assert seen == list(reversed(expected))  # newest first, nobody else's
    # Filters apply to every part, and the query count does not grow with the page.
    with tenant_context(tenant):
        for _ in range(10):
            make_lead(admin, owner=manager, title="Ещё")
    client.get(url(""), {"q": "ещё"})
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        client.get(url(""), {"state": "new"})
    with tenant_context(tenant):
        for _ in range(10):
            make_lead(admin, owner=None)
    with django_assert_num_queries(len(few.captured_queries)):
        client.get(url(""), {"state": "new"})
