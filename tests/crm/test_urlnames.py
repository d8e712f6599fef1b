"""tenant_reverse: the same URLs as reverse(), remembered per process."""

from __future__ import annotations

from django.urls import reverse, set_script_prefix

from crm.urlnames import tenant_reverse


def test_tenant_urls_are_those_of_reverse_under_any_script_prefix(tenant, other_tenant):
    for target in (tenant, other_tenant):
        for name, kwargs in (("leads:list", {}), ("leads:detail", {"pk": 7}), ("crm:home", {})):
            expected = reverse(name, kwargs={"tenant_slug": target.slug, **kwargs})
            assert tenant_reverse(name, target, **kwargs) == expected
            assert tenant_reverse(name, target, **kwargs) == expected  # from the cache
    try:
        set_script_prefix("/crm/")
        assert tenant_reverse("leads:list", tenant) == f"/crm/{tenant.slug}/leads/"
    finally:
        set_script_prefix("/")
    assert tenant_reverse("leads:list", tenant) == f"/{tenant.slug}/leads/"
