"""Every workspace gets the default loss reasons, and the free-text reasons of its lost
deals become links: a text that names a reason (either language's default name, any case)
links to it; any other text becomes a reason of its own, inactive (kept for the deals and
the reports, out of the choice until an administrator turns it on). The reverse writes
each linked reason's name back into the text column."""

from django.db import migrations

# The defaults as they were when this migration was written (deals.services holds the live
# list; a migration must not change when the code does).
DEFAULT_LOSS_REASONS = (
    ("Дорого", "Too expensive"),
    ("Выбрали конкурента", "Chose a competitor"),
    ("Нет бюджета", "No budget"),
    ("Не выходит на связь", "No answer"),
    ("Не наш клиент", "Not our client"),
    ("Другое", "Other"),
)


def _key(text):
    return " ".join(text.split()).casefold()


def forwards(apps, schema_editor):
    Tenant = apps.get_model("crm", "Tenant")
    LossReason = apps.get_model("deals", "LossReason")
    Deal = apps.get_model("deals", "Deal")
    for tenant in Tenant.objects.all():
        ru = tenant.language == "ru"
        reasons = {_key(r.name): r for r in LossReason.objects.filter(tenant=tenant)}
        if not reasons:
            for position, (name_ru, name_en) in enumerate(DEFAULT_LOSS_REASONS):
                reason = LossReason.objects.create(
                    tenant=tenant, name=name_ru if ru else name_en, position=position
                )
                reasons[_key(name_ru)] = reasons[_key(name_en)] = reason
        position = len(DEFAULT_LOSS_REASONS)
        texts = (
            Deal.objects.filter(tenant=tenant, loss_reason=None)
            .exclude(loss_reason_text="")
            .values_list("loss_reason_text", flat=True)
            .distinct()
            .order_by("loss_reason_text")
        )
        for text in list(texts):
            reason = reasons.get(_key(text))
            if reason is None:
                name = " ".join(text.split())[:80] or text[:80]
                reason = LossReason.objects.filter(tenant=tenant, name=name).first()
                if reason is None:
                    reason = LossReason.objects.create(
                        tenant=tenant, name=name, position=position, is_active=False
                    )
                    position += 1
                reasons[_key(text)] = reason
            Deal.objects.filter(tenant=tenant, loss_reason=None, loss_reason_text=text).update(
                loss_reason=reason
            )


def backwards(apps, schema_editor):
    LossReason = apps.get_model("deals", "LossReason")
    Deal = apps.get_model("deals", "Deal")
    for reason in LossReason.objects.all():
        Deal.objects.filter(loss_reason=reason).update(loss_reason_text=reason.name[:200])
    Deal.objects.update(loss_reason=None)


class Migration(migrations.Migration):
    dependencies = [("deals", "0006_loss_reasons")]
    operations = [migrations.RunPython(forwards, backwards)]
