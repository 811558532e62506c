"""Encryption at rest for credentials the service must be able to read back.

A lab session's kubeconfig carries a bearer token for its cluster; the service hands it
to the learner and the grader uses it, so it cannot be hashed like an API token. It is
stored encrypted with Fernet (AES-128-CBC + HMAC-SHA256, `cryptography`) under a key
derived from the app's `SECRET_KEY` with HKDF-SHA256, so a copy of the database alone
reveals no cluster token.

`EncryptedText` is the column type: it encrypts on write and decrypts on read inside an
app context. A value written before encryption existed (no `fernet:` prefix) is read as
it is and encrypted when next written. A value that no longer decrypts (the secret key
changed) reads as None: the session then has no usable kubeconfig, which its status
reports, instead of every query of the table failing.
"""

from __future__ import annotations

import base64
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator

ENCRYPTED_PREFIX = "fernet:"
# HKDF "info": a key derived for this purpose only, never equal to the secret itself.
_KEY_PURPOSE = b"certprep stored credentials v1"


@lru_cache(maxsize=8)
def fernet_for(secret_key: str) -> Fernet:
    """The Fernet instance keyed from `secret_key`."""
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_KEY_PURPOSE).derive(
        secret_key.encode("utf-8")
    )
    return Fernet(base64.urlsafe_b64encode(derived))


def encrypt_text(plaintext: str, secret_key: str) -> str:
    """`ENCRYPTED_PREFIX` + the Fernet token of `plaintext`."""
    token = fernet_for(secret_key).encrypt(plaintext.encode("utf-8"))
    return ENCRYPTED_PREFIX + token.decode("ascii")


def decrypt_text(stored: str, secret_key: str) -> str | None:
    """The plaintext of a value from `encrypt_text` (a value without the prefix is
    returned unchanged); None when it does not decrypt with `secret_key`."""
    if not stored.startswith(ENCRYPTED_PREFIX):
        return stored
    try:
        token = stored[len(ENCRYPTED_PREFIX) :].encode("ascii")
        return fernet_for(secret_key).decrypt(token).decode("utf-8")
    except (InvalidToken, UnicodeError, ValueError):
        return None


def _current_secret_key() -> str:
    from flask import current_app

    return current_app.config["SECRET_KEY"]


class EncryptedText(TypeDecorator[str]):
    """A TEXT column stored encrypted (see the module docstring); needs an app context."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        if value is None:
            return None
        return encrypt_text(str(value), _current_secret_key())

    def process_result_value(self, value: Any, dialect: Any) -> str | None:
        if value is None:
            return None
        return decrypt_text(value, _current_secret_key())
