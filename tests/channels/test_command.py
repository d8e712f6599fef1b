"""`manage.py create_channel`: provisioning from scripts."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from channels.models import Channel
from crm.tenancy import tenant_context
from tests.channels.conftest import leads_of


def _run(*args: str) -> list[str]:
    from io import StringIO

    out = StringIO()
    call_command("create_channel", *args, stdout=out)
    return out.getvalue().splitlines()


def test_create_channel_prints_the_endpoint_and_the_api_token(tenant, manager, deliver):
    lines = _run(
        "--tenant",
        tenant.slug,
        "--kind",
        "api",
        "--name",
        "ERP",
        "--secret",
        "s3cr3t-token",
        "--owner",
        manager.user.email,
        "--option",
        "rate_limit=50",
    )
    with tenant_context(tenant):
        channel = Channel.objects.get(name="ERP")
    assert lines == [f"/in/{channel.token}/", "API token: s3cr3t-token"]
    assert channel.config == {"rate_limit": 50}
    assert channel.default_owner_id == manager.pk
    assert deliver(channel, {"phone": "+79990001122"}).status_code == 202
    assert leads_of(tenant)[0].owner_id == manager.pk


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tenant", "nope", "--kind", "api", "--name", "x"], "No tenant"),
        (["--tenant", "acme", "--kind", "api", "--name", "x", "--option", "speed=1"], "Unknown"),
        (["--tenant", "acme", "--kind", "api", "--name", "x", "--option", "rate_limit"], "NAME="),
        (["--tenant", "acme", "--kind", "api", "--name", "x", "--option", "rate_limit=-5"], "rate"),
        (["--tenant", "acme", "--kind", "api", "--name", "x", "--owner", "ghost@x.y"], "ghost"),
    ],
)
def test_create_channel_refuses_bad_arguments(tenant, args, message):
    with pytest.raises(CommandError, match=message):
        _run(*args)
    with tenant_context(tenant):
        assert not Channel.objects.exists()
