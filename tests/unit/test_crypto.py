"""Encryption at rest of free-text notes: Fernet under DATA_ENCRYPTION_KEY, and its setting."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import settings as examples
from hypothesis import strategies as st

from bot.config import Settings, SettingsError, load_settings
from bot.services.crypto import CryptoError, NoteCipher, generate_key

KEY = generate_key()
NOTE = "Argued with my brother; walked it off by the river."


def test_a_sealed_note_opens_back_to_the_same_text() -> None:
    """A note sealed with a key opens with that key to exactly the text given."""
    cipher = NoteCipher(KEY)
    assert cipher.decrypt(cipher.encrypt(NOTE)) == NOTE


@examples(max_examples=50, deadline=None)
@given(st.text(max_size=1000))
def test_any_text_survives_sealing_and_opening(text: str) -> None:
    """Every Unicode text, empty or long, comes back unchanged."""
    cipher = NoteCipher(KEY)
    assert cipher.decrypt(cipher.encrypt(text)) == text


def test_the_token_never_shows_the_text_and_differs_every_time() -> None:
    """The stored token hides the words, and sealing the same note twice gives two tokens."""
    cipher = NoteCipher(KEY)
    first, second = cipher.encrypt(NOTE), cipher.encrypt(NOTE)
    assert first != second
    for word in ("brother", "river", "Argued"):
        assert word not in first


def test_a_token_sealed_under_another_key_is_refused() -> None:
    """A note sealed with one key does not open with another, and the error hides the text."""
    token = NoteCipher(generate_key()).encrypt(NOTE)
    with pytest.raises(CryptoError) as caught:
        NoteCipher(KEY).decrypt(token)
    assert "brother" not in str(caught.value)


def test_a_tampered_token_is_refused() -> None:
    """Changing one character of a token makes it fail its integrity check."""
    token = NoteCipher(KEY).encrypt(NOTE)
    middle = len(token) // 2
    tampered = token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]
    with pytest.raises(CryptoError):
        NoteCipher(KEY).decrypt(tampered)


def test_a_malformed_key_is_refused_when_the_cipher_is_made() -> None:
    """A key that is not 32 bytes of urlsafe base64 is refused at once."""
    with pytest.raises(CryptoError):
        NoteCipher("not-a-key")


def test_no_key_configured_means_no_cipher() -> None:
    """Without DATA_ENCRYPTION_KEY (unset or empty) there is no cipher, so notes are off."""
    assert NoteCipher.from_settings(Settings(_env_file=None)) is None  # type: ignore[call-arg]
    empty = Settings(_env_file=None, data_encryption_key="")  # type: ignore[call-arg, arg-type]
    assert empty.data_encryption_key is None
    assert NoteCipher.from_settings(empty) is None


def test_a_configured_key_gives_a_working_cipher() -> None:
    """A valid key in the settings gives a cipher that opens what a cipher on that key sealed."""
    configured = Settings(_env_file=None, data_encryption_key=KEY)  # type: ignore[call-arg, arg-type]
    cipher = NoteCipher.from_settings(configured)
    assert cipher is not None
    assert cipher.decrypt(NoteCipher(KEY).encrypt(NOTE)) == NOTE


def test_a_malformed_key_setting_is_one_line_that_does_not_echo_the_value() -> None:
    """A bad DATA_ENCRYPTION_KEY stops start-up with a line naming it, never showing the value."""
    with pytest.raises(SettingsError) as caught:
        load_settings(_env_file=None, data_encryption_key="s3cret-but-too-short")
    message = str(caught.value)
    assert message.startswith("DATA_ENCRYPTION_KEY:")
    assert "Fernet.generate_key()" in message
    assert "s3cret" not in message
