"""Live arrivals (crm/live.py, leads/views/live.py): the open pages' poll and its rights."""

from __future__ import annotations

import html
import os
import re
import zoneinfo

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from crm import live
from crm.models import Membership, Tenant
from crm.notifications import notify
from crm.tenancy import tenant_context
from leads import services
from leads.models import Lead, LeadStatus
from tests.factories import add_member
from tests.leads.factories import make_lead

ATTRIBUTE = re.compile(r'data-(token|v)="([^"]*)"')


@pytest.fixture(autouse=True)
def clean_cache():
    cache.clear()


@pytest.fixture
def url(tenant):
    return lambda path: f"/{tenant.slug}/leads/{path}"


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run the block's after-commit callbacks (the announcements) at its end."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


class Tab:
    """An open page: its client, token and versions, polling as static/js/live.js does."""

    def __init__(self, client: Client, page_url: str) -> None:
        self.client = client
        page = client.get(page_url)
        assert page.status_code == 200
        tag = re.search(r'<div id="live"[^>]*>', page.content.decode()).group(0)
        found = dict(ATTRIBUTE.findall(tag))
        self.token, self.v = html.unescape(found["token"]), found["v"]
        self.poll_url = page_url.split("/leads/")[0].rstrip("/") + "/leads/live/"
        if "/leads/" not in page_url:
            self.poll_url = page_url.rstrip("/") + "/leads/live/"

    def poll(self, **params):
        response = self.client.get(
            self.poll_url, {"v": self.v, **params}, HTTP_X_LIVE_TOKEN=self.token
        )
        if response.status_code == 200:
            data = response.json()
            self.v, self.token = data["v"], data["token"]
        return response


def _tab(client_for, member: Membership, tenant: Tenant) -> Tab:
    return Tab(client_for(member), f"/{tenant.slug}/leads/inbox/")


def test_an_unchanged_inbox_is_answered_without_a_query(
    client_for, tenant, manager, django_assert_num_queries
):
    tab = _tab(client_for, manager, tenant)
    with django_assert_num_queries(0):
        response = tab.poll()
    assert response.status_code == 204
    assert response["Cache-Control"] == "no-store"


def test_a_new_shared_lead_comes_with_its_row_counts_and_bell(
    client_for, tenant, admin, manager, committed
):
    tab = _tab(client_for, manager, tenant)
    with tenant_context(tenant), committed():
        lead = make_lead(admin, owner=None, title="Свежий", source="telegram")
    response = tab.poll(rows="1")
    assert response.status_code == 200
    data = response.json()
    assert data["arrivals"] == [
        {"id": lead.pk, "title": "Свежий", "url": f"/{tenant.slug}/leads/{lead.pk}/"}
    ]
    assert data["gone"] == []
    assert f'<tr id="lead-{lead.pk}">' in data["rows"]
    assert 'data-testid="take"' in data["rows"]
    assert "Telegram" in data["counts"]
    assert data["unread"] == 0
    # Then nothing more: the versions it got are the current ones.
    assert tab.poll().status_code == 204


def test_a_lead_of_another_manager_stays_theirs(
    client_for, tenant, admin, manager, committed, django_assert_num_queries
):
    other = add_member(tenant, "manager")
    mine, theirs = _tab(client_for, manager, tenant), _tab(client_for, other, tenant)
    with tenant_context(tenant), committed():
        lead = make_lead(admin, owner=other, title="Чужой")
    with django_assert_num_queries(0):
        assert mine.poll().status_code == 204
    data = theirs.poll(rows="1").json()
    assert [a["id"] for a in data["arrivals"]] == [lead.pk]
    assert data["unread"] == 1  # "you are now responsible for…"
    # Given to me later: now it arrives in my inbox (its created time is old).
    with tenant_context(tenant), committed():
        services.lead_assign(actor=admin, lead=lead, owner=manager)
    data = mine.poll(rows="1").json()
    assert [a["id"] for a in data["arrivals"]] == [lead.pk]
    assert f'<tr id="lead-{lead.pk}">' in data["rows"]
    assert theirs.poll().json()["gone"] == [lead.pk]


def test_a_lead_taken_by_someone_leaves_the_others_inboxes(
    client_for, tenant, admin, manager, committed
):
    other = add_member(tenant, "manager")
    with tenant_context(tenant), committed():
        lead = make_lead(admin, owner=None)
    mine = _tab(client_for, manager, tenant)
    with tenant_context(tenant), committed():
        services.lead_take(actor=other, lead=Lead.objects.get(pk=lead.pk))
    data = mine.poll(rows="1").json()
    assert data["gone"] == [lead.pk]
    assert data["arrivals"] == []
    assert "rows" in data  # the counts change; no row to add
    assert data["rows"] == ""


