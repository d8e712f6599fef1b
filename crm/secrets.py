"""Secrets stored encrypted at rest: mailbox passwords, providers' tokens and app secrets.

`seal` turns a secret into an opaque token (Fernet: AES-128-CBC + HMAC-SHA256, with a
timestamp) that is safe to keep in a database column or a channel's JSON config; `unseal`
gives the secret back. Keys come from `FIELD_ENCRYPTION_KEYS` (comma-separated Fernet keys:
the first seals, all unseal, so a key can be rotated by putting the new one first and
saving the secrets again); without it one key is derived from
`SECRET_KEY` (HKDF-SHA256), so the embedded default works out of the box — production should
set its own keys, so that changing SECRET_KEY does not make every stored secret unreadable.
"""

from __future__ import annotations

import base64
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

PREFIX = "sealed:"


class SecretUnreadable(Exception):  # noqa: N818 - a domain condition, not a bug
    """A sealed value no configured key opens (keys changed, or the value was tampered with)."""


def _derived_key(secret_key: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"voronka:field-secrets")
    return base64.urlsafe_b64encode(hkdf.derive(secret_key.encode()))


@cache
def _fernet(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    try:
        fernets = [Fernet(key.strip().encode()) for key in keys if key.strip()]
    except ValueError as error:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS: each key must be 32 url-safe base64-encoded bytes "
            "(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key())')."
        ) from error
    return MultiFernet(fernets or [Fernet(_derived_key(secret_key))])


def _current() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS), settings.SECRET_KEY)


def is_sealed(value: str) -> bool:
    """Whether `value` is a token made by `seal`."""
    return isinstance(value, str) and value.startswith(PREFIX)


def seal(secret: str) -> str:
    """`secret` encrypted with the current key, as text; the empty string stays empty."""
    if not secret:
        return ""
    return PREFIX + _current().encrypt(secret.encode()).decode()


def unseal(value: str) -> str:
    """The secret inside a sealed `value` ("" for ""). A value that is not sealed (written
    before secrets were encrypted) is returned as it is. Raises SecretUnreadable when no key
    opens it."""
    if not is_sealed(value):
        return value or ""
    try:
        return _current().decrypt(value[len(PREFIX) :].encode()).decode()
    except InvalidToken:
        raise SecretUnreadable("No configured key opens this secret.") from None
