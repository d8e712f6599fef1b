"""The trigram indexes of 0003 are unused: under row-level security PostgreSQL cannot use
them (pg_trgm and LIKE are not leakproof), and name search reads leads_leadword instead
(bench/README.md, finding 3). Dropping them makes every lead write cheaper."""

import importlib

from django.db import migrations

trigram = importlib.import_module("leads.migrations.0003_trigram_search")


class Migration(migrations.Migration):
    dependencies = [("leads", "0007_lead_conversion_links")]
    operations = [migrations.RunPython(trigram.drop, trigram.create)]