def test_my_own_actions_bring_rows_but_no_announcement(
    client_for, tenant, manager, committed, django_assert_num_queries
):
    tab = _tab(client_for, manager, tenant)
    with tenant_context(tenant), committed():
        lead = make_lead(manager, title="Сам завёл")
    data = tab.poll(rows="1").json()
    assert data["arrivals"] == []
    assert f'<tr id="lead-{lead.pk}">' in data["rows"]


def test_a_lead_leaving_the_inbox_by_a_move(client_for, tenant, admin, manager, committed):
    with tenant_context(tenant), committed():
        lead = make_lead(admin, owner=manager)
    tab = _tab(client_for, manager, tenant)
    with tenant_context(tenant), committed():
        junk = LeadStatus.objects.filter(state="junk").first()
        services.lead_move(actor=admin, lead=lead, status=junk)
    assert tab.poll().json()["gone"] == [lead.pk]


def test_the_page_filters_apply_to_the_rows(client_for, tenant, admin, manager, committed):
    tab = Tab(client_for(manager), f"/{tenant.slug}/leads/inbox/?source=call")
    with tenant_context(tenant), committed():
        call = make_lead(admin, owner=None, source="call", title="Звонок")
        form = make_lead(admin, owner=None, source="web_form", title="Форма")
    data = tab.poll(rows="1", source="call").json()
    assert {a["id"] for a in data["arrivals"]} == {call.pk, form.pk}  # both announced
    assert f'id="lead-{call.pk}"' in data["rows"]
    assert f'id="lead-{form.pk}"' not in data["rows"]


def test_a_notification_updates_the_bell(client_for, tenant, manager, committed):
    tab = _tab(client_for, manager, tenant)
    with tenant_context(tenant), committed():
        notify(recipients=[manager], kind="lead.assigned", data={"title": "X"})
    data = tab.poll().json()
    assert (data["unread"], data["arrivals"]) == (1, [])


def test_the_changed_poll_keeps_its_queries_whatever_arrives(
    client_for, tenant, admin, manager, committed, django_assert_num_queries
):
    def arrive(count: int) -> int:
        tab = _tab(client_for, manager, tenant)
        with tenant_context(tenant), committed():
            for _ in range(count):
                make_lead(admin, owner=None)
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            assert len(tab.poll(rows="1").json()["arrivals"]) == count
        return len(queries.captured_queries)

    assert arrive(1) == arrive(7)


def test_a_token_is_bound_to_its_session_tenant_and_member(
    client_for, tenant, other_tenant, manager, django_assert_num_queries
):
    tab = _tab(client_for, manager, tenant)
    # The same token from another session (a copied URL, a log): the whole stack decides,
    # and this session is the same person's, so a fresh token comes back.
    stranger = Tab.__new__(Tab)
    stranger.client, stranger.token, stranger.v = client_for(manager), tab.token, tab.v
    stranger.poll_url = tab.poll_url
    response = stranger.poll()
    assert response.status_code == 200
    assert response.json()["token"] != tab.token
    # Garbage or no token: the same.
    assert tab.client.get(tab.poll_url, {"v": tab.v}).status_code == 200
    bad = tab.client.get(tab.poll_url, {"v": tab.v}, HTTP_X_LIVE_TOKEN=tab.token + "x")
    assert bad.status_code == 200
    # Anonymous: to the login page, as any tenant URL.
    anonymous = Client().get(tab.poll_url, {"v": tab.v}, HTTP_X_LIVE_TOKEN=tab.token)
    assert anonymous.status_code == 302
    # A member of another tenant, with a valid token of theirs: 404 here.
    outsider = add_member(other_tenant, "admin")
    theirs = _tab(client_for, outsider, other_tenant)
    foreign = theirs.client.get(tab.poll_url, {"v": tab.v}, HTTP_X_LIVE_TOKEN=theirs.token)
    assert foreign.status_code == 404


def test_an_expired_token_goes_the_whole_way(client_for, tenant, manager, monkeypatch):
    tab = _tab(client_for, manager, tenant)
    monkeypatch.setattr(live, "TOKEN_MAX_AGE", -1)
    response = tab.poll()
    assert response.status_code == 200
    assert response.json()["arrivals"] == []


def test_a_role_without_leads_gets_no_poll(client_for, tenant, manager, url):
    with tenant_context(tenant):
        role = manager.role
        role.rights = {**role.rights, "lead": {**role.rights.get("lead", {}), "view": "none"}}
        role.save()
    client = client_for(manager)
    assert 'id="live"' not in client.get(f"/{tenant.slug}/").content.decode()
    assert client.get(url("live/"), {"v": "0.0"}).status_code == 403


