"""The fake WhatsApp Cloud API's answers (tests/channels/fakeapi.py serves them):
`/{phone_number_id}/messages` and `/{phone_number_id}/media` as the Graph API answers them,
and its refusals in Meta's error shape — an expired (190, 401) or unknown token, an unknown
number id (100), a recipient outside the 24-hour window (131047) or not on WhatsApp
(131026), a template that is not approved (132001), a media id it never gave.

Files clients send: `GET /{media-id}` answers the media's URL (on the fake itself, as Meta's
lookaside.fbsbx.com address), MIME type, size and sha256, and `GET` of that URL the file, both
with the access token only; a media id it does not keep is Meta's "does not exist" (100/33)."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import threading
from typing import Any

TOKEN = "EAAGm0PX4ZCpsBAKvFakeSystemUserToken0123456789abcdefZDZD"
EXPIRED_TOKEN = "EAAGm0PX4ZCpsBAExpiredSystemUserToken0123456789abcdZDZD"
PHONE_NUMBER_ID = "106540352242922"
# Recipients the fake refuses as Meta does.
OUTSIDE_WINDOW = "79990131047"
NOT_ON_WHATSAPP = "79990131026"
# Templates approved at "Meta": name → languages.
APPROVED = {"follow_up": ("ru", "en_US"), "hello_world": ("en_US",)}
PATH = re.compile(r"^(?:/v\d+\.\d+)?/(\d+)/(messages|media)$")
MEDIA_INFO = re.compile(r"^(?:/v\d+\.\d+)?/(\d+)/?$")
DOWNLOAD = re.compile(r"^/whatsapp_business/attachments/\?mid=(\d+)$")
# Media clients sent, by media id: (MIME type, the file).
DOCUMENT_ID = "1400000000000001"
IMAGE_ID = "1400000000000002"
MEDIA = {
    DOCUMENT_ID: ("application/pdf", b"%PDF-1.4 the client's price list"),
    IMAGE_ID: ("image/jpeg", b"\xff\xd8\xff\xe0 the client's photo"),
}
# Media whose answer is not to be trusted: a checksum the file does not match, a URL that
# is not https (a local file).
WRONG_CHECKSUM_ID = "1400000000000003"
FILE_URL_ID = "1400000000000004"
MEDIA[WRONG_CHECKSUM_ID] = ("image/jpeg", b"\xff\xd8 changed on the way")
_ids = itertools.count(1)
_media: set[str] = set()
_lock = threading.Lock()


def _error(
    status: int,
    code: int,
    message: str,
    *,
    kind: str = "OAuthException",
    subcode: int | None = None,
    details: str = "",
) -> tuple[int, dict[str, Any]]:
    error: dict[str, Any] = {"message": message, "type": kind, "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    if details:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    error["fbtrace_id"] = "AZxFakeTraceId"
    return status, {"error": error}


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


def _next() -> int:
    with _lock:
        return next(_ids)


def _media_info(media_id: str, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    if media_id not in MEDIA and media_id != FILE_URL_ID:
        return _error(
            400,
            100,
            f"Unsupported get request. Object with ID '{media_id}' does not exist, cannot be "
            "loaded due to missing permissions, or does not support this operation.",
            kind="GraphMethodException",
            subcode=33,
        )
    if media_id == FILE_URL_ID:
        return 200, {
            "messaging_product": "whatsapp",
            "url": "file:///etc/passwd",
            "mime_type": "text/plain",
            "file_size": 10,
            "id": media_id,
        }
    mime, data = MEDIA[media_id]
    digest = hashlib.sha256(data).hexdigest()
    host = headers.get("host", "127.0.0.1")
    return 200, {
        "messaging_product": "whatsapp",
        "url": f"http://{host}/whatsapp_business/attachments/?mid={media_id}",
        "mime_type": mime,
        "sha256": "0" * 64 if media_id == WRONG_CHECKSUM_ID else digest,
        "file_size": str(len(data)),  # Meta gives it as a string
        "id": media_id,
    }


def answer(path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
    authorization = headers.get("authorization", "")
    if authorization == f"Bearer {EXPIRED_TOKEN}":
        return _error(
            401,
            190,
            "Error validating access token: Session has expired on Friday, 04-Dec-26 "
            "10:00:00 PST. The current time is Saturday, 05-Dec-26 06:00:00 PST.",
            subcode=463,
        )
    if authorization != f"Bearer {TOKEN}":
        return _error(401, 190, "Invalid OAuth access token - Cannot parse access token")
    download = DOWNLOAD.match(path)
    if download is not None:
        found = MEDIA.get(download[1])
        if found is None:
            return _error(404, 100, "(#100) The media does not exist")
        return 200, found[1]
    info = MEDIA_INFO.match(path)
    if info is not None:
        return _media_info(info[1], headers)
    match = PATH.match(path)
    if match is None:
        return _error(400, 100, "Unknown path components", kind="OAuthException")
    if match[1] != PHONE_NUMBER_ID:
        return _error(
            400,
            100,
            f"Unsupported post request. Object with ID '{match[1]}' does not exist, cannot be "
            "loaded due to missing permissions, or does not support this operation.",
            kind="GraphMethodException",
            subcode=33,
        )
    if match[2] == "media":
        return _upload(headers, body)
    try:
        params = json.loads(body or b"{}")
    except ValueError:
        return _error(400, 100, "(#100) Invalid parameter")
    return _message(params)


def _upload(headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
    if not headers.get("content-type", "").startswith("multipart/form-data"):
        return _error(400, 100, "(#100) The parameter file is required.")
    fields = _multipart_fields(body)
    if fields.get("messaging_product") != "whatsapp":
        return _error(400, 100, "(#100) The parameter messaging_product is required.")
    if not fields.get("type") or "file" not in fields:
        return _error(400, 100, "(#100) The parameter file is required.")
    media_id = str(1_000_000_000_000_000 + _next())
    with _lock:
        _media.add(media_id)
    return 200, {"id": media_id}


def _message(params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    if params.get("messaging_product") != "whatsapp":
        return _error(400, 100, "(#100) The parameter messaging_product is required.")
    to, kind = str(params.get("to") or ""), params.get("type")
    if not to.isdigit():
        return _error(400, 100, "(#100) Invalid parameter", details="to must be a phone number")
    if to == NOT_ON_WHATSAPP:
        return _error(
            400,
            131026,
            "(#131026) Message undeliverable",
            details="Message Undeliverable.",
        )
    if kind == "template":
        template = params.get("template") or {}
        languages = APPROVED.get(str(template.get("name") or ""), ())
        if (template.get("language") or {}).get("code") not in languages:
            return _error(
                404,
                132001,
                "(#132001) Template name does not exist in the translation",
                details=f"template name ({template.get('name')}) does not exist in the language",
            )
    elif to == OUTSIDE_WINDOW:
        return _error(
            400,
            131047,
            "(#131047) Re-engagement message",
            details="Message failed to send because more than 24 hours have passed since the "
            "customer last replied to this number.",
        )
    elif kind == "text":
        if not str((params.get("text") or {}).get("body") or ""):
            return _error(400, 100, "(#100) Param text['body'] is required")
    elif kind == "document":
        with _lock:
            known = str((params.get("document") or {}).get("id") or "") in _media
        if not known:
            return _error(400, 131053, "(#131053) Media upload error")
    else:
        return _error(400, 100, "(#100) Invalid parameter", details=f"type {kind}")
    message: dict[str, Any] = {"id": f"wamid.HBgL{to}FQIAERgS{_next():016X}"}
    if kind == "template":
        message["message_status"] = "accepted"
    return 200, {
        "messaging_product": "whatsapp",
        "contacts": [{"input": to, "wa_id": to}],
        "messages": [message],
    }
