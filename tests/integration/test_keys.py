"""Key rotation: every check-in note re-encrypted under a new key, resumable after a stop."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bot.container import Services
from bot.services.crypto import CryptoError, NoteCipher, generate_key
from bot.services.keys import KeyRotation
from bot.storage.db import to_db_time
from bot.storage.notes import NoteRepository
from tests.support.sql import run_sql

NOTES = [f"note {n}: slept badly, walked instead" for n in range(7)]


async def seed(services: Services, old: NoteCipher) -> None:
    """Store one patient's check-ins with notes sealed under ``old``."""
    await services.enrollment.create_invite("P-001", clinician_telegram_id=None, days=7)
    patient = await services.schedules.patient("P-001")
    now = to_db_time(datetime(2026, 3, 2, tzinfo=UTC))
    for n, note in enumerate(NOTES):
        await run_sql(
            services.db,
            "INSERT INTO checkins (patient_id, local_date, note_cipher, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (
                patient.id,
                (date(2026, 3, 1) - timedelta(days=n)).isoformat(),
                old.encrypt(note),
                now,
                now,
            ),
        )


async def opened(services: Services, cipher: NoteCipher) -> list[str]:
    """Open every stored note with one key (raises CryptoError if one does not open)."""
    rows = await services.db.fetchall("SELECT note_cipher FROM checkins ORDER BY id")
    return [cipher.decrypt(row["note_cipher"]) for row in rows]


async def test_every_note_ends_under_the_new_key_and_a_second_run_finds_nothing_to_do(
    services: Services,
) -> None:
    """Batches re-encrypt every note; running again counts them all as already done."""
    old, new = NoteCipher(generate_key()), NoteCipher(generate_key())
    await seed(services, old)
    seen: list[int] = []
    counts = await KeyRotation(services.db, old, new, batch=3).run(lambda c: seen.append(c.rotated))
    assert (counts.rotated, counts.already, counts.unreadable) == (7, 0, 0)
    assert seen == [3, 6, 7], "progress is reported after each batch"
    assert await opened(services, new) == NOTES
    with pytest.raises(CryptoError):
        await opened(services, old)
    again = await KeyRotation(services.db, old, new, batch=3).run()
    assert (again.rotated, again.already) == (0, 7)


async def test_an_interrupted_rotation_finishes_when_run_again(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run stopped after its first batch leaves that batch done; the next run does the rest."""
    old, new = NoteCipher(generate_key()), NoteCipher(generate_key())
    await seed(services, old)
    original = NoteRepository.replace
    calls = 0

    async def stop_on_second_batch(self: NoteRepository, tx: object, swaps: object) -> int:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise KeyboardInterrupt
        return await original(self, tx, swaps)  # type: ignore[arg-type]

    monkeypatch.setattr(NoteRepository, "replace", stop_on_second_batch)
    with pytest.raises(KeyboardInterrupt):
        await KeyRotation(services.db, old, new, batch=3).run()
    monkeypatch.undo()
    counts = await KeyRotation(services.db, old, new, batch=3).run()
    assert (counts.rotated, counts.already) == (4, 3)
    assert await opened(services, new) == NOTES


async def test_a_note_opened_by_neither_key_is_counted_and_left_alone(
    services: Services,
) -> None:
    """A token under some third key is reported, not destroyed."""
    old, new, other = (NoteCipher(generate_key()) for _ in range(3))
    await seed(services, old)
    stray = other.encrypt("from another deployment")
    await run_sql(services.db, "UPDATE checkins SET note_cipher = ? WHERE id = 1", (stray,))
    counts = await KeyRotation(services.db, old, new).run()
    assert (counts.rotated, counts.unreadable) == (6, 1)
    row = await services.db.fetchone("SELECT note_cipher FROM checkins WHERE id = 1")
    assert row is not None
    assert row["note_cipher"] == stray
