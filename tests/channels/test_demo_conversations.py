"""The demo workspace's conversations: three Telegram clients on open leads — answered and
delivered, answered and read, one still waiting with unread messages — shown on the card."""

from __future__ import annotations

import pytest

from channels.models import Message, ReplyTemplate
from crm.demo import seed_demo
from crm.secrets import is_sealed
from crm.tenancy import tenant_context
from leads.models import Lead


@pytest.mark.django_db
def test_demo_has_conversations_one_waiting(client_for):
    tenant, _created = seed_demo()
    with tenant_context(tenant):
        messages = list(Message.objects.select_related("lead__owner", "channel"))
        assert len(messages) == 8
        assert is_sealed(messages[0].channel.config["bot_token"])
        assert {m.status for m in messages if m.direction == "out"} == {"delivered", "read"}
        [waiting] = Lead.objects.filter(unread_messages__gt=0)
        assert waiting.unread_messages == 2
        assert waiting.waiting_since is not None
        assert ReplyTemplate.objects.count() == 2
        owner = waiting.owner
    panel = client_for(owner).get(f"/{tenant.slug}/conversations/lead/{waiting.pk}/")
    body = panel.content.decode()
    assert "Можно счёт на юрлицо?" in body
    assert 'data-testid="composer"' in body
