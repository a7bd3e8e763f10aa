"""Encryption at rest for the free text patients type (check-in notes).

Notes are sealed with Fernet (AES-128-CBC with an HMAC-SHA256 tag, from ``cryptography``) under
the deployment's ``DATA_ENCRYPTION_KEY``; the database only ever holds the token. With no key
configured there is no cipher, and the features that take free text do not offer it, so a note
is never written in plaintext. A token that does not open with the key (tampered, or sealed
under another key) raises ``CryptoError``, which never carries the text.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken

from bot.config import Settings


class CryptoError(Exception):
    """A key is malformed, or a token does not open with the key."""


def generate_key() -> str:
    """Return a new random key in the form ``DATA_ENCRYPTION_KEY`` expects."""
    return Fernet.generate_key().decode("ascii")


class NoteCipher:
    """Seals and opens short texts with one Fernet key."""

    def __init__(self, key: str) -> None:
        try:
            self._fernet = Fernet(key.encode("ascii"))
        except (ValueError, UnicodeEncodeError) as exc:
            msg = "the encryption key must be 32 bytes in urlsafe base64 (a Fernet key)"
            raise CryptoError(msg) from exc

    @classmethod
    def from_settings(cls, settings: Settings) -> NoteCipher | None:
        """Return the cipher for the configured key, or None when no key is set."""
        if settings.data_encryption_key is None:
            return None
        return cls(settings.data_encryption_key.get_secret_value())

    def encrypt(self, text: str) -> str:
        """Seal a text; the token differs on every call, even for the same text."""
        return self._fernet.encrypt(text.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        """Open a token sealed with this key, or raise CryptoError."""
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError) as exc:
            msg = "the token does not open with this key (tampered, or another key)"
            raise CryptoError(msg) from exc
