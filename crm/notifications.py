"""Notifications: in-app messages (the bell) that also go out by e-mail after commit."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm import live
from crm.models import Membership, Notification
from crm.periods import local_text
from crm.text import isolated

NOTIFICATION_TEXTS = {
    "lead.assigned": _("You are now responsible for the lead “%(title)s”"),
    "deal.assigned": _("You are now responsible for the deal “%(title)s”"),
    "activity.reminder": _("Reminder: %(subject)s (“%(title)s”)"),
    "activity.assigned": _("%(by)s gave you “%(subject)s” (“%(title)s”)"),
    "activity.assigned_due": _("%(by)s gave you “%(subject)s”, due %(due)s (“%(title)s”)"),
    "activity.reminder_due": _("Reminder: %(subject)s, due %(due)s (“%(title)s”)"),
    "lead.escalated": _("Nobody answered the lead “%(title)s” within %(minutes)s min"),
    "lead.returned": _("The postponed lead “%(title)s” is back in your inbox: %(reason)s"),
    "inquiry.repeat": _("A repeat inquiry came in on “%(title)s”"),
    "conversation.waiting": _(
        "The client of “%(title)s” has waited more than %(minutes)s min for an answer"
    ),
    "call.missed": _("Missed call from %(number)s (“%(title)s”)"),
    "channel.failing": _(
        "Channel “%(channel)s”: %(count)s deliveries failed or were rejected in %(minutes)s min"
    ),
    "channel.trouble": _("Channel “%(channel)s” does not work: %(problem)s"),
    "export.ready": _("Your export “%(filename)s” is ready to download"),
    "export.failed": _("Your export “%(filename)s” could not be prepared"),
    "import.done": _(
        "Import of “%(filename)s” done: %(created)s created, %(updated)s updated, "
        "%(skipped)s skipped, %(rejected)s rejected"
    ),
    "import.failed": _("Import of “%(filename)s” stopped on an error"),
}


def notification_text(notification: Notification) -> str:
    """The notification as a sentence in the active language; times in the active (the
    recipient's workspace's) zone."""
    kind = notification.kind
    values: defaultdict[str, str] = defaultdict(  # titles isolated, as in the timeline
        str, {k: isolated(str(v)) for k, v in notification.data.items()}
    )
    if kind == "activity.reminder" and notification.data.get("due_at"):
        kind, values["due"] = "activity.reminder_due", local_text(notification.data["due_at"])
    if kind == "activity.assigned" and notification.data.get("due_at"):
        kind, values["due"] = "activity.assigned_due", local_text(notification.data["due_at"])
    template = NOTIFICATION_TEXTS.get(kind)
    return str(template) % values if template else kind


def notify(
    *, recipients: list[Membership], kind: str, data: dict[str, Any], url: str = ""
) -> list[Notification]:
    """Notify members (skipping inactive ones); each is e-mailed once the transaction commits."""
    from crm.tasks import notification_email_task

    rows = [
        Notification.objects.create(recipient=member, kind=kind, data=data, url=url)
        for member in recipients
        if member is not None and member.is_active
    ]
    for row in rows:
        tenant_id, pk = row.tenant_id, row.pk
        transaction.on_commit(
            lambda t=tenant_id, p=pk: notification_email_task.delay(tenant_id=t, notification_id=p)
        )
    if rows:  # their open pages update the bell (crm.live)
        live.announce(tenant_id=rows[0].tenant_id, members=[row.recipient_id for row in rows])
    return rows


def unread_count(*, member: Membership) -> int:
    return Notification.objects.filter(recipient=member, read_at=None).count()


def notification_list(*, member: Membership) -> QuerySet[Notification]:
    return Notification.objects.filter(recipient=member)


def notification_get(*, member: Membership, notification_id: int) -> Notification:
    notification = notification_list(member=member).filter(pk=notification_id).first()
    if notification is None:
        raise Http404
    return notification


def notifications_mark_read(*, member: Membership, ids: list[int] | None = None) -> int:
    """Mark the member's notifications read (all of them, or those in `ids`)."""
    unread = Notification.objects.filter(recipient=member, read_at=None)
    if ids is not None:
        unread = unread.filter(pk__in=ids)
    count = unread.update(read_at=timezone.now())
    if count:  # the bell of the member's other open pages
        live.announce(tenant_id=member.tenant_id, members=[member.pk])
    return count
