"""Lead list rows (leads.rows): what they show, and that what users typed stays text."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.cache import cache

from crm.tenancy import tenant_context
from leads.models import LeadStatus
from tests.leads.factories import make_lead


@pytest.fixture
def clean_cache():
    """No live events (crm.live) of earlier tests in the process's cache."""
    cache.clear()


SCRIPT = '<script>alert("x")</script>'
ESCAPED = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"


@pytest.fixture
def url(tenant):
    return lambda path: f"/{tenant.slug}/leads/{path}"


def _row(html: str, pk: int) -> str:
    """The <tr> of lead `pk` in a page."""
    start = html.index(f'<tr id="lead-{pk}">')
    return html[start : html.index("</tr>", start)]


def test_a_row_links_the_lead_and_offers_take_only_when_unassigned(
    client_for, tenant, admin, manager, url
):
    with tenant_context(tenant):
        free = make_lead(
            admin, owner=None, title="Свободный", company_name="ООО Ромашка", amount="1234567"
        )
        mine = make_lead(admin, owner=manager, title="Мой", email="a@b.ru")
    html = client_for(manager).get(url("inbox/")).content.decode()
    row = _row(html, free.pk)
    assert f'href="/{tenant.slug}/leads/{free.pk}/"><bdi>Свободный</bdi></a>' in row
    assert '<div class="small text-muted">ООО Ромашка</div>' in row
    assert f'value="{free.pk}" form="bulk-form"' in row
    assert f'hx-post="/{tenant.slug}/leads/{free.pk}/take/"' in row
    assert f'formaction="/{tenant.slug}/leads/{free.pk}/take/"' in row
    assert 'data-testid="take"' in row
    assert "1\xa0234\xa0567" in row  # grouped the Russian way
    with tenant_context(tenant):
        status = LeadStatus.objects.get(pk=free.status_id)
    assert f'fill="{status.color}"/></svg> {status.name}</td>' in row
    row = _row(html, mine.pk)
    assert 'data-testid="take"' not in row
    assert f'<td class="small" data-testid="owner">{manager.user}</td>' in row
    assert "<div>a@b.ru</div>" in row
    assert '<td class="text-end small"></td>' in row  # no amount


def test_rows_escape_what_users_typed(
    clean_cache, client_for, tenant, admin, manager, url, django_capture_on_commit_callbacks
):
    with tenant_context(tenant), django_capture_on_commit_callbacks(execute=True):
        lead = make_lead(
            admin, owner=None, title=SCRIPT, name=SCRIPT, company_name=SCRIPT, email="x@y.ru"
        )
        LeadStatus.objects.filter(pk=lead.status_id).update(name=SCRIPT, color='"><b>')
        owned = make_lead(admin, owner=manager, title="Чей-то")
    manager.user.full_name = SCRIPT
    manager.user.save(update_fields=["full_name"])
    client = client_for(admin)
    pages = {
        "inbox": client.get(url("inbox/")),
        "list": client.get(url("")),
        "sorted list": client.get(url(""), {"sort": "-amount"}),
    }
    # The live poll (crm.live) from before the lead arrived: its row comes in the JSON.
    pages["poll"] = client.get(url("live/"), {"v": "0.0", "rows": "1"})
    for name, response in pages.items():
        html = response.json()["rows"] if name == "poll" else response.content.decode()
        assert response.status_code == 200, name
        assert "<script>alert" not in html, name
        assert "<b>" not in html, name
        row = _row(html, lead.pk)
        assert row.count(ESCAPED) == 5, name  # label, link, company, name, status
        assert 'fill="&quot;&gt;&lt;b&gt;"' in row, name
    owner_row = _row(client.get(url("")).content.decode(), owned.pk)
    assert f'data-testid="owner">{ESCAPED}</td>' in owner_row


def test_take_answers_the_taken_row_escaped(client_for, tenant, admin, manager, url):
    with tenant_context(tenant):
        lead = make_lead(admin, owner=None, title=SCRIPT)
    response = client_for(manager).post(url(f"{lead.pk}/take/"), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    row = _row(response.content.decode(), lead.pk)
    assert ESCAPED in row
    assert 'data-testid="take"' not in row
    assert f'data-testid="owner">{manager.user}</td>' in row


def test_an_empty_list_says_so(client_for, manager, url):
    html = client_for(manager).get(url("inbox/")).content.decode()
    assert '<tr class="empty">' in html
    assert "<tr id=" not in html


@pytest.mark.parametrize("amount", [Decimal("0"), Decimal("0.40")])
def test_no_amount_shows_nothing(client_for, tenant, admin, url, amount):
    with tenant_context(tenant):
        lead = make_lead(admin, owner=None, amount=str(amount))
    row = _row(client_for(admin).get(url("")).content.decode(), lead.pk)
    expected = "" if not amount else "0"
    assert f'<td class="text-end small">{expected}</td>' in row
