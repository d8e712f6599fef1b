"""Prepare the ingestion benchmark's database (idempotent); print what the run needs as JSON.

Run by bench/ingest/run.py as the owner role: the tenant `ingest` with its administrator and
one manager (who logs in to the inbox), its API channel (rate limit high enough for the
load), a web form channel (a GET of its address is the trivial endpoint the API endpoint is
compared with), and the floor's table `bench_floor_row`, emptied, writable by the
application role; then VACUUM ANALYZE (earlier runs' rows).
`phone_base` is the first phone number (+79XXXXXXXXX) not used yet, so no delivery of the
run matches an earlier run's lead.
"""

from __future__ import annotations

import json
import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
django.setup()

from django.db import connection, transaction  # noqa: E402
from django.db.models import BigIntegerField, Max  # noqa: E402
from django.db.models.functions import Cast, Substr  # noqa: E402
from psycopg import sql  # noqa: E402

from bench.plan import BENCH_PASSWORD  # noqa: E402
from channels.models import Channel  # noqa: E402
from channels.services import channel_create  # noqa: E402
from crm import services  # noqa: E402
from crm.models import Membership, Role, Tenant, User  # noqa: E402
from crm.tenancy import tenant_context  # noqa: E402
from leads.models import Lead  # noqa: E402

SLUG = "ingest"
ADMIN = "admin@ingest.bench.local"
MANAGER = "manager@ingest.bench.local"
CHANNEL = "Bench API"
FORM = "Bench web form"


def _user(email: str, full_name: str) -> User:
    user = User.objects.filter(email=email).first()
    return user or User.objects.create_user(email, BENCH_PASSWORD, full_name=full_name)


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
        last = (
            Lead.objects.filter(phone_e164__startswith="+79")
            .annotate(number=Cast(Substr("phone_e164", 4), BigIntegerField()))
            .aggregate(Max("number"))["number__max"]
        )
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
                "phone_base": (last or 0) + 1,
            }
        )
    )


if __name__ == "__main__":
    main()
