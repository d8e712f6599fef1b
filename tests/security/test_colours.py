"""Colours are #rrggbb, everywhere a tenant picks one: statuses, stages, the widget.

They are written into pages (an SVG `fill`, the widget's styles); before, any seven
characters starting with `#` were taken for a status or stage colour.
"""

from __future__ import annotations

import pytest

from crm.tenancy import tenant_context
from deals.models import Pipeline, Stage
from leads.models import LeadStatus

BAD = ["#zzzzzz", '#"/><sc', "#12345g", "#1234567", "#123", "123456", "#12 456", "#12345\n"]


@pytest.mark.parametrize("colour", BAD)
def test_a_status_colour_must_be_rrggbb(client_for, tenant, admin, colour):
    client = client_for(admin)
    url = f"/{tenant.slug}/leads/settings/statuses/"
    data = {"name": "Перезвонить", "state": "in_progress", "position": 3}
    assert client.post(url, {**data, "color": colour}).status_code == 400
    with tenant_context(tenant):
        assert not LeadStatus.objects.filter(name="Перезвонить").exists()
        status = LeadStatus.objects.filter(state="in_progress").first()
    edit = client.post(
        f"/{tenant.slug}/leads/settings/statuses/{status.pk}/",
        {"name": status.name, "color": colour, "position": status.position},
    )
    assert edit.status_code == 400
    with tenant_context(tenant):
        assert LeadStatus.objects.get(pk=status.pk).color == status.color
    assert client.post(url, {**data, "color": "#A1B2C3"}).status_code == 302
    with tenant_context(tenant):
        assert LeadStatus.objects.get(name="Перезвонить").color == "#a1b2c3"


@pytest.mark.parametrize("colour", BAD)
def test_a_stage_colour_must_be_rrggbb(client_for, tenant, admin, colour):
    with tenant_context(tenant):
        pipeline = Pipeline.objects.get(is_default=True)
        stage = pipeline.stages.filter(kind="open").first()
    client = client_for(admin)
    added = client.post(
        f"/{tenant.slug}/deals/settings/pipelines/{pipeline.pk}/",
        {
            "form": "stage",
            "stage-name": "Демо",
            "stage-color": colour,
            "stage-kind": "open",
            "stage-probability": 40,
            "stage-position": 3,
        },
    )
    assert added.status_code == 400
    edit = client.post(
        f"/{tenant.slug}/deals/settings/stages/{stage.pk}/",
        {"name": stage.name, "color": colour, "kind": "open", "probability": 5, "position": 1},
    )
    assert edit.status_code == 400
    with tenant_context(tenant):
        assert not Stage.objects.filter(name="Демо").exists()
        assert Stage.objects.get(pk=stage.pk).color == stage.color


@pytest.mark.parametrize("colour", BAD)
def test_the_widget_accent_must_be_rrggbb(client_for, tenant, admin, colour):
    from channels.models import Channel

    response = client_for(admin).post(
        f"/{tenant.slug}/settings/channels/new/web_form/",
        {"name": "Сайт", "enabled": "on", "config-accent_color": colour},
    )
    assert response.status_code == 400
    with tenant_context(tenant):
        assert not Channel.objects.exists()
