"""The deliveries table: planned, claimed, sent, answered or missed messages.

A delivery moves ``pending -> sending -> sent -> answered | missed``; ``sending`` is a claim
taken in one transaction before the network call, so a crash leaves evidence: on start-up a
``sending`` row is a send whose outcome is unknown, and may be repeated once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.models import Delivery, DeliveryStatus
from bot.storage.db import Database, Row, Statement, Transaction, from_db_time, to_db_time
from bot.storage.dialect import CLAIM_DUE, CLAIM_REPEATS

# Larger than any delivery's priority: "every row".
_LEAST_URGENT = 1_000_000


def _opt_time(value: str | None) -> datetime | None:
    return from_db_time(value) if value else None


def _delivery(row: Row) -> Delivery:
    return Delivery(
        id=row["id"],
        dedupe_key=row["dedupe_key"],
        kind=row["kind"],
        patient_id=row["patient_id"],
        clinician_id=row["clinician_id"],
        chat_id=row["chat_id"],
        ref_id=row["ref_id"],
        local_date=row["local_date"],
        slot=row["slot"],
        priority=row["priority"],
        due_at=from_db_time(row["due_at"]),
        expires_at=from_db_time(row["expires_at"]),
        status=DeliveryStatus(row["status"]),
        attempts=row["attempts"],
        unknown_sends=row["unknown_sends"],
        repeats_sent=row["repeats_sent"],
        next_repeat_at=_opt_time(row["next_repeat_at"]),
        message_id=row["message_id"],
        response=row["response"],
        response_detail=row["response_detail"],
        miss_reason=row["miss_reason"],
        created_at=from_db_time(row["created_at"]),
        sent_at=_opt_time(row["sent_at"]),
        answered_at=_opt_time(row["answered_at"]),
        progress=row["progress"],
    )


@dataclass(frozen=True, slots=True)
class PlannedDelivery:
    """A delivery the planner wants to exist."""

    dedupe_key: str
    kind: str
    chat_id: int
    due_at: datetime
    expires_at: datetime
    patient_id: int | None = None
    clinician_id: int | None = None
    ref_id: int | None = None
    local_date: str | None = None
    slot: str | None = None
    priority: int = 5


@dataclass(frozen=True, slots=True)
class SentOutcome:
    """A send Telegram accepted, to be recorded."""

    delivery_id: int
    message_id: int | None
    at: datetime
    next_repeat_at: datetime | None
    repeat: bool = False


class DeliveryRepository:
    """All SQL about deliveries."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def plan(self, tx: Transaction, rows: Sequence[PlannedDelivery], now: datetime) -> None:
        """Insert planned rows that do not exist yet; existing rows keep their state and time.

        Re-planning therefore never repeats a reminder or moves one that is pending. A change
        of schedule or zone cancels the pending rows first; a cancelled row comes back, with
        the new time, only if that time is still ahead, so resuming reminders never sends what
        was due during the pause.
        """
        await tx.executemany(
            "INSERT INTO deliveries (dedupe_key, kind, patient_id, clinician_id, chat_id, ref_id, "
            "local_date, slot, priority, due_at, expires_at, status, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?) "
            "ON CONFLICT (dedupe_key) DO UPDATE SET due_at = excluded.due_at, "
            "expires_at = excluded.expires_at, chat_id = excluded.chat_id, status = 'pending' "
            "WHERE deliveries.status = 'cancelled' AND excluded.due_at >= ?",
            [
                (
                    r.dedupe_key,
                    r.kind,
                    r.patient_id,
                    r.clinician_id,
                    r.chat_id,
                    r.ref_id,
                    r.local_date,
                    r.slot,
                    r.priority,
                    to_db_time(r.due_at),
                    to_db_time(r.expires_at),
                    to_db_time(now),
                    to_db_time(now),
                )
                for r in rows
            ],
        )

    async def cancel_pending(
        self,
        tx: Transaction,
        *,
        patient_id: int,
        kinds: Sequence[str] | None = None,
        ref_id: int | None = None,
        keep_keys: Sequence[str] = (),
    ) -> int:
        """Cancel a patient's not-yet-sent deliveries (optionally of some kinds or one ref)."""
        sql = (
            "UPDATE deliveries SET status = 'cancelled' WHERE patient_id = ? AND status = 'pending'"
        )
        params: list[object] = [patient_id]
        if kinds:
            sql += f" AND kind IN ({','.join('?' * len(kinds))})"
            params.extend(kinds)
        if ref_id is not None:
            sql += " AND ref_id = ?"
            params.append(ref_id)
        if keep_keys:
            sql += f" AND dedupe_key NOT IN ({','.join('?' * len(keep_keys))})"
            params.extend(keep_keys)
        return await tx.execute_rowcount(sql, params)

    async def stop_repeats(self, tx: Transaction, *, patient_id: int) -> None:
        """Stop the repeat reminders of a patient's sent, unanswered deliveries."""
        await tx.execute(
            "UPDATE deliveries SET next_repeat_at = NULL WHERE patient_id = ? AND status = 'sent'",
            (patient_id,),
        )

    async def expire_overdue(self, now: datetime) -> list[Delivery]:
        """Record as missed every pending row whose grace window has passed; return them."""
        async with self._db.transaction() as tx:
            rows = await tx.fetchall(
                "UPDATE deliveries SET status = 'missed', miss_reason = 'not_sent' "
                "WHERE status = 'pending' AND expires_at < ? RETURNING *",
                (to_db_time(now),),
            )
        return [_delivery(row) for row in rows]

    async def claim_due(
        self,
        now: datetime,
        limit: int,
        *,
        up_to_priority: int | None = None,
        worker: str | None = None,
    ) -> list[Delivery]:
        """Claim up to ``limit`` due rows (alerts first, then oldest) for sending by ``worker``.

        With ``up_to_priority``, only rows of that priority or a more urgent one are claimed,
        and only sends as urgent hold a chat: an alert to a clinician is claimed while that
        clinician's digest is still going out. One row per chat at a time: a chat's next
        message waits for the previous outcome, so a patient who blocked the bot gets exactly
        one attempt, and Telegram's one-message-per-second-per-chat limit is never pushed.
        Several workers may claim at once; each row goes to one of them.
        """
        if limit <= 0:
            return []
        most = _LEAST_URGENT if up_to_priority is None else up_to_priority
        [outcome] = await self._db.claim(
            Statement(
                CLAIM_DUE[self._db.engine],
                {"worker": worker, "now": to_db_time(now), "most": most, "limit": limit},
            )
        )
        claimed = [_delivery(row) for row in outcome.rows]
        claimed.sort(key=lambda d: (d.priority, d.due_at, d.id))
        return claimed

    async def release_held(self, dedupe_keys: Sequence[str], now: datetime) -> int:
        """Make pending rows that were held back for a moment due now; return how many."""
        if not dedupe_keys:
            return 0
        marks = ",".join("?" * len(dedupe_keys))
        async with self._db.transaction() as tx:
            return await tx.execute_rowcount(
                f"UPDATE deliveries SET due_at = ? WHERE dedupe_key IN ({marks}) "  # noqa: S608 - only placeholders
                "AND status = 'pending' AND due_at > ?",
                (to_db_time(now), *dedupe_keys, to_db_time(now)),
            )

    async def claim_repeats(
        self, now: datetime, limit: int, lease_until: datetime
    ) -> list[Delivery]:
        """Claim sent, unanswered rows whose next repeat (or miss deadline) has come."""
        if limit <= 0:
            return []
        [outcome] = await self._db.claim(
            Statement(
                CLAIM_REPEATS[self._db.engine],
                {"lease": to_db_time(lease_until), "now": to_db_time(now), "limit": limit},
            )
        )
        return [_delivery(row) for row in outcome.rows]

    async def record_sent(
        self,
        delivery_id: int,
        message_id: int | None,
        now: datetime,
        next_repeat_at: datetime | None,
        *,
        repeat: bool = False,
    ) -> None:
        """Record one successful send (or repeat) and when to repeat next."""
        await self.record_sent_many(
            [SentOutcome(delivery_id, message_id, now, next_repeat_at, repeat)]
        )

    async def record_sent_many(self, outcomes: Sequence[SentOutcome]) -> None:
        """Record several successful sends in one transaction (group commit)."""
        firsts = [o for o in outcomes if not o.repeat]
        repeats = [o for o in outcomes if o.repeat]
        async with self._db.transaction() as tx:
            if firsts:
                await tx.executemany(
                    "UPDATE deliveries SET status = 'sent', message_id = ?, sent_at = ?, "
                    "next_repeat_at = ?, last_error = NULL WHERE id = ? AND status = 'sending'",
                    [
                        (
                            o.message_id,
                            to_db_time(o.at),
                            _db_or_none(o.next_repeat_at),
                            o.delivery_id,
                        )
                        for o in firsts
                    ],
                )
            if repeats:
                await tx.executemany(
                    "UPDATE deliveries SET repeats_sent = repeats_sent + 1, "
                    "message_id = COALESCE(?, message_id), next_repeat_at = ? "
                    "WHERE id = ? AND status = 'sent'",
                    [(o.message_id, _db_or_none(o.next_repeat_at), o.delivery_id) for o in repeats],
                )

    async def record_retry(
        self, delivery_id: int, retry_at: datetime, error: str, *, unknown: bool
    ) -> None:
        """Put a claimed row back to pending for another try."""
        async with self._db.transaction() as tx:
            await tx.execute(
                "UPDATE deliveries SET status = 'pending', due_at = ?, last_error = ?, "
                "unknown_sends = unknown_sends + ? WHERE id = ? AND status = 'sending'",
                (to_db_time(retry_at), error, int(unknown), delivery_id),
            )

    async def record_failed(self, delivery_id: int, error: str) -> None:
        """Record a send Telegram refused for good."""
        async with self._db.transaction() as tx:
            await tx.execute(
                "UPDATE deliveries SET status = 'failed', last_error = ?, next_repeat_at = NULL "
                "WHERE id = ?",
                (error, delivery_id),
            )

    async def record_missed(self, delivery_id: int, reason: str) -> bool:
        """Record a sent reminder that was never answered."""
        async with self._db.transaction() as tx:
            changed = await tx.execute_rowcount(
                "UPDATE deliveries SET status = 'missed', miss_reason = ?, next_repeat_at = NULL "
                "WHERE id = ? AND status = 'sent'",
                (reason, delivery_id),
            )
        return changed == 1

    async def recover_in_flight(
        self, worker: str | None = None, alive_since: datetime | None = None
    ) -> tuple[int, int]:
        """Take over the sends of dead workers: resend once those whose outcome is unknown.

        A row is 'sending' from its claim until its outcome is recorded, so one still
        'sending' whose worker is gone had a send under way when that worker stopped. With
        ``alive_since``, a worker seen since then is alive and its rows are left alone; without
        it (one process only, as on SQLite) every worker but ``worker`` is gone.

        Returns (rows to resend, rows assumed delivered because they were already resent once).
        """
        # Whose 'sending' rows are orphaned: with one process, everyone's but this worker's;
        # with several, those of workers not seen since ``alive_since`` (and unclaimed ones).
        # "9999" sorts after every stored instant: no other worker counts as alive.
        params = (worker or "", to_db_time(alive_since) if alive_since else "9999")
        async with self._db.transaction() as tx:
            # A digest counts the parts it has delivered, so it always resumes where it was:
            # at most the one part whose send was under way can arrive twice.
            resend = await tx.execute_rowcount(
                "UPDATE deliveries SET status = 'pending', unknown_sends = unknown_sends + 1, "
                "claimed_by = NULL WHERE status = 'sending' "
                "AND (unknown_sends = 0 OR kind = 'digest') "
                "AND (claimed_by IS NULL OR (claimed_by <> ? AND claimed_by NOT IN "
                "(SELECT id FROM workers WHERE seen_at >= ?)))",
                params,
            )
            assumed = await tx.execute_rowcount(
                "UPDATE deliveries SET status = 'sent', last_error = 'unknown_outcome', "
                "claimed_by = NULL WHERE status = 'sending' "
                "AND (claimed_by IS NULL OR (claimed_by <> ? AND claimed_by NOT IN "
                "(SELECT id FROM workers WHERE seen_at >= ?)))",
                params,
            )
        return resend, assumed

    async def record_progress(self, delivery_id: int, parts_sent: int) -> None:
        """Record how many parts of a multi-part delivery have been sent."""
        async with self._db.transaction() as tx:
            await tx.execute(
                "UPDATE deliveries SET progress = ? WHERE id = ?", (parts_sent, delivery_id)
            )

    async def answer(
        self, tx: Transaction, delivery_id: int, response: str, detail: str | None, now: datetime
    ) -> bool:
        """Record the patient's answer; late answers count (a missed dose can become taken)."""
        changed = await tx.execute_rowcount(
            "UPDATE deliveries SET status = 'answered', response = ?, response_detail = ?, "
            "answered_at = ?, next_repeat_at = NULL, miss_reason = NULL "
            "WHERE id = ? AND status IN ('sent', 'missed', 'pending', 'sending')",
            (response, detail, to_db_time(now), delivery_id),
        )
        return changed == 1

    async def snooze(
        self,
        tx: Transaction,
        delivery_id: int,
        until: datetime,
        expires_at: datetime,
        minutes: int,
    ) -> bool:
        """Send the reminder again at ``until``; its repeats start over after that."""
        changed = await tx.execute_rowcount(
            "UPDATE deliveries SET status = 'pending', due_at = ?, expires_at = ?, "
            "response = 'snoozed', response_detail = ?, repeats_sent = 0, next_repeat_at = NULL, "
            "miss_reason = NULL WHERE id = ? AND status IN ('sent', 'missed')",
            (to_db_time(until), to_db_time(expires_at), str(minutes), delivery_id),
        )
        return changed == 1

    async def sent_copies(self, kind: str, ref_id: int) -> list[Delivery]:
        """Return the delivered copies of one thing (an alert to each clinician), by id."""
        rows = await self._db.fetchall(
            "SELECT * FROM deliveries WHERE kind = ? AND ref_id = ? AND message_id IS NOT NULL "
            "ORDER BY id",
            (kind, ref_id),
        )
        return [_delivery(row) for row in rows]

    async def of_patient_day(self, patient_id: int, kind: str, local_date: str) -> list[Delivery]:
        """Return a patient's deliveries of one kind for one local date, by due time."""
        rows = await self._db.fetchall(
            "SELECT * FROM deliveries WHERE patient_id = ? AND kind = ? AND local_date = ? "
            "AND status != 'cancelled' ORDER BY due_at, id",
            (patient_id, kind, local_date),
        )
        return [_delivery(row) for row in rows]

    async def id_for_key(self, tx: Transaction, dedupe_key: str) -> int | None:
        """Return the id of the delivery with this dedupe key, if there is one."""
        row = await tx.fetchone("SELECT id FROM deliveries WHERE dedupe_key = ?", (dedupe_key,))
        return int(row["id"]) if row else None

    async def by_id(self, delivery_id: int) -> Delivery | None:
        """Return one delivery."""
        row = await self._db.fetchone("SELECT * FROM deliveries WHERE id = ?", (delivery_id,))
        return _delivery(row) if row else None

    async def by_id_tx(self, tx: Transaction, delivery_id: int) -> Delivery | None:
        """Return one delivery, inside a transaction."""
        row = await tx.fetchone("SELECT * FROM deliveries WHERE id = ?", (delivery_id,))
        return _delivery(row) if row else None

    async def count_by_status(self) -> dict[str, int]:
        """Return how many deliveries are in each status."""
        rows = await self._db.fetchall(
            "SELECT status, COUNT(*) AS n FROM deliveries GROUP BY status"
        )
        return {row["status"]: int(row["n"]) for row in rows}


def _db_or_none(moment: datetime | None) -> str | None:
    return to_db_time(moment) if moment is not None else None
