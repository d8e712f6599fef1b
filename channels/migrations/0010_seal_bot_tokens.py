"""Telegram bot tokens stored encrypted at rest like every other provider secret (a token
sends messages as the bot since replies go out from the card: issue 18). Backwards: the
tokens in the clear again."""

from django.db import migrations

from crm.secrets import is_sealed, seal, unseal


def _each_telegram(apps, change):
    Channel = apps.get_model("channels", "Channel")
    for channel in Channel.objects.filter(kind="telegram"):
        token = str((channel.config or {}).get("bot_token") or "")
        changed = change(token)
        if token and changed != token:
            channel.config = {**channel.config, "bot_token": changed}
            channel.save(update_fields=["config"])


def seal_tokens(apps, schema_editor):
    _each_telegram(apps, lambda token: token if is_sealed(token) else seal(token))


def open_tokens(apps, schema_editor):
    _each_telegram(apps, unseal)


class Migration(migrations.Migration):
    dependencies = [("channels", "0009_conversations")]

    operations = [migrations.RunPython(seal_tokens, open_tokens)]
