"""The audit log as evidence: checking its hash chain, and listing who touched a patient's data.

``verify`` walks the log in id order and recomputes every hash (see ``bot.storage.audit``). It
also checks that the pseudonymous references still match the ids stored beside them, so a row
moved to another patient, or de-linked while its patient still exists, is named as broken. Rows
written before the chain began (NULL hashes) are counted apart; they may only come first.

A hash chain shows edits, insertions and removals inside the log, but not the removal of its
newest rows: keep the head hash that ``verify`` prints (with each backup, say) to detect that.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.clock import Clock
from bot.models import Patient
from bot.storage.audit import (
    GENESIS,
    PATIENT_ACTOR,
    AuditReadRow,
    AuditTrailRepository,
    StoredAuditRow,
    chain_hash,
)
from bot.storage.db import Database
from bot.storage.repositories import AuditRepository, PatientRepository


class UnknownLabelError(LookupError):
    """No patient has this label."""


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The outcome of checking the audit chain."""

    rows: int  # every row read (up to the first broken one)
    unchained: int  # rows written before the chain began
    head: str  # the newest row's hash (GENESIS when no row is chained)
    broken_id: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        """Return whether every row checked out."""
        return self.broken_id is None


class AuditService:
    """Checks the audit log's chain and reads a patient's audit trail (itself audited)."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock
        self._trail = AuditTrailRepository(db)
        self._audit = AuditRepository(db)
        self._patients = PatientRepository(db)

    async def verify(self) -> ChainReport:
        """Recompute the chain from the first row; stop at the first row that does not fit."""
        refs = await self._trail.subject_refs()
        living = set(refs.values())
        prev: str | None = None  # None until the first chained row
        count = unchained = 0
        after = 0
        while batch := await self._trail.rows_after(after):
            for row in batch:
                count += 1
                problem = _problem(row, prev, refs, living)
                if problem is not None:
                    return ChainReport(count, unchained, prev or GENESIS, row.id, problem)
                if row.row_hash is None:
                    unchained += 1
                else:
                    prev = row.row_hash
            after = batch[-1].id
        return ChainReport(count, unchained, prev or GENESIS)

    async def trail(
        self, label: str, *, actor: tuple[str, int | None] = ("cli", None)
    ) -> tuple[Patient, list[AuditReadRow]]:
        """Return who read or changed a patient's data and when; the look itself is audited."""
        patient = await self._patients.by_label(label.strip())
        if patient is None:
            msg = f"no patient with label {label.strip()[:40]!r}"
            raise UnknownLabelError(msg)
        rows = await self._trail.about_patient(patient.id)
        async with self._db.transaction() as tx:
            await self._audit.add(
                tx, actor[0], actor[1], "audit.show", patient.id, self._clock.now()
            )
        return patient, rows


def _problem(
    row: StoredAuditRow, prev: str | None, refs: dict[int, str], living: set[str]
) -> str | None:
    """Say what is wrong with a row given the hash before it; None when it checks out."""
    if row.row_hash is None:
        return "has no hash, yet it comes after the chain began" if prev is not None else None
    if row.prev_hash != (prev or GENESIS):
        return "does not follow the row before it (a row was removed, inserted or reordered)"
    if row.actor_ref is None or row.subject_ref is None:
        return "lacks its references"
    expected = chain_hash(
        row.prev_hash, row.at, row.actor_kind, row.actor_ref, row.action, row.subject_ref
    )
    if expected != row.row_hash:
        return "was changed after it was written (its hash does not match its content)"
    return _reference_problem(row, refs, living)


def _reference_problem(row: StoredAuditRow, refs: dict[int, str], living: set[str]) -> str | None:
    """Check the stored ids against the hashed references beside them."""
    assert row.actor_ref is not None
    assert row.subject_ref is not None
    if row.patient_id is not None and refs.get(row.patient_id) != row.subject_ref:
        return "names another patient than the one it was written for"
    if row.patient_id is None and row.subject_ref in living:
        return "lost its patient link although the patient was not erased"
    if row.actor_kind == PATIENT_ACTOR:
        if row.actor_id is not None and refs.get(row.actor_id) != row.actor_ref:
            return "names another actor than the one who acted"
        if row.actor_id is None and row.actor_ref in living:
            return "lost its actor although the patient was not erased"
    elif row.actor_ref != ("" if row.actor_id is None else str(row.actor_id)):
        return "names another actor than the one who acted"
    return None
