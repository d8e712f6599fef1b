def test_home(client_for, admin, tenant):
    c = client_for(admin)
    r = c.get(f"/{tenant.slug}/")
    assert r.status_code == 200, r.content[:2000]
    for url in ["settings/general/", "settings/users/", "settings/teams/", "settings/roles/", "settings/audit/"]:
        r = c.get(f"/{tenant.slug}/{url}")
        assert r.status_code == 200, (url, r.content[:3000])
