"""Give tenants that existed before leads their default statuses."""

from django.db import migrations

from leads.services import DEFAULT_STATUSES


def seed(apps, schema_editor):
    Tenant = apps.get_model("crm", "Tenant")
    LeadStatus = apps.get_model("leads", "LeadStatus")
    for tenant in Tenant.objects.all():
        if LeadStatus.objects.filter(tenant=tenant).exists():
            continue
        LeadStatus.objects.bulk_create(
            LeadStatus(tenant=tenant, state=state, color=color, name=ru if tenant.language == "ru" else en,
                       is_default=default, position=position)
            for position, (state, color, ru, en, default) in enumerate(DEFAULT_STATUSES)
        )


def unseed(apps, schema_editor):
    apps.get_model("leads", "LeadStatus").objects.filter(leads__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("leads", "0001_initial"), ("crm", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
