"""Sending a reply to the provider: what a send may end in, and the HTTP call the senders share.

A channel's adapter sends (`Adapter.send`) and says how it went: `Sent` (the provider took the
message: its id, and whether that already means delivered), or raises one of

* `Retry` — the provider certainly did not take it (unreachable, 429, 5xx): tried again
  later with backoff, honouring the provider's Retry-After;
* `Refused` — the provider refused it for good (a blocked bot, a wrong recipient, an
  expired token): the message fails with the provider's reason;
* `Unknown` — the request went out and no answer came (a read timeout, a dropped
  connection): the provider may have taken it. A provider that deduplicates by our key
  (VK's `random_id`) is asked again; the others end "may not have been sent" rather than
  going out twice (channels.conversations.message_deliver).
"""

from __future__ import annotations

import http.client
import json
import logging
import secrets
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from email.utils import parsedate_to_datetime
from typing import IO, Any
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sent:
    """The provider took the message: its id there and whether that means delivered (a
    Telegram or VK message is in the person's chat once the API accepts it)."""

    external_id: str
    delivered: bool = False


class SendError(Exception):
    """A send that did not end in `Sent`; `reason` is shown to the manager."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason[:500]


class Retry(SendError):  # noqa: N818 - an outcome, not a bug
    """Not taken by the provider: try again (after `delay` seconds when it said so)."""

    def __init__(self, reason: str, delay: float | None = None) -> None:
        super().__init__(reason)
        self.delay = delay


class Refused(SendError):  # noqa: N818 - an outcome, not a bug
    """Refused for good: the message fails with the reason."""


class Unknown(SendError):  # noqa: N818 - an outcome, not a bug
    """The request went out, the answer did not come: the provider may have taken it."""


def retry_after(value: str | None) -> float | None:
    """A Retry-After header (seconds or an HTTP date) in seconds, or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max((when - timezone.now()).total_seconds(), 0.0)


@dataclass(frozen=True)
class Answer:
    """A provider's HTTP answer: its status, its JSON body (None when not JSON), headers,
    and the body as it came (a downloaded file)."""

    status: int
    data: Any
    headers: dict[str, str]
    raw: bytes = b""


def base_url(setting: str) -> str:
    """The API base URL of a provider from settings (`TELEGRAM_API_BASE`…), checked to be
    http(s) so no other scheme reaches urlopen."""
    base = str(getattr(settings, setting)).rstrip("/")
    if not base.startswith(("https://", "http://")):
        raise Refused(_("%(setting)s must be an http(s) URL.") % {"setting": setting})
    return base


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only to a URL `allowed` accepts; another ends the call with the
    redirect's own status (the caller refuses it), nothing requested there."""

    def __init__(self, allowed: Callable[[str], bool]) -> None:
        super().__init__()
        self.allowed = allowed

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Message,
        newurl: str,
    ) -> urllib.request.Request | None:
        if not self.allowed(newurl):
            return None
        follow = super().redirect_request(req, fp, code, msg, headers, newurl)
        if follow is not None and urlsplit(newurl).netloc != urlsplit(req.full_url).netloc:
            # urllib copies every header: the provider's token stays with the provider.
            for name in ("Authorization", "Cookie"):
                follow.remove_header(name)
        return follow


def call(
    url: str,
    *,
    provider: str,
    body: bytes | None = None,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
    method: str = "POST",
    max_bytes: int | None = None,
    follow: Callable[[str], bool] | None = None,
) -> Answer:
    """One HTTP call to a provider's API (`url` from `base_url`), within the send timeout.

    `max_bytes`: read at most that many bytes and one more of the answer (a download: one
    longer than the limit is seen to be, never read whole). `follow`: which URLs a redirect
    may lead to (a download from an address the provider gave); without it, urllib's own
    rule (http(s) anywhere). A redirect to another host never carries the request's
    Authorization header.

    Raises `Retry` when the request did not reach the provider (refused, no route, DNS, a
    connect timeout) or it answered 429/5xx, `Unknown` when the request went out and the
    answer did not come; any other status is the caller's to read."""
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked by base_url
        url, data=body, headers={"Content-Type": content_type, **(headers or {})}, method=method
    )
    timeout = settings.CHANNELS_SEND_TIMEOUT
    try:
        if follow is None:
            response = urllib.request.urlopen(request, timeout=timeout)  # noqa: S310
        else:
            opener = urllib.request.build_opener(_CheckedRedirects(follow))
            response = opener.open(request, timeout=timeout)
    except urllib.error.HTTPError as error:  # an answer with an error status
        response = error
    except urllib.error.URLError as error:  # the request did not go out (urllib wraps these)
        reason = getattr(error, "reason", error)
        raise Retry(
            _("%(provider)s cannot be reached (%(reason)s).")
            % {"provider": provider, "reason": reason}
        ) from None
    except (OSError, http.client.HTTPException) as error:  # sent; the answer was lost
        raise Unknown(
            _("%(provider)s did not answer (%(reason)s).")
            % {"provider": provider, "reason": error.__class__.__name__}
        ) from None
    try:
        raw = response.read() if max_bytes is None else response.read(max_bytes + 1)
    except (OSError, http.client.HTTPException) as error:
        raise Unknown(
            _("%(provider)s did not answer (%(reason)s).")
            % {"provider": provider, "reason": error.__class__.__name__}
        ) from None
    finally:
        response.close()
    status = response.status if hasattr(response, "status") else response.code
    answer_headers = {k.lower(): v for k, v in response.headers.items()}
    try:
        data = json.loads(raw) if raw and raw[:1] in (b"{", b"[") else None
    except ValueError:
        data = None
    if status == 429 or status >= 500:
        delay = retry_after(answer_headers.get("retry-after"))
        # Telegram says it in the body too: {"parameters": {"retry_after": 5}}.
        parameters = data.get("parameters") if isinstance(data, dict) else None
        if delay is None and isinstance(parameters, dict):
            wait = parameters.get("retry_after")
            delay = float(wait) if isinstance(wait, int | float) and wait >= 0 else None
        raise Retry(
            _("%(provider)s answered %(status)s, try again later.")
            % {"provider": provider, "status": status},
            delay,
        )
    return Answer(status=status, data=data, headers=answer_headers, raw=raw)


def multipart(
    fields: dict[str, str],
    file_field: str,
    filename: str,
    payload: bytes,
    *,
    file_type: str = "application/octet-stream",
) -> tuple[bytes, str]:
    """A multipart/form-data body with `fields` and one file (of `file_type`): (body,
    content type)."""
    boundary = "voronka-" + secrets.token_hex(16)
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value.encode()
            + b"\r\n"
        )
    safe_name = filename.replace('"', "").replace("\r", "").replace("\n", "") or "file"
    file_type = file_type.replace("\r", "").replace("\n", "") or "application/octet-stream"
    parts.append(
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; '
            f'filename="{safe_name}"\r\nContent-Type: {file_type}\r\n\r\n'
        ).encode()
        + payload
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"
