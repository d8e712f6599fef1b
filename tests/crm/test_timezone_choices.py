"""The workspace's time zone: a list grouped by region with names in the reader's language,
searchable, storing the IANA name."""

from __future__ import annotations

import re

from django.utils import translation

from crm import timezones
from crm.models import Tenant
from crm.tenancy import tenant_context


def _settings(tenant: Tenant, **changes: str) -> dict[str, str]:
    data = {
        "name": tenant.name,
        "mode": tenant.mode,
        "language": tenant.language,
        "default_region": tenant.default_region,
        "time_zone": tenant.time_zone,
        "currency": tenant.currency,
    }
    return data | changes


def test_zones_are_grouped_by_region_and_named_in_russian():
    with translation.override("ru"):
        choices = timezones.zone_choices()
        groups = {str(label): dict(zones) for label, zones in choices[1:]}
    assert choices[0] == ("UTC", "(UTC) UTC")
    assert list(groups)[:4] == ["Европа", "Азия", "Америка", "Африка"]
    assert groups["Европа"]["Europe/Moscow"] == "(UTC+3) Москва, Россия"
    assert groups["Азия"]["Asia/Kolkata"] == "(UTC+5:30) Калькутта, Индия"  # CLDR's old key
    assert groups["Америка"]["America/Argentina/Buenos_Aires"].endswith("Буэнос-Айрес, Аргентина")
    # Old aliases and region-less names are not offered twice.
    names = {name for zones in groups.values() for name in zones}
    assert {"Europe/Kiev", "W-SU", "US/Eastern", "Asia/Calcutta"}.isdisjoint(names)
    assert "Europe/Kyiv" in names
    with translation.override("en"):
        europe = dict(timezones.zone_choices()[1][1])
    assert europe["Europe/Moscow"] == "(UTC+3) Moscow, Russia"


def test_search_words_hold_both_languages_and_the_iana_name():
    with translation.override("ru"):
        words = timezones.search_words("Asia/Yekaterinburg")
    assert {"asia/yekaterinburg", "екатеринбург", "россия", "yekaterinburg", "utc+5"} <= set(
        words.split()
    )


def test_the_settings_page_offers_the_searchable_grouped_list(tenant, admin, client_for):
    page = client_for(admin, "ru").get(f"/{tenant.slug}/settings/general/").content.decode()
    select = re.search(r'<select name="time_zone".*?</select>', page, re.S).group(0)
    assert "data-searchable" in select
    assert '<optgroup label="Европа">' in select
    assert re.search(r'<option value="Europe/Moscow"[^>]*selected[^>]*>\(UTC\+3\) Москва', select)
    assert 'data-search="europe/moscow москва россия moscow russia utc+3"' in select


def test_saving_stores_the_iana_name_and_refuses_unknown_zones(tenant, admin, client_for):
    client = client_for(admin, "en")
    url = f"/{tenant.slug}/settings/general/"
    assert client.post(url, _settings(tenant, time_zone="Asia/Yekaterinburg")).status_code == 302
    tenant.refresh_from_db()
    assert tenant.time_zone == "Asia/Yekaterinburg"
    for bad in ("Mars/Olympus", "Europe/Kiev", ""):
        response = client.post(url, _settings(tenant, time_zone=bad))
        assert response.status_code == 400, bad
        assert "time_zone" in response.context["form"].errors
    tenant.refresh_from_db()
    assert tenant.time_zone == "Asia/Yekaterinburg"


def test_a_zone_stored_under_an_old_name_stays_selected(tenant, admin, client_for):
    with tenant_context(tenant):
        Tenant.objects.filter(pk=tenant.pk).update(time_zone="Europe/Kiev")
    tenant.refresh_from_db()
    client = client_for(admin, "en")
    url = f"/{tenant.slug}/settings/general/"
    page = client.get(url).content.decode()
    assert re.search(r'<option value="Europe/Kiev"[^>]*selected', page)
    assert client.post(url, _settings(tenant)).status_code == 302
    tenant.refresh_from_db()
    assert tenant.time_zone == "Europe/Kiev"


def test_only_admins_see_it(tenant, director, client_for):
    assert client_for(director).get(f"/{tenant.slug}/settings/general/").status_code == 403
