"""The fake VK API's answers (tests/channels/fakeapi.py serves them): messages.send, and a
file's way into a message — docs.getMessagesUploadServer, the upload URL it gives, docs.save.

Like VK it answers HTTP 200 with `{"response": …}` or `{"error": {"error_code", "error_msg",
"request_params"}}`, and sends a repeated `random_id` to the same peer only once (the same
message id again, no second message). Its refusals: error 5 for the revoked token (or none),
901 for the peer who did not allow the community's messages, 902 for the one whose privacy
settings forbid them, 100 for missing parameters. For the tests (VK has no such methods):
`GET /method/fake.messages` lists the messages it "delivered", `POST /method/fake.reset`
forgets them.

Files people send are downloaded from the addresses VK gives (userapi.com in VK): here
`GET /files/<name>` on the fake itself gives known bytes (404 for a name it does not keep);
`/files/moved-home` redirects to a file on the fake (as vk.com/doc… redirects to
userapi.com), `/files/moved-away` to the same file under another host name (localhost: not
VK's, never to be followed).
"""

from __future__ import annotations

import itertools
import re
import threading
import urllib.parse
from typing import Any

REVOKED_TOKEN = "vk1.a.revoked-token-0000000000000000000000000000"
# Peers the fake refuses as VK does.
FORBIDDEN_PEER = 901000901
PRIVATE_PEER = 902000902
# The community the fake's uploaded documents belong to.
GROUP_ID = 218345671
_lock = threading.Lock()
_message_ids = itertools.count(5001)
_doc_ids = itertools.count(700001)
_uploads = itertools.count(1)
# (peer, random_id) → message; the messages in the order they were "delivered".
_sent: dict[tuple[int, int], dict[str, Any]] = {}
_messages: list[dict[str, Any]] = []
_files: dict[str, dict[str, Any]] = {}  # an upload's "file" string → its file
_docs: set[str] = set()  # "doc<owner>_<id>" of saved documents


