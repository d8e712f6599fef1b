"""Links a list page builds from its own query: the next page and the export keep the filters."""

from __future__ import annotations

import html
import re

from crm.tenancy import tenant_context
from leads.services import lead_create


def _href(page: str, testid: str, attribute: str = "href") -> str:
    match = re.search(rf'{attribute}="([^"]*)"[^>]*data-testid="{testid}"', page)
    assert match, testid
    return html.unescape(match.group(1))


def test_the_next_page_and_the_export_keep_every_filter(tenant, admin, client_for):
    with tenant_context(tenant):
        for i in range(110):
            lead_create(
                actor=admin,
                data={"phone": f"+7999000{i:04d}", "source": "web_form" if i % 2 else "call"},
            )
    client = client_for(admin)
    first = client.get(f"/{tenant.slug}/leads/?source=web_form&state=new").content.decode()
    assert first.count('<tr id="lead-') == 50
    next_url = _href(first, "next-page")
    assert not next_url.startswith("??")
    assert "source=web_form" in next_url
    assert "state=new" in next_url
    second = client.get(f"/{tenant.slug}/leads/{next_url}").content.decode()
    assert second.count('<tr id="lead-') == 5  # the other 5 web-form leads, not the calls
    export = _href(second, "export-form", "action")  # the export menu's form
    assert "?source=web_form" in export
    assert "after=" not in export  # every row of the list, not from the page on
    response = client.post(export, {"format": "csv"})
    rows = response.content.decode("utf-8-sig").strip().splitlines()
    assert len(rows) == 1 + 55
