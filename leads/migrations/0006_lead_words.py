"""The search words of leads (LeadWord), filled for the leads that exist.

On PostgreSQL one INSERT … SELECT splits every lead's title, name and company in SQL (the
rule of leads/words.py, frozen here). It runs before the table's indexes and foreign keys
are built (Django creates those at the end of the migration), as the migrating role, which
owns the tables and bypasses row-level security. Elsewhere the words are made in Python.
"""

import django.db.models.deletion
import django.db.models.manager
import leads.models
from django.db import migrations, models

BACKFILL = r"""
INSERT INTO leads_leadword (tenant_id, lead_id, owner_id, created_at, word)
SELECT l.tenant_id, l.id, l.owner_id, l.created_at, w.word
FROM leads_lead l
CROSS JOIN LATERAL (
    SELECT DISTINCT left(part, 32) AS word
    FROM regexp_split_to_table(
        translate(upper(l.title || ' ' || l.name || ' ' || l.company_name), 'Ё', 'Е'), '\W+'
    ) AS part
    WHERE length(part) >= 2
) w
"""


def backfill(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKFILL)
        schema_editor.execute("ANALYZE leads_leadword")
        return
    from leads.words import text_words

    Lead = apps.get_model("leads", "Lead")
    LeadWord = apps.get_model("leads", "LeadWord")
    leads = Lead.objects.only("tenant_id", "owner_id", "created_at", "title", "name", "company_name")
    for lead in leads.iterator(chunk_size=2000):
        LeadWord.objects.bulk_create(
            LeadWord(tenant_id=lead.tenant_id, lead_id=lead.pk, owner_id=lead.owner_id,
                     created_at=lead.created_at, word=word)
            for word in text_words(lead.title, lead.name, lead.company_name)
        )


class Migration(migrations.Migration):

    dependencies = [
        ('crm', '0004_customfield'),
        ('leads', '0005_shared_inbox_index'),
    ]

    operations = [
        migrations.CreateModel(
            name='LeadWord',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('created_at', models.DateTimeField()),
                ('word', leads.models.BytewiseCharField(max_length=32)),
                ('lead', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='leads.lead')),
                ('owner', models.ForeignKey(db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='crm.membership')),
                ('tenant', models.ForeignKey(editable=False, on_delete=django.db.models.deletion.PROTECT, to='crm.tenant')),
            ],
            options={
                'abstract': False,
                'base_manager_name': 'unscoped',
                'indexes': [models.Index(fields=['tenant', 'word', '-created_at'], include=('lead', 'owner'), name='leads_word'), models.Index(fields=['tenant', 'owner', 'word', '-created_at'], include=('lead',), name='leads_word_owner')],
                'constraints': [models.UniqueConstraint(fields=('tenant', 'lead', 'word'), name='leads_word_unique_per_lead')],
            },
            managers=[
                ('objects', django.db.models.manager.Manager()),
                ('unscoped', django.db.models.manager.Manager()),
            ],
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
