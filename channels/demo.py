"""The demo workspace's conversations: a Telegram bot channel and three clients who wrote to
it — one answered and delivered, one answered and read, one still waiting for our answer
(unread) — so `make run` shows the cards' Conversation panel, the inbox's 💬 badges and a
saved reply. The channel is stored as is (no webhook: the demo has no public address); a
reply sent from the demo tries the real Bot API and shows what became of it."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from channels.models import Channel, ChannelKind, Message, ReplyTemplate
from crm.models import Membership
from crm.secrets import seal
from leads.models import OPEN_STATES, Lead

CHATS = (
    # (chat id, messages: (minutes ago, direction, text, status))
    (
        "700100201",
        (
            (190, "in", "Здравствуйте! Сколько стоит доставка в Казань?", ""),
            (184, "out", "Добрый день! Доставка в Казань — 1 500 ₽, 2–3 дня.", "delivered"),
            (170, "in", "Спасибо, подумаю до вечера.", ""),
            (165, "out", "Хорошо, пишите — отвечу.", "read"),
        ),
    ),
    (
        "700100202",
        (
            (95, "in", "Добрый день, есть ли скидка для постоянных клиентов?", ""),
            (80, "out", "Да, 5% на второй заказ. Оформить?", "read"),
        ),
    ),
    (
        "700100203",
        (
            (42, "in", "Здравствуйте! Можно счёт на юрлицо?", ""),
            (38, "in", "ИНН пришлю сразу.", ""),
        ),
    ),
)


def seed_demo_conversations(*, admin: Membership) -> int:
    """The demo's Telegram conversations on three open leads with a responsible; how many
    messages."""
    bot = Channel.objects.create(
        kind=ChannelKind.TELEGRAM,
        name="Telegram-бот (демо)",
        config={"bot_token": seal("1000000001:demo-token-not-a-real-bot-000000000")},
    )
    ReplyTemplate.objects.create(
        name="Приветствие",
        text="Здравствуйте, {имя_клиента}! Меня зовут {имя_менеджера}, я ваш менеджер. Чем помочь?",
        language="ru",
    )
    ReplyTemplate.objects.create(
        name="Счёт",
        text="{client_name}, счёт на {deal_amount} отправил на почту. Оплата в течение 3 дней.",
        language="",
    )
    leads = list(
        Lead.objects.filter(state__in=OPEN_STATES, owner__isnull=False, deleted_at=None)
        .select_related("owner")
        .order_by("-created_at")[: len(CHATS)]
    )
    now = timezone.now()
    count = 0
    for lead, (chat, messages) in zip(leads, CHATS, strict=False):
        Lead.objects.filter(pk=lead.pk).update(messenger="telegram", messenger_id=chat)
        waiting = None
        unread = 0
        for minutes, direction, text, status in messages:
            at = now - timedelta(minutes=minutes)
            outbound = direction == "out"
            message = Message.objects.create(
                channel=bot,
                channel_kind=bot.kind,
                channel_name=bot.name,
                direction=direction,
                status=status or Message.Status.RECEIVED,
                lead=lead,
                author=lead.owner if outbound else None,
                address=chat,
                text=text,
                external_id=f"tg:{chat}:{count + 1}",
                sent_at=at if outbound else None,
                delivered_at=at if outbound else None,
                read_at=at if status == "read" else None,
            )
            Message.objects.filter(pk=message.pk).update(created_at=at, updated_at=at)
            waiting = None if outbound else waiting or at
            unread = 0 if outbound else unread + 1
            count += 1
        Lead.objects.filter(pk=lead.pk).update(unread_messages=unread, waiting_since=waiting)
    return count
