"""The "reply" right (answer the person from a card, in their channel): every role keeps
what it could do with a record (its edit scope), marketers read conversations without
answering (issue 18)."""

from django.db import migrations

ENTITIES = ("lead", "deal", "contact")


def add_reply(apps, schema_editor):
    Role = apps.get_model("crm", "Role")
    for role in Role.objects.all():
        rights = dict(role.rights or {})
        for entity in ENTITIES:
            actions = dict(rights.get(entity, {}))
            if "reply" in actions:
                continue
            actions["reply"] = "none" if role.kind == "marketer" else actions.get("edit", "none")
            rights[entity] = actions
        role.rights = rights
        role.save(update_fields=["rights"])


def remove_reply(apps, schema_editor):
    Role = apps.get_model("crm", "Role")
    for role in Role.objects.all():
        rights = dict(role.rights or {})
        for entity in ENTITIES:
            actions = dict(rights.get(entity, {}))
            actions.pop("reply", None)
            rights[entity] = actions
        role.rights = rights
        role.save(update_fields=["rights"])


class Migration(migrations.Migration):
    dependencies = [("crm", "0011_qualify_right")]

    operations = [migrations.RunPython(add_reply, remove_reply)]
