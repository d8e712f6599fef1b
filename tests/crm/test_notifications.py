"""Notifications: the bell, e-mail after commit, reminders sent once."""

from __future__ import annotations

from datetime import timedelta

from django.core import mail
from django.utils import timezone

from crm.models import Activity, Notification
from crm.tenancy import tenant_context
from leads import services
from tests.leads.factories import make_lead


def test_assignment_notifies_in_app_and_by_email(
    client_for, tenant, admin, manager, django_capture_on_commit_callbacks
):
    with tenant_context(tenant):
        lead = make_lead(admin, title="Для Ивана")
        with django_capture_on_commit_callbacks(execute=True):
            services.lead_assign(actor=admin, lead=lead, owner=manager)
        note = Notification.objects.get(recipient=manager)
    assert note.kind == "lead.assigned"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [manager.user.email]
    assert "Для Ивана" in mail.outbox[0].subject
    assert f"/{tenant.slug}/leads/{lead.pk}/" in mail.outbox[0].body
    client = client_for(manager)
    page = client.get(f"/{tenant.slug}/").content.decode()
    assert 'data-testid="unread">1<' in page
    opened = client.get(f"/{tenant.slug}/notifications/{note.pk}/")
    assert opened["Location"] == f"/{tenant.slug}/leads/{lead.pk}/"
    assert 'data-testid="unread"' not in client.get(f"/{tenant.slug}/").content.decode()


def test_self_assignment_does_not_notify(tenant, manager):
    with tenant_context(tenant):
        make_lead(manager)
        assert not Notification.objects.exists()


def test_others_cannot_open_my_notification(client_for, tenant, admin, manager):
    with tenant_context(tenant):
        lead = make_lead(admin)
        services.lead_assign(actor=admin, lead=lead, owner=manager)
        note = Notification.objects.get()
    assert client_for(admin).get(f"/{tenant.slug}/notifications/{note.pk}/").status_code == 404
    with tenant_context(tenant):
        assert Notification.objects.get().read_at is None


def test_reminders_go_out_once(tenant, manager, django_capture_on_commit_callbacks):
    now = timezone.now()
    with tenant_context(tenant):
        lead = make_lead(manager, title="Клиент")
        services.lead_activity_add(
            actor=manager,
            lead=lead,
            kind="call",
            subject="Перезвонить",
            due_at=now + timedelta(hours=1),
            remind_at=now - timedelta(minutes=1),
        )
        services.lead_activity_add(
            actor=manager, lead=lead, kind="task", subject="Позже", due_at=now + timedelta(days=1)
        )
        with django_capture_on_commit_callbacks(execute=True):
            assert services.activities_send_reminders(now=now) == 1
            assert services.activities_send_reminders(now=now) == 0
        note = Notification.objects.get(kind="activity.reminder")
        assert note.data == {
            "subject": "Перезвонить",
            "title": "Клиент",
            "due_at": (now + timedelta(hours=1)).isoformat(),
        }
        assert Activity.objects.filter(reminded_at__isnull=False).count() == 1
    assert len(mail.outbox) == 1


def test_the_reminder_task_runs_per_tenant(tenant, other_tenant, manager):
    from leads.tasks import activities_send_reminders_all_task

    with tenant_context(tenant):
        lead = make_lead(manager)
        services.lead_activity_add(
            actor=manager,
            lead=lead,
            kind="call",
            subject="Сейчас",
            due_at=timezone.now() - timedelta(minutes=5),
        )
    assert activities_send_reminders_all_task.apply().get() == 2
    with tenant_context(tenant):
        assert Notification.objects.filter(kind="activity.reminder").count() == 1
    with tenant_context(other_tenant):
        assert not Notification.objects.exists()


def test_mark_all_read(client_for, tenant, admin, manager):
    with tenant_context(tenant):
        for _ in range(3):
            services.lead_assign(actor=admin, lead=make_lead(admin), owner=manager)
    client = client_for(manager)
    assert "3" in client.get(f"/{tenant.slug}/notifications/").content.decode()
    client.post(f"/{tenant.slug}/notifications/read/")
    with tenant_context(tenant):
        assert not Notification.objects.filter(read_at=None).exists()


def test_a_line_break_in_a_title_never_reaches_an_e_mail_header(
    client_for, tenant, admin, manager, django_capture_on_commit_callbacks
):
    """A lead's title is a notification's subject: CR/LF there would inject headers."""
    title = "Срочно\r\nBcc: victim@example.com\u2028X-Evil: 1"
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(admin).post(
            f"/{tenant.slug}/leads/new/",
            {
                "title": title,
                "name": "Анна\r\nCc: x@example.com",
                "phone": "+7 999 765-43-21",
                "source": "manual",
                "currency": "RUB",
                "owner": manager.pk,
            },
        )
    assert response.status_code == 302
    (message,) = mail.outbox
    assert "\r" not in message.subject
    assert "\n" not in message.subject
    assert "Срочно Bcc: victim@example.com X-Evil: 1" in message.subject
    headers = message.message().as_bytes().split(b"\n\n", 1)[0]
    assert b"\nBcc:" not in headers
    assert b"\nX-Evil:" not in headers
    assert message.recipients() == [manager.user.email]
