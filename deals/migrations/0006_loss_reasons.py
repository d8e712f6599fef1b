"""Loss reasons as a workspace's list: the LossReason table and the deal's link to it.

The old free-text column is kept as `loss_reason_text` until 0007 has mapped its values to
reasons; 0008 drops it. Each step reverses."""

import django.db.models.deletion
import django.db.models.manager
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('crm', '0006_system_member_away_sla'),
        ('deals', '0005_analytics_indexes'),
    ]

    operations = [
        migrations.CreateModel(
            name='LossReason',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('name', models.CharField(max_length=80, verbose_name='name')),
                ('position', models.PositiveIntegerField(default=0, verbose_name='position')),
                ('is_active', models.BooleanField(default=True, verbose_name='active')),
                ('tenant', models.ForeignKey(editable=False, on_delete=django.db.models.deletion.PROTECT, to='crm.tenant')),
            ],
            options={
                'ordering': ['position', 'pk'],
                'abstract': False,
                'base_manager_name': 'unscoped',
            },
            managers=[
                ('objects', django.db.models.manager.Manager()),
                ('unscoped', django.db.models.manager.Manager()),
            ],
        ),
        migrations.AddConstraint(
            model_name='lossreason',
            constraint=models.UniqueConstraint(fields=('tenant', 'name'), name='deals_lossreason_unique_name'),
        ),
        migrations.RenameField(model_name='deal', old_name='loss_reason', new_name='loss_reason_text'),
        migrations.AddField(
            model_name='deal',
            name='loss_reason',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='deals', to='deals.lossreason', verbose_name='loss reason'),
        ),
    ]
