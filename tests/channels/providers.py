"""Fixtures for the fake provider APIs (tests/channels/fakeapi.py), defined once.

Each provider's fake starts as a process of its own on 127.0.0.1 once per test module
(`fake_<provider>_server`, stopped by its own handle) and is reset before every test that
asks for `fake_<provider>`, with the settings pointing at it. tests/channels/conftest.py and
tests/e2e/conftest.py expose them by importing the fixture names.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.channels.fakeapi import FakeApi

# The CRM's public address while Telegram is faked: the bot's webhook is set under it.
SITE_URL = "https://crm.example.com"


@pytest.fixture(scope="module")
def fake_whatsapp_server() -> Iterator[FakeApi]:
    """The fake WhatsApp Cloud API, one process per test module."""
    fake = FakeApi("whatsapp").start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_whatsapp(fake_whatsapp_server: FakeApi, settings) -> FakeApi:
    """The fake WhatsApp Cloud API, reset, with WHATSAPP_API_BASE pointing at it."""
    fake_whatsapp_server.reset()
    settings.WHATSAPP_API_BASE = fake_whatsapp_server.base_url + "/v21.0"
    return fake_whatsapp_server


@pytest.fixture(scope="module")
def fake_vk_server() -> Iterator[FakeApi]:
    """The fake VK API, one process per test module."""
    fake = FakeApi("vk").start()
    yield fake
    fake.stop()


def _forget_vk_messages(fake: FakeApi) -> None:
    """`POST /method/fake.reset`: the fake VK forgets what it delivered and was uploaded."""
    request = urllib.request.Request(  # noqa: S310 - the local fake
        f"{fake.base_url}/method/fake.reset", data=b""
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        response.read()


@pytest.fixture
def fake_vk(fake_vk_server: FakeApi, settings) -> FakeApi:
    """The fake VK API, reset (its delivered messages and uploads too), with VK_API_BASE
    pointing at it."""
    _forget_vk_messages(fake_vk_server)
    fake_vk_server.reset()
    settings.VK_API_BASE = fake_vk_server.base_url + "/method"
    return fake_vk_server


@pytest.fixture(scope="module")
def fake_telegram_server() -> Iterator[FakeApi]:
    """The fake Telegram Bot API, one process per test module."""
    fake = FakeApi("telegram").start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_telegram(fake_telegram_server: FakeApi, settings) -> FakeApi:
    """The fake Telegram Bot API, reset, with TELEGRAM_API_BASE pointing at it and SITE_URL
    set."""
    fake_telegram_server.reset()
    settings.TELEGRAM_API_BASE = fake_telegram_server.base_url
    settings.SITE_URL = SITE_URL
    return fake_telegram_server


@pytest.fixture
def media_root(settings, tmp_path: Path) -> Path:
    """Files the test keeps go under its tmp_path (MEDIA_ROOT)."""
    settings.MEDIA_ROOT = tmp_path
    return tmp_path
