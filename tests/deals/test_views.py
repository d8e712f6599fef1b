"""Deal pages through HTTP: list, card, forms, moves, the board, settings, repeat sales."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.models import Activity, TimelineEvent
from crm.tenancy import tenant_context
from deals import services
from deals.models import Deal, LossReason, Outcome, Pipeline, Stage
from tests.deals.factories import make_contact, make_deal, sales, stage


@pytest.fixture
def url(tenant):
    return lambda path: f"/{tenant.slug}/deals/{path}"


def _titles(response) -> list[str]:
    return [deal.title for deal in response.context["page"].rows]


def test_list_runs_a_constant_number_of_queries(
    client_for, tenant, admin, url, django_assert_num_queries
):
    client = client_for(admin)
    with tenant_context(tenant):
        for _ in range(5):
            make_deal(admin)
    client.get(url(""))
    with CaptureQueriesContext(connection) as five:
        assert len(client.get(url("")).context["page"].rows) == 5
    with tenant_context(tenant):
        for _ in range(45):
            make_deal(admin)
    with django_assert_num_queries(len(five.captured_queries)):
        assert len(client.get(url("")).context["page"].rows) == 50


def test_list_pages_by_keyset(client_for, tenant, admin, url):
    with tenant_context(tenant):
        for i in range(52):
            make_deal(admin, customer=False, data={"title": f"Сделка №{i:02d}"})
    client = client_for(admin)
    first = client.get(url(""))
    assert len(first.context["page"].rows) == 50
    second = client.get(url(""), {"after": first.context["page"].next_cursor})
    assert _titles(second) == ["Сделка №01", "Сделка №00"]


def test_list_filters(client_for, tenant, admin, manager, url):
    with tenant_context(tenant):
        contact = make_contact(admin, phones=["+7 916 123-45-67"])
        big = make_deal(admin, data={"title": "Крупная", "amount": 500_000, "contact": contact})
        make_deal(manager, data={"title": "Мелкая", "amount": 1_000})
        won = make_deal(admin, data={"title": "Выиграна"})
        services.deal_move(actor=admin, deal=won, stage=stage(sales(), "won"), amount=1000)
        repeat = Pipeline.objects.get(is_repeat=True)
        make_deal(admin, pipeline=repeat, data={"title": "Повторная"})
    client = client_for(admin)
    assert _titles(client.get(url(""), {"amount_min": 100_000})) == ["Крупная"]
    assert _titles(client.get(url(""), {"outcome": "won"})) == ["Выиграна"]
    assert _titles(client.get(url(""), {"pipeline": repeat.pk})) == ["Повторная"]
    assert _titles(client.get(url(""), {"owner": manager.pk})) == ["Мелкая"]
    assert _titles(client.get(url(""), {"contact": contact.pk})) == ["Крупная"]
    assert _titles(client.get(url(""), {"q": "8 916 123 45 67"})) == ["Крупная"]
    assert _titles(client.get(url(""), {"q": "мелк"})) == ["Мелкая"]
    assert big.pk


def test_managers_see_own_and_unassigned_deals_only(client_for, tenant, admin, manager, url):
    with tenant_context(tenant):
        make_deal(admin, data={"title": "Чужая"})
        make_deal(admin, owner=manager, data={"title": "Моя"})
        unassigned = make_deal(admin, data={"title": "Ничья"})
        Deal.objects.filter(pk=unassigned.pk).update(owner=None)
    assert sorted(_titles(client_for(manager).get(url("")))) == ["Моя", "Ничья"]


def test_card_shows_the_deal_and_another_tenants_deal_is_404(
    client_for, tenant, other_tenant, admin, other_admin, url
):
    with tenant_context(tenant):
        deal = make_deal(admin, data={"title": "Поставка мебели"})
    with tenant_context(other_tenant):
        foreign = make_deal(other_admin)
    client = client_for(admin)
    page = client.get(url(f"{deal.pk}/"))
    assert page.status_code == 200
    assert "Поставка мебели" in page.content.decode()
    assert client.get(url(f"{foreign.pk}/")).status_code == 404


def test_create_with_products_fills_the_amount(client_for, tenant, admin, url):
    with tenant_context(tenant):
        contact = make_contact(admin)
        first = stage(sales(), "open")
    response = client_for(admin).post(
        url("new/"),
        {
            "title": "Офисные кресла",
            "owner": admin.pk,
            "stage": first.pk,
            "contact": contact.pk,
            "currency": "RUB",
            "product_name": ["Кресло", ""],
            "product_qty": ["3", ""],
            "product_price": ["12000", ""],
        },
    )
    assert response.status_code == 302
    with tenant_context(tenant):
        deal = Deal.objects.get(title="Офисные кресла")
        assert deal.amount == Decimal("36000.00")
        assert deal.products.count() == 1


def test_bad_input_shows_errors_and_writes_nothing(client_for, tenant, admin, url):
    with tenant_context(tenant):
        won, first = stage(sales(), "won"), stage(sales(), "open")
        before = Deal.objects.count()
    client = client_for(admin)
    bad_date = client.post(
        url("new/"), {"title": "X", "owner": admin.pk, "expected_close": "31.31"}
    )
    assert bad_date.status_code == 400
    assert bad_date.context["form"].errors["expected_close"]
    assert bad_date.context["form"].errors["stage"]
    closed = client.post(url("new/"), {"title": "X", "owner": admin.pk, "stage": won.pk})
    assert closed.status_code == 400
    bad_product = client.post(
        url("new/"),
        {
            "title": "X",
            "owner": admin.pk,
            "stage": first.pk,
            "product_name": ["Стол"],
            "product_qty": ["два"],
            "product_price": ["10"],
        },
    )
    assert bad_product.status_code == 400
    assert "Стол" in bad_product.content.decode()
    with tenant_context(tenant):
        assert Deal.objects.count() == before


def test_inline_edit_returns_the_details_block(client_for, tenant, admin, url):
    with tenant_context(tenant):
        deal = make_deal(admin)
    client = client_for(admin)
    form = client.get(url(f"{deal.pk}/edit/"), HTTP_HX_REQUEST="true")
    assert 'id="deal-details"' in form.content.decode()
    saved = client.post(
        url(f"{deal.pk}/edit/"),
        {"title": "Переименована", "owner": admin.pk, "currency": "RUB", "amount": "99"},
        HTTP_HX_REQUEST="true",
    )
    assert saved.status_code == 200
    assert "99" in saved.content.decode()
    with tenant_context(tenant):
        assert Deal.objects.get(pk=deal.pk).title == "Переименована"
        assert TimelineEvent.objects.filter(kind="deal.changed", target_id=deal.pk).exists()


def test_lose_from_the_card_with_a_reason_then_reopen(client_for, tenant, admin, url):
    with tenant_context(tenant):
        deal = make_deal(admin)
        lost, first = stage(sales(), "lost"), stage(sales(), "open")
        competitor = LossReason.objects.get(name="Выбрали конкурента")
    client = client_for(admin)
    card = client.get(url(f"{deal.pk}/")).content.decode()
    assert f'<option value="{competitor.pk}">Выбрали конкурента</option>' in card
    response = client.post(url(f"{deal.pk}/move/"), {"stage": lost.pk, "reason": competitor.pk})
    assert response.status_code == 302
    with tenant_context(tenant):
        deal.refresh_from_db()
        assert deal.outcome == Outcome.LOST
        assert deal.loss_reason == competitor
    card = client.get(url(f"{deal.pk}/")).content.decode()
    assert 'data-testid="reopen"' in card
    client.post(url(f"{deal.pk}/move/"), {"stage": first.pk})
    with tenant_context(tenant):
        assert Deal.objects.get(pk=deal.pk).outcome == Outcome.OPEN


def test_an_invalid_move_answers_409_with_the_reason(client_for, tenant, admin, url):
    with tenant_context(tenant):
        deal = make_deal(admin)
        services.deal_move(actor=admin, deal=deal, stage=stage(sales(), "won"), amount=1000)
        lost = stage(sales(), "lost")
    client = client_for(admin)
    card = client.post(url(f"{deal.pk}/move/"), {"stage": lost.pk}, HTTP_HX_REQUEST="true")
    assert card.status_code == 409
    assert "нельзя перевести" in card.content.decode()
    board = client.post(url(f"{deal.pk}/move/"), {"stage": lost.pk, "board": "1"})
    assert board.status_code == 409
    with tenant_context(tenant):
        assert Deal.objects.get(pk=deal.pk).outcome == Outcome.WON


def test_a_marketer_sees_deals_but_may_not_move_or_create(client_for, tenant, admin, marketer, url):
    with tenant_context(tenant):
        deal = make_deal(admin)
        target = stage(sales(), "open", 1)
    client = client_for(marketer)
    assert client.get(url(f"{deal.pk}/")).status_code == 200
    assert 'data-testid="lose-menu"' not in client.get(url(f"{deal.pk}/")).content.decode()
    assert client.post(url(f"{deal.pk}/move/"), {"stage": target.pk}).status_code == 403
    assert client.get(url("new/")).status_code == 403
    listing = client.get(url("")).content.decode()
    assert 'name="ids"' not in listing  # nothing to tick: no bulk move for this role
    assert 'data-testid="bulk-form"' not in listing
    assert 'name="ids"' in client_for(admin).get(url("")).content.decode()


def test_activities_on_a_deal(client_for, tenant, admin, url):
    with tenant_context(tenant):
        deal = make_deal(admin)
    client = client_for(admin)
    client.post(url(f"{deal.pk}/activities/"), {"kind": "call", "subject": "Уточнить сроки"})
    with tenant_context(tenant):
        activity = Activity.objects.get(subject="Уточнить сроки")
    client.post(url(f"{deal.pk}/activities/{activity.pk}/done/"))
    with tenant_context(tenant):
        activity.refresh_from_db()
        assert activity.done_at is not None


def test_board_counts_and_sums_per_column(client_for, tenant, admin, manager, url):
    with tenant_context(tenant):
        first, second = stage(sales(), "open"), stage(sales(), "open", 1)
        make_deal(admin, data={"amount": 1000})
        make_deal(admin, data={"amount": 2500})
        make_deal(admin, stage=second, data={"amount": 700})
        make_deal(manager, data={"amount": 300})
    board = client_for(admin).get(url("board/"))
    columns = {c.stage.pk: c for c in board.context["columns"]}
    assert (columns[first.pk].count, columns[first.pk].total) == (3, Decimal("3800"))
    assert (columns[second.pk].count, columns[second.pk].total) == (1, Decimal("700"))
    mine = client_for(manager).get(url("board/")).context["columns"]
    assert sum(c.count for c in mine) == 1


def test_board_runs_a_constant_number_of_queries(
    client_for, tenant, admin, url, django_assert_num_queries
):
    with tenant_context(tenant):
        make_deal(admin)
    client = client_for(admin)
    client.get(url("board/"))
    with CaptureQueriesContext(connection) as one:
        client.get(url("board/"))
    with tenant_context(tenant):
        for kind in ("open", "open", "won"):
            deal = make_deal(admin)
            if kind == "won":
                services.deal_move(actor=admin, deal=deal, stage=stage(sales(), "won"), amount=1000)
    with django_assert_num_queries(len(one.captured_queries)):
        client.get(url("board/"))


def test_board_drop_on_lost_records_the_reason(client_for, tenant, admin, url):
    with tenant_context(tenant):
        deal = make_deal(admin)
        lost = stage(sales(), "lost")
        budget = LossReason.objects.get(name="Нет бюджета")
    client = client_for(admin)
    board = client.get(url("board/")).content.decode()
    assert f'<option value="{budget.pk}">Нет бюджета</option>' in board
    response = client.post(
        url(f"{deal.pk}/move/"), {"stage": lost.pk, "board": "1", "reason": budget.pk}
    )
    assert response.status_code == 200
    assert 'data-testid="card"' in response.content.decode()
    assert "Нет бюджета" in response.content.decode()
    with tenant_context(tenant):
        assert Deal.objects.get(pk=deal.pk).loss_reason == budget


def test_board_of_another_pipeline(client_for, tenant, admin, url):
    with tenant_context(tenant):
        repeat = Pipeline.objects.get(is_repeat=True)
        make_deal(admin, pipeline=repeat, data={"title": "Повторная"})
    board = client_for(admin).get(url("board/"), {"pipeline": repeat.pk})
    assert board.context["pipeline"] == repeat
    assert "Повторная" in board.content.decode()


def test_settings_add_a_stage_and_delete_one_moving_its_deals(client_for, tenant, admin, url):
    with tenant_context(tenant):
        pipeline = sales()
        doomed, keeper = stage(pipeline, "open", 1), stage(pipeline, "open", 2)
        deal = make_deal(admin, stage=doomed)
    client = client_for(admin)
    assert client.get(url("settings/pipelines/")).status_code == 200
    added = client.post(
        url(f"settings/pipelines/{pipeline.pk}/"),
        {
            "form": "stage",
            "stage-name": "Демонстрация",
            "stage-color": "#123456",
            "stage-kind": "open",
            "stage-probability": 40,
            "stage-position": 3,
        },
    )
    assert added.status_code == 302
    duplicate = client.post(
        url(f"settings/pipelines/{pipeline.pk}/"),
        {
            "form": "stage",
            "stage-name": "демонстрация",
            "stage-color": "#123456",
            "stage-kind": "open",
            "stage-probability": 40,
            "stage-position": 3,
        },
    )
    assert duplicate.status_code == 400
    assert client.get(url(f"settings/stages/{doomed.pk}/")).status_code == 200
    client.post(url(f"settings/stages/{doomed.pk}/delete/"), {"replacement": keeper.pk})
    with tenant_context(tenant):
        assert Stage.objects.filter(pipeline=pipeline, name="Демонстрация").exists()
        assert not Stage.objects.filter(pk=doomed.pk).exists()
        assert Deal.objects.get(pk=deal.pk).stage == keeper


def test_settings_are_for_admins(client_for, director, manager, url):
    for member in (director, manager):
        assert client_for(member).get(url("settings/pipelines/")).status_code == 403


def test_settings_add_and_delete_a_pipeline(client_for, tenant, admin, url):
    client = client_for(admin)
    assert client.post(url("settings/pipelines/"), {"name": "Тендеры"}).status_code == 302
    with tenant_context(tenant):
        tenders, main = Pipeline.objects.get(name="Тендеры"), sales()
        make_deal(admin, pipeline=tenders)
    kept = client.post(url(f"settings/pipelines/{tenders.pk}/delete/"), {"replacement": ""})
    assert kept.status_code == 302
    with tenant_context(tenant):
        assert Pipeline.objects.filter(pk=tenders.pk).exists()
    client.post(url(f"settings/pipelines/{tenders.pk}/delete/"), {"replacement": main.pk})
    with tenant_context(tenant):
        assert not Pipeline.objects.filter(pk=tenders.pk).exists()


def test_repeat_deal_from_a_contact_card(client_for, tenant, admin, manager):
    with tenant_context(tenant):
        contact = make_contact(admin, last_name="Смирнова")
        old = make_deal(admin, data={"title": "Первая покупка", "contact": contact})
        repeat_first = stage(Pipeline.objects.get(is_repeat=True), "open")
    client = client_for(manager)
    card = client.get(f"/{tenant.slug}/contacts/{contact.pk}/").content.decode()
    assert 'data-testid="record-deals"' in card
    assert 'data-testid="repeat-deal"' in card
    assert old.title not in card  # the manager does not see the admin's deal
    assert (
        old.title
        in client_for(admin).get(f"/{tenant.slug}/contacts/{contact.pk}/").content.decode()
    )
    form = client.get(f"/{tenant.slug}/deals/new/", {"contact": contact.pk, "repeat": "1"})
    assert form.context["form"].initial["contact"] == contact.pk
    assert form.context["form"].initial["stage"] == repeat_first.pk
    created = client.post(
        f"/{tenant.slug}/deals/new/",
        {"owner": manager.pk, "stage": repeat_first.pk, "contact": contact.pk, "currency": "RUB"},
    )
    assert created.status_code == 302
    with tenant_context(tenant):
        deal = Deal.objects.get(contact=contact, pipeline__is_repeat=True)
        assert deal.title == "Смирнова"
        assert deal.owner == manager


def test_navigation_shows_deals(client_for, admin, url):
    page = client_for(admin).get(url("")).content.decode()
    assert 'data-nav="deals"' in page


def test_bulk_move_moves_what_it_may_and_reports_the_rest(client_for, tenant, admin, manager, url):
    with tenant_context(tenant):
        mine = make_deal(manager, data={"title": "Моя", "amount": 100})
        no_customer = make_deal(manager, customer=False, data={"title": "Без клиента", "amount": 1})
        theirs = make_deal(admin, data={"title": "Чужая"})
        won = stage(sales(), "won")
    response = client_for(manager).post(
        url("bulk/"), {"ids": [mine.pk, no_customer.pk, theirs.pk], "stage": won.pk}, follow=True
    )
    texts = [str(m) for m in response.context["messages"]]
    assert any("Без клиента" in text for text in texts)
    with tenant_context(tenant):
        assert Deal.objects.get(pk=mine.pk).outcome == Outcome.WON
        assert Deal.objects.get(pk=no_customer.pk).outcome == Outcome.OPEN
        assert Deal.objects.get(pk=theirs.pk).outcome == Outcome.OPEN


def test_merging_contacts_moves_their_deals(tenant, admin):
    from contacts.services import record_merge

    with tenant_context(tenant):
        survivor, merged = make_contact(admin), make_contact(admin)
        deal = make_deal(admin, data={"contact": merged})
        record_merge(actor=admin, survivor=survivor, merged=merged)
        assert Deal.objects.get(pk=deal.pk).contact_id == survivor.pk


def test_custom_fields_on_the_form_card_and_list_filter(client_for, tenant, admin, url):
    from crm.models import CustomField

    with tenant_context(tenant):
        CustomField.objects.create(
            entity="deal",
            key="channel",
            label="Канал продажи",
            field_type="choice",
            choices=["Тендер", "Прямая"],
        )
        first = stage(sales(), "open")
        make_deal(admin, data={"title": "Без канала"})
    client = client_for(admin)
    client.post(
        url("new/"),
        {"title": "Тендерная", "owner": admin.pk, "stage": first.pk, "cf_channel": "Тендер"},
    )
    with tenant_context(tenant):
        deal = Deal.objects.get(title="Тендерная")
        assert deal.custom == {"channel": "Тендер"}
    assert "Канал продажи" in client.get(url(f"{deal.pk}/")).content.decode()
    assert _titles(client.get(url(""), {"cf_channel": "Тендер"})) == ["Тендерная"]


def test_a_manager_may_not_hand_a_new_deal_to_someone_else(client_for, tenant, admin, manager, url):
    with tenant_context(tenant):
        first = stage(sales(), "open")
        before = Deal.objects.count()
    response = client_for(manager).post(
        url("new/"), {"title": "Чужому", "owner": admin.pk, "stage": first.pk}
    )
    assert response.status_code == 400
    assert response.context["form"].errors["owner"]
    with tenant_context(tenant):
        assert Deal.objects.count() == before


def test_contact_and_company_fields_fit_a_large_base(client_for, tenant, admin):
    with tenant_context(tenant):
        people = [make_contact(admin, last_name=f"Иванов{i:03}") for i in range(60)]
        last = make_contact(admin, last_name="Яковлев", phones=["+7 999 765-43-21"])
        deal = make_deal(admin, data={"contact": last})
    client = client_for(admin)
    form = client.get(f"/{tenant.slug}/deals/{deal.pk}/edit/").content.decode()
    # The first 50 by name, plus the deal's own contact (far down the alphabet), and a
    # search box that loads the others.
    contact_select = form.split('id="id_contact"', 1)[1].split("</select>", 1)[0]
    assert contact_select.count('<option value="') == 1 + 50 + 1
    assert f'<option value="{last.pk}" selected>Яковлев</option>' in form
    assert f'value="{people[59].pk}"' not in form
    assert 'data-testid="picker-contact"' in form
    found = client.get(f"/{tenant.slug}/contacts/options/", {"q": "8 (999) 765-43-21"})
    assert found.status_code == 200
    assert f'<option value="{last.pk}">Яковлев</option>' in found.content.decode()
    prefix = client.get(f"/{tenant.slug}/contacts/options/", {"q": "иванов05"}).content.decode()
    assert prefix.count('<option value="') == 1 + 10  # the empty choice and Иванов050…059
    # Any live contact validates, shown or not.
    with tenant_context(tenant):
        far = people[59].pk
    response = client.post(
        f"/{tenant.slug}/deals/{deal.pk}/edit/",
        {"title": deal.title, "owner": admin.pk, "contact": far, "currency": "RUB", "amount": "0"},
    )
    assert response.status_code == 302
    with tenant_context(tenant):
        assert type(deal).objects.get(pk=deal.pk).contact_id == far


def test_pickers_offer_only_the_records_the_role_may_see(client_for, tenant, admin, manager):
    from crm.models import Role

    with tenant_context(tenant):
        theirs = make_contact(admin, last_name="Чужаков", phones=["+7 999 000-11-22"])
        mine = make_contact(manager, last_name="Своев")
        role = Role.objects.get(pk=manager.role_id)
        role.rights = {**role.rights, "contact": {**role.rights.get("contact", {}), "view": "own"}}
        role.save()
    client = client_for(manager)
    found = client.get(f"/{tenant.slug}/contacts/options/", {"q": "+7 999 000-11-22"})
    assert found.status_code == 200
    assert f'value="{theirs.pk}"' not in found.content.decode()
    form = client.get(f"/{tenant.slug}/deals/new/").content.decode()
    contacts = form.split('id="id_contact"', 1)[1].split("</select>", 1)[0]
    assert f'value="{mine.pk}">Своев' in contacts
    assert "Чужаков" not in contacts