def test_a_workspace_elsewhere_shows_the_arrivals_local_time(
    client_for, tenant, admin, manager, committed
):
    Tenant.objects.filter(pk=tenant.pk).update(time_zone="Asia/Vladivostok")
    tenant.refresh_from_db()
    tab = _tab(client_for, manager, tenant)
    with tenant_context(tenant), committed():
        lead = make_lead(admin, owner=None)
    local = lead.created_at.astimezone(zoneinfo.ZoneInfo("Asia/Vladivostok"))
    assert local.strftime("%d.%m %H:%M") in tab.poll(rows="1").json()["rows"]
    assert timezone.get_current_timezone_name() == "UTC"  # the test's own zone untouched


def test_every_page_of_a_lead_worker_polls(client_for, tenant, manager, marketer):
    page = client_for(manager).get(f"/{tenant.slug}/").content.decode()
    assert 'id="live"' in page
    assert 'data-sound="0"' in page
    assert "js/live.js" in page


# --- The person's choice -------------------------------------------------------------------


def test_alerts_are_chosen_per_member(client_for, tenant, manager, admin):
    client = client_for(manager)
    page = client.get(f"/{tenant.slug}/me/alerts/")
    assert page.status_code == 200
    assert 'data-testid="alerts-form"' in page.content.decode()
    saved = client.post(f"/{tenant.slug}/me/alerts/", {"sound": "on", "desktop": "on"})
    assert saved.status_code == 302
    with tenant_context(tenant):
        me = Membership.objects.get(pk=manager.pk)
        assert (me.alert_sound, me.alert_desktop) == (True, True)
        assert not Membership.objects.get(pk=admin.pk).alert_sound  # only my own
    page = client.get(f"/{tenant.slug}/").content.decode()
    assert 'data-sound="1"' in page
    assert 'data-desktop="1"' in page
    client.post(f"/{tenant.slug}/me/alerts/", {})
    with tenant_context(tenant):
        assert not Membership.objects.get(pk=manager.pk).alert_sound


def test_alerts_of_another_workspace_are_not_mine(client_for, tenant, other_tenant, manager):
    assert client_for(manager).get(f"/{other_tenant.slug}/me/alerts/").status_code == 404
    assert client_for(manager).post(f"/{other_tenant.slug}/me/alerts/", {}).status_code == 404


# --- The store on Redis (production) ---------------------------------------------------


def test_the_store_follows_the_configured_cache(settings):
    assert isinstance(live._store(), live._CacheStore)  # the tests' local memory
    settings.CACHES = {
        **settings.CACHES,
        "default": {"BACKEND": "crm.cache.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"},
    }
    assert isinstance(live._store(), live._RedisStore)  # no connection made yet


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL")
def test_the_redis_store_keeps_versions_and_events(monkeypatch):
    from crm.cache import RedisCache

    backend = RedisCache(os.environ["REDIS_URL"], {"KEY_PREFIX": f"test-live-{os.getpid()}"})
    monkeypatch.setattr(live, "_backend", lambda: backend)
    store = live._store()
    assert isinstance(store, live._RedisStore)
    try:
        assert live.current_versions(1, 7) == "0.0"
        store.bump(1, live.SHARED, ["10:3"])
        store.bump(1, "m7", ["11:3", "12:4"])
        store.bump(1, "m7", [])
        assert live.current_versions(1, 7) == "1.2"
        changes = live.changes_since(1, 7, "0.1")
        assert changes.versions == "1.2"
        assert sorted((e.lead_id, e.actor_id) for e in changes.events) == [(10, 3)]
        changes = live.changes_since(1, 7, "0.0")
        assert sorted(e.lead_id for e in changes.events) == [10, 11, 12]
        for _ in range(live.EVENTS_KEPT + 5):
            store.bump(1, live.SHARED, ["13:3"])
        assert len(live.changes_since(1, 7, "0.0").events) == live.EVENTS_KEPT + 2
    finally:
        client = backend._cache.get_client(write=True)
        for key in client.scan_iter(f"test-live-{os.getpid()}:*"):
            client.delete(key)


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL")
def test_the_poll_on_redis_end_to_end(
    settings, client_for, tenant, admin, manager, committed, django_assert_num_queries
):
    prefix = f"test-live-e2e-{os.getpid()}"
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "crm.cache.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            "KEY_PREFIX": prefix,
        },
    }
    try:
        tab = _tab(client_for, manager, tenant)
        with django_assert_num_queries(0):
            assert tab.poll().status_code == 204
        with tenant_context(tenant), committed():
            lead = make_lead(admin, owner=None)
        assert [a["id"] for a in tab.poll().json()["arrivals"]] == [lead.pk]
        with django_assert_num_queries(0):
            assert tab.poll().status_code == 204
    finally:
        client = live._backend()._cache.get_client(write=True)
        for key in client.scan_iter(f"{prefix}:*"):
            client.delete(key)
