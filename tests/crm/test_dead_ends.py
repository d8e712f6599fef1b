"""Every control a person sees leads somewhere they may go.

For each built-in role (and a team lead, and a manager with records of their own) the test
walks the workspace as that person would: from the overview it follows every link of every
page, opens what htmx would load (hx-get), and presses every button — each form's submit
with the values it carries, each hx-post — inside a savepoint that is rolled back. Nothing
shown may answer 403 (a refused action), 404 (a dead link), 405 or 5xx. A form sent as it
stands may fail validation (400) or a rule (409): that answer is the page's own.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from django.db import transaction
from django.test import Client
from django.urls import resolve

from crm.models import Team
from crm.tenancy import tenant_context
from tests.factories import add_member
from tests.security.test_isolation_sweep import _world

# Pages a walk visits at most (each path once, queries aside), and what it leaves alone.
MAX_PAGES = 120
SKIP_VIEWS = {
    # Downloads, not pages: their links are checked by their own tests.
    "leads:export",
    "contacts:export",
    "companies:export",
    "deals:export",
    "transfer:export_download",
}
REFUSALS = {403, 404, 405}


@dataclass
class Control:
    method: str
    url: str
    data: dict[str, list[str]] = field(default_factory=dict)
    htmx: bool = False

    def key(self) -> tuple[str, str]:
        """One press per view and method: fifty "Take" buttons are one control."""
        return self.method, resolve(urlsplit(self.url).path).view_name


class _Page(HTMLParser):
    """The links, forms, buttons and htmx requests of a page."""

    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = base
        self.links: list[str] = []
        self.controls: list[Control] = []
        self.forms: dict[str, dict] = {}
        self._form: dict | None = None
        self._select: tuple[str, list[str]] | None = None
        self._pending: list[tuple[str, str, dict]] = []  # buttons tied to a form by id

    def _url(self, value: str) -> str:
        return urljoin(self.base, value)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = {k: v or "" for k, v in attrs}
        if a.get("hx-get"):
            self.controls.append(Control("GET", self._url(a["hx-get"]), htmx=True))
        if a.get("hx-post") and tag != "form" and not a.get("form"):
            self.controls.append(Control("POST", self._url(a["hx-post"]), htmx=True))
        if tag == "a" and a.get("href") and not a["href"].startswith(("#", "mailto:", "tel:")):
            self.links.append(self._url(a["href"]))
        elif tag == "form" and a.get("method", "get").lower() == "post":
            self._form = {
                "action": self._url(a.get("action") or self.base),
                "htmx": bool(a.get("hx-post")),
                "data": {},
                "buttons": [],
            }
            if a.get("id"):
                self.forms[a["id"]] = self._form
        elif tag in ("input", "textarea") and self._form is not None:
            kind = a.get("type", "text")
            if a.get("name") and (kind not in ("checkbox", "radio") or "checked" in a):
                self._form["data"].setdefault(a["name"], []).append(a.get("value", ""))
        elif tag == "select" and self._form is not None and a.get("name"):
            self._select = (a["name"], [])
        elif tag == "option" and self._select is not None:
            if "selected" in a or not self._select[1]:
                self._select[1][:] = [a.get("value", "")]
        elif tag == "button" and a.get("type", "submit") == "submit":
            if a.get("form"):
                self._pending.append((a["form"], a.get("formaction", ""), a))
            elif self._form is not None:
                self._form["buttons"].append(a.get("formaction", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "select" and self._select is not None and self._form is not None:
            name, value = self._select
            self._form["data"][name] = value
            self._select = None
        elif tag == "form" and self._form is not None:
            form, self._form = self._form, None
            # A form without buttons of its own is pressed through buttons tied to it by id.
            for formaction in form["buttons"]:
                url = self._url(formaction) if formaction else form["action"]
                self.controls.append(Control("POST", url, form["data"], form["htmx"]))

    def close(self) -> None:
        super().close()
        for form_id, formaction, attrs in self._pending:
            form = self.forms.get(form_id)
            if form is None:
                continue
            url = self._url(formaction) if formaction else form["action"]
            self.controls.append(Control("POST", url, form["data"], bool(attrs.get("hx-post"))))


def _walk(client: Client, start: str, prefix: str) -> list[str]:
    """Visit what a member sees from `start`; return the dead ends found."""
    problems: list[str] = []
    seen_paths: set[str] = set()
    pressed: set[tuple[str, str]] = set()
    queue = deque([start])
    while queue and len(seen_paths) < MAX_PAGES:
        url = queue.popleft()
        path = urlsplit(url).path
        if path in seen_paths:
            continue
        seen_paths.add(path)
        response = client.get(url)
        if response.status_code in REFUSALS or response.status_code >= 500:
            problems.append(f"GET {url} → {response.status_code}")
            continue
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue
        page = _Page(url)
        page.feed(response.content.decode())
        page.close()
        for link in page.links:
            link_path = urlsplit(link).path
            if (
                link_path.startswith(prefix)
                and link_path not in seen_paths
                and resolve(link_path).view_name not in SKIP_VIEWS
            ):
                queue.append(link)
        for control in page.controls:
            if not urlsplit(control.url).path.startswith(prefix):
                continue
            if control.key() in pressed:
                continue
            pressed.add(control.key())
            headers = {"HTTP_HX_REQUEST": "true"} if control.htmx else {}
            with transaction.atomic():
                if control.method == "GET":
                    answer = client.get(control.url, **headers)
                else:
                    answer = client.post(control.url, control.data, **headers)
                transaction.set_rollback(True)
            if answer.status_code in REFUSALS or answer.status_code >= 500:
                problems.append(
                    f"{control.method} {control.url} (shown on {path}) → {answer.status_code}"
                )
    return problems


@pytest.fixture
def people(tenant):
    world = _world(tenant)
    members = world["members"]
    with tenant_context(tenant):
        team = Team.objects.get(pk=world["team"].pk)
        lead = add_member(tenant, "manager", team=team)
        team.lead = lead
        team.save()
        owner = world["lead"].owner
        owner.team = team
        owner.save()
    return {
        "admin": members["admin"],
        "director": members["director"],
        "manager": members["manager"],
        "manager with records": owner,
        "team lead": lead,
        "marketer": members["marketer"],
    }


@pytest.mark.parametrize(
    "who", ["admin", "director", "manager", "manager with records", "team lead", "marketer"]
)
def test_every_control_a_role_sees_leads_somewhere(tenant, people, who):
    client = Client()
    client.force_login(people[who].user)
    prefix = f"/{tenant.slug}/"
    problems = _walk(client, f"http://testserver{prefix}", prefix)
    assert problems == [], "\n".join(problems)
