"""A local fake of the Telegram Bot API: a loopback HTTP server in a thread.

It answers `POST /bot<token>/<method>` the way Telegram does ({"ok": true, "result": …} or
{"ok": false, "error_code": …, "description": …}), for the methods the CRM calls (getMe,
setWebhook, deleteWebhook, getWebhookInfo), and records every call.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SECRET_FORMAT = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


@dataclass
class Call:
    token: str
    method: str
    params: dict[str, Any]


@dataclass
class FakeBot:
    id: int
    username: str
    webhook: dict[str, Any] = field(default_factory=dict)


class FakeTelegram:
    """Bots by token, the calls received; `start()`/`stop()` the server."""

    def __init__(self) -> None:
        self.bots: dict[str, FakeBot] = {}
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def add_bot(self, token: str, username: str) -> FakeBot:
        bot = FakeBot(id=int(token.split(":")[0]), username=username)
        self.bots[token] = bot
        return bot

    def calls_of(self, method: str) -> list[Call]:
        with self._lock:
            return [call for call in self.calls if call.method == method]

    def start(self) -> FakeTelegram:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def answer(self, token: str, method: str, params: dict[str, Any]) -> tuple[int, dict]:
        """What Telegram would say (status, body)."""
        with self._lock:
            self.calls.append(Call(token=token, method=method, params=params))
        bot = self.bots.get(token)
        if bot is None:
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        if method == "getMe":
            result = {"id": bot.id, "is_bot": True, "first_name": "Bot", "username": bot.username}
            return 200, {"ok": True, "result": result}
        if method == "setWebhook":
            return self._set_webhook(bot, params)
        if method == "deleteWebhook":
            bot.webhook = {}
            return 200, {"ok": True, "result": True, "description": "Webhook was deleted"}
        if method == "getWebhookInfo":
            info = {"url": bot.webhook.get("url", ""), "pending_update_count": 0}
            return 200, {"ok": True, "result": info}
        return 404, {"ok": False, "error_code": 404, "description": "Not Found"}

    def _set_webhook(self, bot: FakeBot, params: dict[str, Any]) -> tuple[int, dict]:
        url = params.get("url", "")
        if not url.startswith("https://"):
            description = "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
            return 400, {"ok": False, "error_code": 400, "description": description}
        secret = params.get("secret_token")
        if secret is not None and not SECRET_FORMAT.match(secret):
            description = "Bad Request: secret token contains unallowed characters"
            return 400, {"ok": False, "error_code": 400, "description": description}
        bot.webhook = dict(params)
        return 200, {"ok": True, "result": True, "description": "Webhook was set"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                match = re.fullmatch(r"/bot([^/]+)/(\w+)", self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if match is None:
                    status, body = 404, {"ok": False, "error_code": 404, "description": "Not Found"}
                else:
                    params = json.loads(raw) if raw else {}
                    status, body = fake.answer(match[1], match[2], params)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler
