"""PostgreSQL only: trigram indexes so "contains" searches on names stay fast at 1M+ leads."""

from django.db import migrations

INDEXES = {
    "leads_title_trgm": "title",
    "leads_name_trgm": "name",
    "leads_company_trgm": "company_name",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for index, column in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {index} ON leads_lead USING gin (upper({column}) gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for index in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {index}")


class Migration(migrations.Migration):
    dependencies = [("leads", "0002_seed_statuses")]
    operations = [migrations.RunPython(create, drop)]
