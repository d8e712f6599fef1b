"""The Russian interface reads right: buttons are verbs, the rights matrix keeps its nouns,
times ago and durations take the right case and plural, nothing says "Close"."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from crm.models import Notification
from crm.notifications import notify
from crm.tenancy import tenant_context
from leads.models import Lead
from tests.leads.factories import make_lead


@pytest.mark.parametrize(
    ("minutes", "text"),
    [(1, "1 минуту назад"), (4, "4 минуты назад"), (5, "5 минут назад"), (21, "21 минуту назад")],
)
def test_notifications_say_how_long_ago_in_russian(tenant, admin, client_for, minutes, text):
    with tenant_context(tenant):
        (note,) = notify(recipients=[admin], kind="lead.assigned", data={"title": "Заявка"})
        Notification.objects.filter(pk=note.pk).update(
            created_at=timezone.now() - timedelta(minutes=minutes, seconds=10)
        )
    page = client_for(admin, "ru").get(f"/{tenant.slug}/notifications/").content.decode()
    assert text in page.replace("\xa0", " ")


def test_the_overview_says_how_long_ago_too(tenant, admin, client_for):
    page = client_for(admin, "ru").get(f"/{tenant.slug}/").content.decode()
    assert "· сейчас</span>" in page  # the workspace was made a moment ago


@pytest.mark.parametrize(
    ("minutes", "text"),
    [
        (0, "Ответ меньше чем за минуту"),
        (1, "Ответ за 1 минуту"),
        (3, "Ответ за 3 минуты"),
        (21, "Ответ за 21 минуту"),
        (65, "Ответ за 1 час, 5 минут"),
    ],
)
def test_the_response_time_takes_the_accusative(tenant, admin, client_for, minutes, text):
    with tenant_context(tenant):
        lead = make_lead(admin)
        Lead.objects.filter(pk=lead.pk).update(
            first_response_at=lead.created_at + timedelta(minutes=minutes)
        )
    page = client_for(admin, "ru").get(f"/{tenant.slug}/leads/{lead.pk}/").content.decode()
    assert text in page.replace("\xa0", " ")


def test_buttons_are_verbs_and_the_matrix_keeps_its_nouns(tenant, admin, client_for):
    with tenant_context(tenant):
        lead = make_lead(admin)
    client = client_for(admin, "ru")
    card = client.get(f"/{tenant.slug}/leads/{lead.pk}/").content.decode()
    assert ">Удалить</button>" in card
    assert ">Забраковать</button>" in card
    assert ">В спам</button>" in card
    assert "Удаление" not in card
    home = client.get(f"/{tenant.slug}/").content.decode()
    for noun in ("Просмотр", "Создание", "Изменение", "Удаление", "Конвертация"):
        assert f'<th scope="col">{noun}</th>' in home


def test_nothing_says_close_in_english(tenant, admin, client_for):
    with tenant_context(tenant):
        lead = make_lead(admin)
    client = client_for(admin, "ru")
    page = client.post(f"/{tenant.slug}/leads/{lead.pk}/delete/", follow=True).content.decode()
    assert 'aria-label="Закрыть"' in page  # the flash message's close button
    assert "Close" not in page
