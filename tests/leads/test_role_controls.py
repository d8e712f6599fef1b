"""What each role sees on the lead pages: only the controls it may use."""

from __future__ import annotations

import re

import pytest

from crm.tenancy import tenant_context
from tests.factories import TeamFactory, add_member
from tests.leads.factories import make_lead


@pytest.fixture
def pool(tenant, admin):
    with tenant_context(tenant):
        return [make_lead(admin, owner=None, title=f"Заявка {n}") for n in range(3)]


@pytest.mark.parametrize(
    ("role", "takes", "ticks"),
    [
        ("admin", True, True),
        ("director", True, True),
        ("manager", True, True),
        ("marketer", False, False),
    ],
)
def test_take_buttons_and_tick_boxes_only_for_roles_that_may_use_them(
    tenant, pool, client_for, role, takes, ticks, request
):
    member = request.getfixturevalue(role)
    page = client_for(member, "en").get(f"/{tenant.slug}/leads/inbox/").content.decode()
    assert page.count('data-testid="take"') == (len(pool) if takes else 0)
    assert page.count('name="ids"') == (len(pool) if ticks else 0)
    assert ('id="bulk-bar"' in page) == ticks
    # The quick lead needs the create right, which every built-in role has.
    assert 'data-testid="quick-lead"' in page


@pytest.mark.parametrize(
    ("role", "trash"),
    [("admin", True), ("director", False), ("manager", False), ("marketer", False)],
)
def test_the_trash_link_only_for_roles_that_may_delete(tenant, client_for, role, trash, request):
    member = request.getfixturevalue(role)
    page = client_for(member, "en").get(f"/{tenant.slug}/leads/").content.decode()
    assert ('data-testid="trash-link"' in page) == trash


def test_the_bulk_bar_offers_only_what_the_role_may_do(tenant, pool, client_for, director, admin):
    def actions(member) -> list[str]:
        bar = client_for(member, "en").get(
            f"/{tenant.slug}/leads/", {"fragment": "bulk"}, HTTP_HX_REQUEST="true"
        )
        return re.findall(r'<option value="(\w+)"', bar.content.decode().split("</select>")[0])

    assert actions(admin) == ["assign", "move", "convert", "archive", "spam", "delete"]
    assert actions(director) == ["assign", "move", "convert", "archive", "spam"]


def test_the_responsible_lists_only_whom_the_actor_may_give_the_lead_to(tenant, admin, client_for):
    lead_ = add_member(tenant, "manager")
    with tenant_context(tenant):
        team = TeamFactory(lead=lead_)
        mate = add_member(tenant, "manager", team=team)
        outsider = add_member(tenant, "manager")
        lead = make_lead(admin, owner=mate)

    def offered(member) -> set[str]:
        card = client_for(member, "en").get(f"/{tenant.slug}/leads/{lead.pk}/").content.decode()
        select = re.search(r'<select name="owner".*?</select>', card, re.S).group(0)
        return set(re.findall(r'<option value="(\d*)"', select))

    # Themselves, the shared inbox, and whom it belongs to now.
    assert offered(lead_) == {"", str(lead_.pk), str(mate.pk)}
    assert str(outsider.pk) in offered(admin)
    # Pressing "Assign" with the present owner selected changes nothing and is no refusal.
    kept = client_for(lead_, "en").post(
        f"/{tenant.slug}/leads/{lead.pk}/assign/", {"owner": mate.pk}, HTTP_HX_REQUEST="true"
    )
    assert kept.status_code == 200
