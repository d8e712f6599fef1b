"""Links that open a person's messenger identity on the lead and contact cards."""

from __future__ import annotations

import pytest

from crm.templatetags.crm import messenger_href


@pytest.mark.parametrize(
    ("handle", "messenger", "href"),
    [
        ("+79991234567", "whatsapp", "https://wa.me/79991234567"),
        ("+7 (999) 123-45-67", "whatsapp", "https://wa.me/79991234567"),
        ("wa.me/4915123456789", "whatsapp", "https://wa.me/4915123456789"),
        ("не номер", "whatsapp", ""),
        ("5550001", "telegram", "tg://user?id=5550001"),
        ("@Anna_S", "telegram", "https://t.me/anna_s"),
        ("https://t.me/anna_s", "telegram", "https://t.me/anna_s"),
        ("id434920113", "vk", "https://vk.com/id434920113"),
        ("https://vk.com/durov", "vk", "https://vk.com/durov"),
        ('x"><script>', "vk", ""),
        ("javascript:alert(1)", "telegram", ""),
        ("anna", "", ""),
    ],
)
def test_messenger_links(handle, messenger, href):
    assert messenger_href(handle, messenger) == href
