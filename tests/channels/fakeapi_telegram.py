"""The fake Telegram Bot API's answers (tests/channels/fakeapi.py serves them): sendMessage
and sendDocument as Telegram answers them, its refusals for a chat that blocked the bot
(403) or does not exist (400), 401 for an unknown token."""

from __future__ import annotations

import itertools
import json
import re
import threading
from typing import Any

TOKEN = re.compile(r"^/bot(\d+:[A-Za-z0-9_-]+)/(\w+)$")
FILE = re.compile(r"^/file/bot(\d+:[A-Za-z0-9_-]+)/([\w./-]+)$")
# Files the person sent, by file_id: what getFile says and what the download gives; a
# file_id not here is one Telegram no longer knows.
FILES = {
    "DOC1": ("documents/file_1.pdf", b"%PDF-1.4 the client's requisites"),
    "PHOTO_BIG": ("photos/file_2.jpg", b"\xff\xd8\xff photo"),
}
# Chats the fake refuses as Telegram does.
BLOCKED_CHAT = "4030000"
MISSING_CHAT = "4000000"
_ids = itertools.count(1000)
_lock = threading.Lock()


def _error(code: int, description: str) -> tuple[int, dict[str, Any]]:
    return code, {"ok": False, "error_code": code, "description": description}


def _multipart_fields(body: bytes) -> dict[str, str]:
    fields: dict[str, str] = {}
    for part in body.split(b"\r\n--"):
        head, _sep, value = part.partition(b"\r\n\r\n")
        name = re.search(rb'name="([^"]+)"', head)
        if name and b"filename=" not in head:
            fields[name[1].decode()] = value.rstrip(b"\r\n-").decode(errors="replace")
        elif name:
            fields[name[1].decode()] = f"<file {len(value)} bytes>"
    return fields


def answer(path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
    download = FILE.match(path)
    if download is not None:
        found = next((data for name, data in FILES.values() if name == download[2]), None)
        return (200, found) if found is not None else _error(404, "Not Found")
    match = TOKEN.match(path)
    if match is None or match[1].startswith("0:"):
        return _error(401, "Unauthorized")
    method = match[2]
    if method in ("getMe",):
        return 200, {"ok": True, "result": {"id": 1, "is_bot": True, "username": "fake_bot"}}
    if method in ("setWebhook", "deleteWebhook"):
        return 200, {"ok": True, "result": True}
    if method == "getFile":
        file_id = str(json.loads(body or b"{}").get("file_id", ""))
        if file_id not in FILES:
            return _error(400, "Bad Request: invalid file_id")
        name, data = FILES[file_id]
        result = {"file_id": file_id, "file_size": len(data), "file_path": name}
        return 200, {"ok": True, "result": result}
    if method not in ("sendMessage", "sendDocument"):
        return _error(404, "Not Found")
    if headers.get("content-type", "").startswith("multipart/"):
        params = _multipart_fields(body)
    else:
        params = json.loads(body or b"{}")
    chat = str(params.get("chat_id", ""))
    if chat == BLOCKED_CHAT:
        return _error(403, "Forbidden: bot was blocked by the user")
    if chat == MISSING_CHAT or not chat:
        return _error(400, "Bad Request: chat not found")
    with _lock:
        message_id = next(_ids)
    result: dict[str, Any] = {
        "message_id": message_id,
        "chat": {"id": int(chat), "type": "private"},
        "date": 1767225600,
    }
    if method == "sendMessage":
        text = str(params.get("text", ""))
        if not text:
            return _error(400, "Bad Request: message text is empty")
        result["text"] = text
    else:
        result["document"] = {"file_id": f"doc{message_id}", "file_name": "file"}
        if params.get("caption"):
            result["caption"] = params["caption"]
    return 200, {"ok": True, "result": result}