def _error(code: int, text: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
    shown = [{"key": k, "value": v} for k, v in params.items() if k != "access_token"]
    return 200, {"error": {"error_code": code, "error_msg": text, "request_params": shown}}


def _form(body: bytes) -> dict[str, str]:
    return {k: v[-1] for k, v in urllib.parse.parse_qs(body.decode(errors="replace")).items()}


def _multipart_file(headers: dict[str, str], body: bytes) -> tuple[str, bytes] | None:
    """The `file` part of a multipart body: (filename, bytes)."""
    boundary = re.search(r"boundary=([^;\s]+)", headers.get("content-type", ""))
    if boundary is None:
        return None
    for part in body.split(b"--" + boundary[1].encode()):
        head, _sep, value = part.partition(b"\r\n\r\n")
        if b'name="file"' in head:
            name = re.search(rb'filename="([^"]*)"', head)
            filename = name[1].decode(errors="replace") if name else "file"
            return filename, value[:-2] if value.endswith(b"\r\n") else value
    return None


def _send(params: dict[str, str]) -> tuple[int, dict[str, Any]]:
    peer_text, random_text = params.get("peer_id", ""), params.get("random_id", "")
    if not peer_text.lstrip("-").isdigit():
        return _error(
            100, "One of the parameters specified was missing or invalid: peer_id", params
        )
    if not random_text.lstrip("-").isdigit():
        return _error(
            100, "One of the parameters specified was missing or invalid: random_id", params
        )
    peer, random_id = int(peer_text), int(random_text)
    if peer == FORBIDDEN_PEER:
        return _error(901, "Can't send messages for users without permission", params)
    if peer == PRIVATE_PEER:
        return _error(902, "Can't send messages to this user due to their privacy settings", params)
    text, attachment = params.get("message", ""), params.get("attachment", "")
    if not text and not attachment:
        return _error(
            100, "One of the parameters specified was missing or invalid: message is empty", params
        )
    with _lock:
        if attachment and attachment not in _docs:
            return _error(
                100, "One of the parameters specified was missing or invalid: attachment", params
            )
        key = (peer, random_id)
        if random_id and key in _sent:  # VK: the same random_id to the same peer, sent once
            message = _sent[key]
        else:
            message = {
                "id": next(_message_ids),
                "peer_id": peer,
                "random_id": random_id,
                "text": text,
                "attachment": attachment,
            }
            _messages.append(message)
            if random_id:
                _sent[key] = message
    if "peer_ids" in params:
        return 200, {"response": [{"peer_id": peer, "message_id": message["id"]}]}
    return 200, {"response": message["id"]}


# Files people sent, by their name under /files/.
FILES = {
    "doc1.pdf": b"%PDF-1.4 VK requisites",
    "photo_s.jpg": b"\xff\xd8\xff small",
    "photo_x.jpg": b"\xff\xd8\xff medium",
    "photo_w.jpg": b"\xff\xd8\xff the largest size",
    "voice.mp3": b"ID3 a voice message",
}


def _download(name: str, headers: dict[str, str]) -> tuple[Any, ...]:
    host = headers.get("host", "127.0.0.1")
    if name == "moved-home":
        return 302, b"", {"Location": f"http://{host}/files/doc1.pdf"}
    if name == "moved-away":
        away = host.replace("127.0.0.1", "localhost")
        return 302, b"", {"Location": f"http://{away}/files/doc1.pdf"}
    found = FILES.get(name)
    return (200, found) if found is not None else (404, b"Not Found")


def answer(path: str, headers: dict[str, str], body: bytes) -> tuple[Any, ...]:
    route, _sep, query = path.partition("?")
    if route.startswith("/files/"):
        return _download(route.removeprefix("/files/"), headers)
    if route.startswith("/upload/doc"):
        found = _multipart_file(headers, body)
        if found is None:
            return 200, {"error": "no_file", "error_descr": "No file was sent"}
        with _lock:
            handle = (
                f"upload{next(_uploads)}|{urllib.parse.parse_qs(query).get('peer_id', [''])[0]}"
            )
            _files[handle] = {"name": found[0], "content": found[1]}
        return 200, {"file": handle}
    method = route.removeprefix("/method/")
    if method == "fake.messages":
        with _lock:
            return 200, {"response": [dict(m) for m in _messages]}
    if method == "fake.reset":
        with _lock:
            _sent.clear()
            _messages.clear()
            _files.clear()
            _docs.clear()
        return 200, {"response": 1}
    params = _form(body)
    token = params.get("access_token", "")
    if not token or token == REVOKED_TOKEN:
        return _error(5, "User authorization failed: invalid access_token (4).", params)
    if not params.get("v"):
        return _error(8, "Invalid request: v (version) is required", params)
    if method == "messages.send":
        return _send(params)
    if method == "docs.getMessagesUploadServer":
        if params.get("type") != "doc" or not params.get("peer_id"):
            return _error(100, "One of the parameters specified was missing or invalid", params)
        host = headers.get("host", "127.0.0.1")
        peer = urllib.parse.quote(params["peer_id"])
        return 200, {"response": {"upload_url": f"http://{host}/upload/doc?peer_id={peer}"}}
    if method == "docs.save":
        with _lock:
            uploaded = _files.get(params.get("file", ""))
            if uploaded is None:
                return _error(
                    100, "One of the parameters specified was missing or invalid: file", params
                )
            number = next(_doc_ids)
            _docs.add(f"doc-{GROUP_ID}_{number}")
        doc = {
            "id": number,
            "owner_id": -GROUP_ID,
            "title": params.get("title") or uploaded["name"],
            "size": len(uploaded["content"]),
            "ext": uploaded["name"].rpartition(".")[2],
            "url": f"https://vk.com/doc-{GROUP_ID}_{number}",
        }
        return 200, {"response": {"type": "doc", "doc": doc}}
    return _error(3, "Unknown method passed", params)
