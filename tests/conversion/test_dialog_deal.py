"""The conversion dialog's contact name and deal fields: title, pipeline, stage (htmx),
amount, owner, expected close date (in the workspace's time zone); landing on the deal."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from contacts.models import Contact
from crm.errors import DomainError
from crm.lineitems import ProductLine
from crm.models import Tenant
from crm.tenancy import tenant_context
from deals.models import Deal, Pipeline, Stage
from leads.conversion import Target, lead_convert
from leads.models import Lead
from leads.services import lead_create
from tests.factories import add_member
from tests.leads.factories import make_lead


def _url(tenant, lead) -> str:
    return f"/{tenant.slug}/leads/{lead.pk}/convert/"


def _pipelines():
    sales = Pipeline.objects.get(is_default=True)
    repeat = Pipeline.objects.get(is_repeat=True)
    return sales, repeat


def _open_stages(pipeline):
    return list(Stage.objects.filter(pipeline=pipeline, kind="open").order_by("position"))


def _post(lead, **extra):
    data = {
        "contact_mode": "new",
        "last_name": "Иванов",
        "first_name": "Иван",
        "middle_name": "Иванович",
        "phone": lead.phone,
        "company_mode": "none",
        "make_deal": "on",
        "deal_title": "Окна",
    }
    data.update(extra)
    return data


def test_the_dialog_splits_the_name_and_prefills_the_deal(client_for, tenant, manager):
    with tenant_context(tenant):
        lead = lead_create(
            actor=manager,
            data={"name": "  Иванов Иван\u200b Иванович ", "phone": "+7 999 111-22-33"},
            products=[ProductLine(name="Окно", quantity=Decimal(2), price=Decimal("1500"))],
        )
        sales, repeat = _pipelines()
        sales_stages, repeat_stages = _open_stages(sales), _open_stages(repeat)
    response = client_for(manager).get(_url(tenant, lead), headers={"HX-Request": "true"})
    assert response.status_code == 200
    form = response.context["form"]
    assert (form.initial["last_name"], form.initial["first_name"], form.initial["middle_name"]) == (
        "Иванов",
        "Иван",
        "Иванович",
    )
    assert form.initial["stage"] == sales_stages[0].pk
    assert form.initial["amount"] == Decimal("3000")
    assert form.fields["amount"].disabled  # the products' total
    assert form.initial["deal_owner"] == manager.pk
    html = response.content.decode()
    # The stage menu lists the default pipeline's open stages only.
    assert all(f'value="{s.pk}"' in html for s in sales_stages)
    assert f'value="{repeat_stages[1].pk}"' not in html
    # A manager gives deals to themselves only: nobody else is offered.
    with tenant_context(tenant):
        assert list(form.fields["deal_owner"].queryset) == [manager]


def test_the_deal_gets_what_the_dialog_chose_and_the_manager_lands_on_it(
    client_for, tenant, admin, manager
):
    with tenant_context(tenant):
        lead = make_lead(admin, owner=admin, name="Мария Петровна Сидорова")
        _sales, repeat = _pipelines()
        stage = _open_stages(repeat)[1]
    close = dt.datetime.now(tz=dt.UTC).date() + dt.timedelta(days=30)
    response = client_for(admin).post(
        _url(tenant, lead),
        _post(
            lead,
            pipeline=repeat.pk,
            stage=stage.pk,
            amount="125000.50",
            deal_owner=manager.pk,
            expected_close=close.isoformat(),
        ),
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200, response.content.decode()[:2000]
    with tenant_context(tenant):
        deal = Deal.objects.select_related("contact").get(source_lead=lead)
        assert response["HX-Redirect"] == f"/{tenant.slug}/deals/{deal.pk}/"
        assert (deal.pipeline_id, deal.stage_id) == (repeat.pk, stage.pk)
        assert deal.amount == Decimal("125000.50")
        assert deal.owner_id == manager.pk
        assert deal.expected_close == close
        assert deal.title == "Окна"
        assert (deal.contact.last_name, deal.contact.first_name, deal.contact.middle_name) == (
            "Иванов",
            "Иван",
            "Иванович",
        )


def test_with_products_the_amount_is_their_total_whatever_is_sent(client_for, tenant, manager):
    with tenant_context(tenant):
        lead = lead_create(
            actor=manager,
            data={"name": "Анна", "phone": "+7 999 111-22-34"},
            products=[ProductLine(name="Дверь", quantity=Decimal(1), price=Decimal("7000"))],
        )
        sales, _repeat = _pipelines()
    response = client_for(manager).post(
        _url(tenant, lead), _post(lead, pipeline=sales.pk, amount="1")
    )
    assert response.status_code == 302
    with tenant_context(tenant):
        assert Deal.objects.get(source_lead=lead).amount == Decimal("7000")


def test_a_stage_of_another_pipeline_is_refused_clearly_and_nothing_is_written(
    client_for, tenant, manager
):
    with tenant_context(tenant):
        lead = make_lead(manager, name="Иван Иванов")
        sales, repeat = _pipelines()
        foreign_stage = _open_stages(repeat)[0]
    response = client_for(manager, "en").post(
        _url(tenant, lead),
        _post(lead, pipeline=sales.pk, stage=foreign_stage.pk),
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 400
    assert "This stage belongs to another pipeline" in response.content.decode()
    with tenant_context(tenant):
        assert Lead.objects.get(pk=lead.pk).state != "converted"
        assert not Contact.objects.exists()
        assert not Deal.objects.exists()


def test_the_service_refuses_a_stage_of_another_pipeline_and_writes_nothing(tenant, manager):
    with tenant_context(tenant):
        lead = make_lead(manager, name="Иван Иванов")
        sales, repeat = _pipelines()
        with pytest.raises(DomainError, match="another pipeline"):
            lead_convert(
                actor=manager,
                lead=lead,
                contact=Target(data={"first_name": "Иван"}),
                deal={"title": "x"},
                pipeline=sales,
                stage=_open_stages(repeat)[0],
            )
        with pytest.raises(DomainError, match="open stage"):
            lead_convert(
                actor=manager,
                lead=lead,
                contact=Target(data={"first_name": "Иван"}),
                deal={"title": "x"},
                stage=Stage.objects.get(pipeline=sales, kind="won"),
            )
        assert not Contact.objects.exists()
        assert Lead.objects.get(pk=lead.pk).state == "new"


@pytest.mark.parametrize(
    "extra",
    [
        {"amount": "-5"},
        {"amount": "много"},
        {"stage": "999999"},
        {"pipeline": "abc"},
        {"expected_close": "31.02.2026"},
        {"deal_owner": "999999"},
    ],
)
def test_bad_deal_fields_show_the_form_again_and_write_nothing(client_for, tenant, manager, extra):
    with tenant_context(tenant):
        lead = make_lead(manager)
        sales, _repeat = _pipelines()
    data = _post(lead, pipeline=sales.pk)
    data.update(extra)
    response = client_for(manager).post(_url(tenant, lead), data)
    assert response.status_code == 400
    with tenant_context(tenant):
        assert not Deal.objects.exists()
        assert not Contact.objects.exists()


def test_a_deal_owner_the_role_may_not_choose_is_refused(client_for, tenant, manager):
    colleague = add_member(tenant, "manager")
    with tenant_context(tenant):
        lead = make_lead(manager)
        sales, _repeat = _pipelines()
    response = client_for(manager).post(
        _url(tenant, lead), _post(lead, pipeline=sales.pk, deal_owner=colleague.pk)
    )
    assert response.status_code == 400
    with tenant_context(tenant):
        assert not Deal.objects.exists()


def test_the_expected_close_date_is_checked_in_the_workspace_time_zone(client_for, tenant, manager):
    # 20:00 UTC on 1 March is already 2 March in Vladivostok (UTC+10).
    Tenant.objects.filter(pk=tenant.pk).update(time_zone="Asia/Vladivostok")
    with tenant_context(tenant):
        first, second = make_lead(manager), make_lead(manager)
        sales, _repeat = _pipelines()
    client = client_for(manager, "en")
    with time_machine.travel(dt.datetime(2026, 3, 1, 20, 0, tzinfo=dt.UTC), tick=False):
        page = client.get(_url(tenant, first)).content.decode()
        assert 'min="2026-03-02"' in page
        refused = client.post(
            _url(tenant, first), _post(first, pipeline=sales.pk, expected_close="2026-03-01")
        )
        assert refused.status_code == 400
        assert "The expected close date is in the past" in refused.content.decode()
        taken = client.post(
            _url(tenant, second), _post(second, pipeline=sales.pk, expected_close="2026-03-02")
        )
        assert taken.status_code == 302
    with tenant_context(tenant):
        assert Deal.objects.get(source_lead=second).expected_close == dt.date(2026, 3, 2)
        assert not Deal.objects.filter(source_lead=first).exists()


def test_stage_options_list_the_open_stages_of_the_pipeline(client_for, tenant, manager):
    with tenant_context(tenant):
        _sales, repeat = _pipelines()
        wanted = _open_stages(repeat)
    client = client_for(manager)
    url = f"/{tenant.slug}/deals/stages/options/"
    response = client.get(url, {"pipeline": repeat.pk}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.content.decode()
    assert [f'value="{s.pk}"' in html for s in wanted] == [True] * len(wanted)
    assert html.count("<option") == len(wanted)  # no won or lost stage
    for bad in ("", "abc", "-1", "99999999999999999999999"):
        answer = client.get(url, {"pipeline": bad}, headers={"HX-Request": "true"})
        assert answer.status_code == 200
        assert "<option" not in answer.content.decode()


def test_stage_options_of_another_tenant_are_never_shown(client_for, tenant, other_tenant, manager):
    with tenant_context(other_tenant):
        foreign = Pipeline.objects.get(is_default=True)
    response = client_for(manager).get(
        f"/{tenant.slug}/deals/stages/options/", {"pipeline": foreign.pk}
    )
    assert response.status_code == 200
    assert "<option" not in response.content.decode()


def test_stage_options_need_the_right_to_create_deals(client_for, tenant, marketer):
    response = client_for(marketer).get(
        f"/{tenant.slug}/deals/stages/options/", headers={"HX-Request": "true"}
    )
    assert response.status_code == 403
