"""The free-text loss reason is gone: 0007 turned every value into a linked reason."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("deals", "0007_seed_loss_reasons")]
    operations = [
        migrations.RemoveField(model_name="deal", name="loss_reason_text"),
    ]
