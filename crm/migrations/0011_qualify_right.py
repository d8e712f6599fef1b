"""The lead "qualify" right: every role keeps what it could do (its edit scope), marketers
may qualify every lead they see (seed 002: marketers qualify leads)."""

from django.db import migrations


def add_qualify(apps, schema_editor):
    Role = apps.get_model("crm", "Role")
    for role in Role.objects.all():
        rights = dict(role.rights or {})
        lead = dict(rights.get("lead", {}))
        if "qualify" in lead:
            continue
        lead["qualify"] = "all" if role.kind == "marketer" else lead.get("edit", "none")
        rights["lead"] = lead
        role.rights = rights
        role.save(update_fields=["rights"])


def remove_qualify(apps, schema_editor):
    Role = apps.get_model("crm", "Role")
    for role in Role.objects.all():
        lead = dict((role.rights or {}).get("lead", {}))
        if lead.pop("qualify", None) is not None:
            role.rights = {**role.rights, "lead": lead}
            role.save(update_fields=["rights"])


class Migration(migrations.Migration):
    dependencies = [("crm", "0010_attachment")]

    operations = [migrations.RunPython(add_qualify, remove_qualify)]
