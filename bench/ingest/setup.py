"""Prepare the ingestion benchmark's database (idempotent); print what the run needs as JSON.

Run by bench/ingest/run.py as the owner role: the tenant `ingest` with its administrator and
one manager (who logs in to the inbox), its API channel (rate limit high enough for the
load), a web form channel (a GET of its address is the trivial endpoint the API endpoint is
compared with), the mixed run's channels (`mixed`: one per kind of bench/ingest/mixed.py,
each with the token and secrets its requests need), and the floor's table
`bench_floor_row`, emptied, writable by the application role; then VACUUM ANALYZE (earlier
runs' rows).
`phone_base` is the first person number not used yet — above every +79XXXXXXXXX phone and
every Telegram id, VK id and e-mail address of the mixed channels' people — so no delivery
of the run matches an earlier run's lead.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
django.setup()

from django.db import connection, transaction  # noqa: E402
from psycopg import sql  # noqa: E402

from bench.ingest import mixed  # noqa: E402
from bench.plan import BENCH_PASSWORD  # noqa: E402
from channels.models import Channel, ChannelKind  # noqa: E402
from channels.services import channel_create  # noqa: E402
from crm import services  # noqa: E402
from crm.models import Membership, Role, Tenant, User  # noqa: E402
from crm.secrets import seal, unseal  # noqa: E402
from crm.tenancy import tenant_context  # noqa: E402

SLUG = "ingest"
ADMIN = "admin@ingest.bench.local"
MANAGER = "manager@ingest.bench.local"
CHANNEL = "Bench API"
FORM = "Bench web form"
# The mixed run's channels, by kind (the API channel is CHANNEL).
MIXED = {
    "web_form": "Bench mixed web form",
    "telegram": "Bench Telegram",
    "whatsapp": "Bench WhatsApp",
    "vk": "Bench VK",
    "pbx": "Bench PBX",
    "email": "Bench e-mail",
}
# The config value each kind keeps sealed (crm.secrets).
SEALED = {"whatsapp": "app_secret", "vk": "secret_key"}
# The first person number not used yet: above every phone +79XXXXXXXXX and every Telegram
# id, VK id and e-mail address bench/ingest/mixed.py gives its people.
LAST_PERSON = r"""
SELECT greatest(
    max(substr(phone_e164, 4)::bigint) FILTER (WHERE phone_e164 ~ '^\+79[0-9]{9}$'),
    max(messenger_id::bigint) FILTER (
        WHERE messenger = 'telegram' AND messenger_id ~ '^[0-9]{1,15}$'),
    max(substr(messenger_id, 3)::bigint) FILTER (
        WHERE messenger = 'vk' AND messenger_id ~ '^id[0-9]{1,15}$'),
    max(substring(email FROM '^[a-z]([0-9]{1,15})@')::bigint) FILTER (
        WHERE email LIKE %s)
) FROM leads_lead WHERE tenant_id = %s
"""


def _user(email: str, full_name: str) -> User:
    user = User.objects.filter(email=email).first()
    return user or User.objects.create_user(email, BENCH_PASSWORD, full_name=full_name)


def _mixed_channel(tenant: Tenant, admin: Membership, kind: str) -> Channel:
    """The mixed run's channel of `kind`, set up once with the config its adapter reads.
    Telegram's is created directly: `channel_create` would register its webhook with the
    Bot API. Sealed secrets are sealed anew each run (`_reseal`)."""
    name = MIXED[kind]
    channel = Channel.objects.filter(name=name).first()
    if channel is not None:
        return _reseal(channel)
    if kind == "telegram":
        bot = {
            "bot_token": f"1000000001:{secrets.token_urlsafe(27)}",
            "bot_username": "voronka_bench_bot",
            "webhook_url": "",
            "webhook_set_at": "",
            "webhook_error": "",
        }
        return Channel.objects.create(tenant=tenant, kind=kind, name=name, config=bot)
    config: dict[str, Any] = {
        # A site builder's webhook: held only by the channel's limit (high, as the API's).
        "web_form": {"rate_limit": 100_000, "rate_limit_ip": 100_000},
        "whatsapp": {
            "app_secret": seal(secrets.token_hex(16)),
            "phone_number_id": mixed.WHATSAPP_PHONE_NUMBER_ID,
        },
        "vk": {
            "group_id": mixed.VK_GROUP_ID,
            "confirmation": "bench1234",
            "secret_key": seal(secrets.token_hex(16)),
        },
        "pbx": {},
        # Raw mail POSTed to the endpoint only: no mailbox to poll.
        "email": {
            "imap_host": "",
            "imap_port": 993,
            "imap_security": "ssl",
            "imap_user": "",
            "imap_password": "",
            "imap_folder": "INBOX",
        },
    }[kind]
    return channel_create(actor=admin, kind=kind, name=name, config=config)


def _reseal(channel: Channel) -> Channel:
    """New sealed secrets for `channel` (WhatsApp's app secret, VK's secret key): each run
    seals with a key of its own (run.py's FIELD_ENCRYPTION_KEYS), so an earlier run's
    sealed value opens no more; the problem that left on the channel goes with it."""
    name = SEALED.get(channel.kind)
    if name is None:
        return channel
    channel.config = {**channel.config, name: seal(secrets.token_hex(16))}
    channel.problem, channel.problem_since = "", None
    channel.save(update_fields=["config", "problem", "problem_since"])
    return channel


def _mixed_entry(channel: Channel) -> dict[str, Any]:
    """What the mixed run's requests to `channel` need (bench/ingest/mixed.py)."""
    entry: dict[str, Any] = {"token": channel.token, "secret": channel.secret}
    if channel.kind == "whatsapp":
        entry["app_secret"] = unseal(channel.config["app_secret"])
    if channel.kind == "vk":
        entry["secret_key"] = unseal(channel.config["secret_key"])
        entry["group_id"] = channel.config["group_id"]
    return entry


def main() -> None:
    app_role = sys.argv[1]
    with transaction.atomic():
        tenant = Tenant.objects.filter(slug=SLUG).first()
        if tenant is None:
            owner = _user(ADMIN, "Администратор Нагрузки")
            tenant, _admin = services.tenant_create(
                name="ООО «Поток заявок»", slug=SLUG, owner=owner, language="ru"
            )
    with tenant_context(tenant):
        admin = Membership.objects.get(user__email=ADMIN)
        if not Membership.objects.filter(user__email=MANAGER).exists():
            manager = _user(MANAGER, "Менеджер Нагрузки")
            Membership.objects.create(user=manager, role=Role.objects.get(kind=Role.Kind.MANAGER))
        channel = Channel.objects.filter(name=CHANNEL).first() or channel_create(
            actor=admin, kind="api", name=CHANNEL, config={"rate_limit": 100_000}
        )
        form = Channel.objects.filter(name=FORM).first() or channel_create(
            actor=admin, kind="web_form", name=FORM
        )
        # The e-mail kind exists once the e-mail channel is merged: absent, it is left out.
        kinds = [kind for kind in MIXED if kind in ChannelKind.values]
        channels = {kind: _mixed_channel(tenant, admin, kind) for kind in kinds}
        mixed_channels = {
            "api": _mixed_entry(channel),
            **{kind: _mixed_entry(c) for kind, c in channels.items()},
        }
        with connection.cursor() as cursor:
            cursor.execute(LAST_PERSON, [f"%@{mixed.DOMAIN}", tenant.pk])
            last = cursor.fetchone()[0]
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS bench_floor_row (id bigserial PRIMARY KEY, "
            "n integer NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
        )
        cursor.execute("TRUNCATE bench_floor_row")
        # Earlier runs added tens of thousands of rows and left as many dead ones (every
        # delivery is stored pending, then updated): vacuumed and with fresh statistics, as
        # autovacuum would have done by now on a server that ran that long. Without it a
        # drain's claim walks dead index entries (PostgreSQL's CPU a delivery 1.0 → 2.0 ms)
        # and the inbox plans on stale statistics.
        cursor.execute("VACUUM ANALYZE")
        role = sql.Identifier(app_role)
        cursor.execute(sql.SQL("GRANT SELECT, INSERT ON bench_floor_row TO {}").format(role))
        cursor.execute(sql.SQL("GRANT USAGE ON SEQUENCE bench_floor_row_id_seq TO {}").format(role))
    print(
        json.dumps(
            {
                "slug": SLUG,
                "tenant_id": tenant.pk,
                "email": MANAGER,
                "token": channel.token,
                "secret": channel.secret,
                "form_token": form.token,
                "mixed": mixed_channels,
                "phone_base": (last or 0) + 1,
            }
        )
    )


if __name__ == "__main__":
    main()
