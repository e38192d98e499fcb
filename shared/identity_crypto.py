"""Encryption of a patient's personnummer on the identity path (docs/identity.md).

Fernet (AES-128-CBC with HMAC-SHA256, from `cryptography`) with a list of keys, newest first: the
first key encrypts, every key of the list decrypts (MultiFernet), so a key is rotated by putting a
new one in front and dropping the old one once nothing encrypted with it is left. A key is named by
its key id, the first 16 hex digits of the SHA-256 of the key, never by the key itself.

Pure: no broker, database or logging. The plaintext never leaves the caller's hands.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class IdentityKeyError(ValueError):
    """The configured keys are not a list of Fernet keys; the message never repeats a key."""


class UndecryptableIdentity(ValueError):
    """A token that none of the configured keys decrypts (another key, or tampered with)."""


def key_id(key: bytes) -> str:
    """A key's public name: enough to tell keys apart in a table or an event, nothing to decrypt with."""
    return hashlib.sha256(key).hexdigest()[:16]


def parse_keys(text: str) -> tuple[bytes, ...]:
    """Comma-separated Fernet keys (urlsafe base64 of 32 bytes), newest first; empty text is no keys."""
    keys = tuple(part.strip().encode() for part in text.split(",") if part.strip())
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise IdentityKeyError(f"key {position} of the list is not a Fernet key (urlsafe base64 of 32 bytes)") from None
    if len(set(keys)) != len(keys):
        raise IdentityKeyError("a key appears twice in the list")
    return keys


def check_keys_setting(text: str) -> str:
    """For a settings validator: the text as given when it parses, a ValueError saying why otherwise."""
    parse_keys(text)
    return text


@dataclass(frozen=True)
class IdentityCipher:
    """Encrypts with the first of `keys` and decrypts with any of them."""

    keys: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise IdentityKeyError("an identity cipher needs at least one key")

    @classmethod
    def from_setting(cls, text: str) -> IdentityCipher | None:
        """The cipher of a keys setting, or None when the setting holds no key (the path is off)."""
        keys = parse_keys(text)
        return cls(keys) if keys else None

    @property
    def _fernet(self) -> MultiFernet:
        return MultiFernet([Fernet(key) for key in self.keys])

    @property
    def current_key_id(self) -> str:
        return key_id(self.keys[0])

    @property
    def key_ids(self) -> Sequence[str]:
        return [key_id(key) for key in self.keys]

    def encrypt(self, plaintext: str) -> tuple[str, str]:
        """The token of `plaintext` under the current key, and that key's id."""
        return self._fernet.encrypt(plaintext.encode()).decode("ascii"), self.current_key_id

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except (InvalidToken, UnicodeError):
            raise UndecryptableIdentity("the token does not decrypt with any configured key") from None

    def rotate(self, token: str) -> tuple[str, str]:
        """The token re-encrypted under the current key (MultiFernet.rotate), and that key's id."""
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii"), self.current_key_id
        except (InvalidToken, UnicodeError):
            raise UndecryptableIdentity("the token does not decrypt with any configured key") from None
