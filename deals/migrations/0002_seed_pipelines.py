"""Give tenants that existed before deals their default pipelines and stages."""

from django.db import migrations

from deals.services import DEFAULT_PIPELINES


def seed(apps, schema_editor):
    Tenant = apps.get_model("crm", "Tenant")
    Pipeline = apps.get_model("deals", "Pipeline")
    Stage = apps.get_model("deals", "Stage")
    for tenant in Tenant.objects.all():
        if Pipeline.objects.filter(tenant=tenant).exists():
            continue
        ru = tenant.language == "ru"
        for position, (name_ru, name_en, default, repeat, stages) in enumerate(DEFAULT_PIPELINES):
            pipeline = Pipeline.objects.create(
                tenant=tenant, name=name_ru if ru else name_en, position=position,
                is_default=default, is_repeat=repeat,
            )
            Stage.objects.bulk_create(
                Stage(tenant=tenant, pipeline=pipeline, kind=kind, color=color,
                      probability=probability, name=s_ru if ru else s_en, position=i)
                for i, (kind, color, probability, s_ru, s_en) in enumerate(stages)
            )


def unseed(apps, schema_editor):
    Pipeline = apps.get_model("deals", "Pipeline")
    Pipeline.objects.filter(deals__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("deals", "0001_initial"), ("crm", "0004_customfield")]
    operations = [migrations.RunPython(seed, unseed)]
