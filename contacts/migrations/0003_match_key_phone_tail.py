"""Phone endings as match keys (kind "phone_tail": the digits backwards), made for the phones
the contacts and companies already have, so the top-bar search finds them by the last digits.
Run as the migrating role (the tables' owner: no row-level security)."""

from django.db import migrations, models


def backfill(apps, schema_editor):
    MatchKey = apps.get_model("contacts", "MatchKey")
    phones = MatchKey.objects.filter(kind="phone").values_list(
        "tenant_id", "value", "contact_id", "company_id"
    )
    batch = []
    for tenant_id, value, contact_id, company_id in phones.iterator(chunk_size=5000):
        tail = "".join(c for c in value if c.isdigit())[::-1]
        if tail:
            batch.append(
                MatchKey(tenant_id=tenant_id, kind="phone_tail", value=tail,
                         contact_id=contact_id, company_id=company_id)
            )
        if len(batch) >= 5000:
            MatchKey.objects.bulk_create(batch)
            batch = []
    MatchKey.objects.bulk_create(batch)


def drop(apps, schema_editor):
    apps.get_model("contacts", "MatchKey").objects.filter(kind="phone_tail").delete()


class Migration(migrations.Migration):

    dependencies = [
        ('contacts', '0002_blocked_sender'),
    ]

    operations = [
        migrations.AlterField(
            model_name='matchkey',
            name='kind',
            field=models.CharField(choices=[('phone', 'Phone'), ('email', 'E-mail'), ('telegram', 'Telegram'), ('whatsapp', 'WhatsApp'), ('vk', 'VK'), ('tax_id', 'Tax id'), ('word', 'Name word'), ('phone_tail', 'Phone ending')], max_length=16),
        ),
        migrations.RunPython(backfill, drop),
    ]
