"""Secrets sealed at rest: round trip, rotation, tampering, the derived default key."""

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from crm.secrets import SecretUnreadable, is_sealed, seal, unseal


def test_round_trip_hides_the_secret(settings):
    settings.FIELD_ENCRYPTION_KEYS = []
    sealed = seal("пароль-ящика")
    assert is_sealed(sealed)
    assert "пароль" not in sealed
    assert unseal(sealed) == "пароль-ящика"
    assert seal("") == ""
    assert unseal("") == ""


def test_plain_values_written_before_sealing_are_read_as_they_are():
    assert unseal("legacy-token") == "legacy-token"


def test_rotation_new_key_first_still_opens_old_secrets(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    sealed = seal("s3cret")
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    assert unseal(sealed) == "s3cret"
    settings.FIELD_ENCRYPTION_KEYS = [new]
    with pytest.raises(SecretUnreadable):
        unseal(sealed)


def test_tampered_or_foreign_tokens_are_refused(settings):
    settings.FIELD_ENCRYPTION_KEYS = []
    sealed = seal("s3cret")
    with pytest.raises(SecretUnreadable):
        unseal(sealed[:-4] + "AAAA")
    settings.SECRET_KEY = "another-secret-key-entirely-0123456789"
    with pytest.raises(SecretUnreadable):
        unseal(sealed)


def test_a_malformed_key_is_a_configuration_error(settings):
    settings.FIELD_ENCRYPTION_KEYS = ["not-a-key"]
    with pytest.raises(ImproperlyConfigured):
        seal("x")
