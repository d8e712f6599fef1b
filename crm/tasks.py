"""Celery entry points of the core: ids in, tenant entered by TenantTask, work done."""

from __future__ import annotations

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from crm.celery import TenantTask, app
from crm.mail import send_email
from crm.models import Invitation
from crm.urlnames import site_url


@app.task(base=TenantTask, autoretry_for=(OSError,))
def invitation_send_task(*, tenant_id: int, invitation_id: int) -> None:
    """E-mail an invitation link (retried on mail-server errors; skipped once spent)."""
    from crm.services import invitation_token

    invitation = (
        Invitation.objects.select_related("tenant", "role", "invited_by__user")
        .filter(pk=invitation_id)
        .first()
    )
    if invitation is None or not invitation.is_pending:
        return
    link = site_url() + reverse(
        "accounts:invitation_accept", kwargs={"token": invitation_token(invitation)}
    )
    with translation.override(invitation.tenant.language):
        context = {"invitation": invitation, "link": link, "days": settings.INVITATION_MAX_AGE_DAYS}
        subject = render_to_string("accounts/email/invitation_subject.txt", context)
        body = render_to_string("accounts/email/invitation_body.txt", context)
    send_email(subject=subject, body=body, to=[invitation.email])


@app.task(base=TenantTask, autoretry_for=(OSError,))
def notification_email_task(*, tenant_id: int, notification_id: int) -> None:
    """E-mail one notification to its recipient, once (a retry after success sends nothing)."""
    from django.utils import timezone

    from crm.models import Notification
    from crm.notifications import notification_text

    notification = (
        Notification.objects.select_related("recipient__user", "tenant")
        .filter(pk=notification_id, emailed_at=None)
        .first()
    )
    if notification is None or not notification.recipient.is_active:
        return
    with translation.override(notification.tenant.language):
        text = notification_text(notification)
        link = site_url() + notification.url if notification.url else ""
        body = render_to_string(
            "crm/email/notification_body.txt",
            {"text": text, "link": link, "tenant": notification.tenant},
        )
    if (
        Notification.objects.filter(pk=notification.pk, emailed_at=None).update(
            emailed_at=timezone.now()
        )
        == 1
    ):
        send_email(subject=text, body=body, to=[notification.recipient.user.email])
