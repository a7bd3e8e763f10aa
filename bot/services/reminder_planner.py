"""Planning reminders: turning schedules into delivery rows over a rolling window.

The planner writes delivery rows (idempotent by dedupe key) for doses, dTMS sessions, daily
check-in prompts and safety messages. Occurrences are computed with ``zoneinfo`` in the
patient's zone, never with cron triggers.

Planning is incremental (``ReminderPlanner.plan``): a tick plans only the patients whose plan
changed, as the database's triggers record (``bot/storage/planner.py``), or no longer reaches
the horizon, so its cost follows what changed rather than how many patients there are.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.clock import Clock
from bot.config import Settings
from bot.models import Appointment, Medication, Patient, PatientStatus
from bot.services.careteam import CareTeamService
from bot.services.jit import JIT, SafetyMessages
from bot.services.reminder_core import (
    APPT_HOUR,
    CHECKIN,
    DOSE,
    PATIENT_KINDS,
    ReminderCore,
)
from bot.services.reminder_rows import patient_rows
from bot.storage.db import Database, Transaction
from bot.storage.deliveries import PlannedDelivery
from bot.storage.planner import PlanMark, PlanStateRepository, PlanSubject
from bot.texts import Texts

log = logging.getLogger(__name__)

# Planning in steps (see ReminderPlanner.plan): patients read, computed and written together;
# how long computing may hold the event loop, and how long it then steps aside; a plan reaches
# past the horizon by up to this part of it; how long before a session its first reminder can
# come.
PLAN_BATCH = 100
SLICE_SECONDS = 0.01
PAUSE_SECONDS = 0.0005
REACH_PARTS = 4
APPOINTMENT_LOOKAHEAD = timedelta(days=2)


class _Mode(enum.Enum):
    """Which window a patient is planned over (see ReminderPlanner._window)."""

    START = "start"  # the first tick after a start: everything, up to the reach already planned
    TICK = "tick"  # a later tick: the new slice only, or everything if the plan changed
    FRESH = "fresh"  # a re-plan after a change: everything, from a new reach
    RESUMED = "resumed"  # back after a pause or a block: from now on, from a new reach


@dataclass(frozen=True, slots=True)
class PlanTick:
    """What one planner tick did."""

    patients: int  # patients planned
    rows: int  # delivery rows offered (a key that exists keeps its row as it is)
    full: bool  # every plannable patient (the first tick after a start), or only those due


@dataclass(frozen=True, slots=True)
class PatientPlan:
    """One patient's computed rows, the plan version they come from and how far they reach."""

    patient_id: int
    version: int
    through: datetime
    rows: list[PlannedDelivery]


@dataclass(frozen=True, slots=True)
class PlannedView:
    """One planned reminder, as ``companion schedule`` prints it."""

    kind: str
    local_time: datetime
    utc_time: datetime
    what: str


class ReminderPlanner(ReminderCore):
    """Plans each patient's reminders, prompts and safety messages as delivery rows."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        texts: Texts,
        settings: Settings,
        careteam: CareTeamService,
        safety: SafetyMessages | None = None,
    ) -> None:
        super().__init__(db, clock, texts, settings, careteam, safety)
        self._state = PlanStateRepository(db)
        self._horizon = timedelta(hours=settings.plan_horizon_hours)
        self._step = self._horizon / REACH_PARTS
        # How far back a plan starts: after downtime, what is still within its grace is sent.
        self._lookback = max(self._grace(DOSE), self._grace(APPT_HOUR), self._grace(CHECKIN))
        self._full_pass_done = False  # the first tick after a start plans every patient
        # Per patient: the lock that runs their re-plans one at a time, and how many hold or
        # wait for it (the entry goes when the last one is done).
        self._replan_locks: dict[int, tuple[asyncio.Lock, int]] = {}

    async def plan(self, now: datetime | None = None) -> PlanTick:
        """Plan what is new: every plannable patient on the first tick, then only those due.

        A patient is due when something that can alter their plan changed (the database resets
        their plan state in the changing transaction, see ``bot/storage/planner.py``) or when
        their plan no longer reaches the horizon; everyone else is left alone. The work goes in
        batches that read and write in one go each, and computing yields the event loop every
        few milliseconds, so no reply waits long behind the planner.
        """
        now = now or self._clock.now()
        full = not self._full_pass_done
        started = time.perf_counter()
        if full:
            ids = await self._state.plannable_ids()
        else:
            ids = await self._state.due(now + self._horizon)
        patients = rows = 0
        for first in range(0, len(ids), PLAN_BATCH):
            plans = await self.compute_plans(ids[first : first + PLAN_BATCH], now, first=full)
            written = await self.write_plans(plans, now)
            patients += written[0]
            rows += written[1]
            if first + PLAN_BATCH < len(ids):
                await _pause()
        self._full_pass_done = True
        if patients or full:
            log.log(
                logging.INFO if full else logging.DEBUG,
                "planner tick full=%s patients=%s rows=%s ms=%.0f",
                full,
                patients,
                rows,
                (time.perf_counter() - started) * 1000,
            )
        return PlanTick(patients=patients, rows=rows, full=full)

    async def write_planned(self, rows: Sequence[PlannedDelivery], now: datetime) -> int:
        """Write planned rows for the patients still plannable when the write begins.

        Planning reads the patients, then computes, then writes: a patient who paused, blocked
        the bot or withdrew in between must not get rows back (the write would re-open the
        ones their change just cancelled). The write transaction re-reads who is plannable;
        a change after it begins cancels what it wrote.
        """
        if not rows:
            return 0
        async with self._db.transaction() as tx:
            still = await self._patients.plannable_ids_tx(
                tx, {r.patient_id for r in rows if r.patient_id is not None}
            )
            kept = [r for r in rows if r.patient_id in still]
            await self._write_rows(tx, kept, now)
        return len(kept)

    async def planned_rows(self, now: datetime) -> list[PlannedDelivery]:
        """Compute every due-soon reminder of every plannable patient (nothing is written)."""
        ids = await self._state.plannable_ids()
        rows: list[PlannedDelivery] = []
        for first in range(0, len(ids), PLAN_BATCH):
            for plan in await self.compute_plans(ids[first : first + PLAN_BATCH], now, first=True):
                rows.extend(plan.rows)
        return rows

    async def replan_patient(self, patient_id: int, *, resumed: bool = False) -> None:
        """Re-plan one patient after a schedule, zone or pause change.

        ``resumed``: their reminders were stopped until now (a pause, a block), so nothing
        due before now is planned: a slot of those days was never planned, and planning it
        now would send, late, a reminder that was due while they were away.
        """
        # Two re-plans of one patient can run at once (a clinician's change and the patient's
        # own, from two chats). Unserialized, the one that read first could write last and put
        # back reminders at the old zone's times; one at a time, the later one reads what the
        # later change committed.
        lock, users = self._replan_locks.get(patient_id, (asyncio.Lock(), 0))
        self._replan_locks[patient_id] = (lock, users + 1)
        try:
            async with lock:
                await self._replan(patient_id, resumed=resumed)
        finally:
            lock, users = self._replan_locks[patient_id]
            if users == 1:
                del self._replan_locks[patient_id]
            else:
                self._replan_locks[patient_id] = (lock, users - 1)

    async def _replan(self, patient_id: int, *, resumed: bool) -> None:
        now = self._clock.now()
        # Read before cancelling: the plan is made from this version of the patient's state.
        subjects = await self._state.subjects([patient_id])
        async with self._db.transaction() as tx:
            await self.deliveries.cancel_pending(tx, patient_id=patient_id, kinds=PATIENT_KINDS)
        plannable = [s for s in subjects if _plannable(s.patient)]
        if not plannable:
            return
        # Not strict: what was just cancelled must come back even if another change raced
        # this one (that change re-plans again, or leaves the patient due for the next tick).
        mode = _Mode.RESUMED if resumed else _Mode.FRESH
        await self.write_plans(await self._compute(plannable, now, mode), now, strict=False)

    async def compute_plans(
        self, patient_ids: Sequence[int], now: datetime, *, first: bool = False
    ) -> list[PatientPlan]:
        """Compute what a tick plans for these patients (nothing is written).

        ``first``: as the first tick after a start does, each patient's whole window; else
        the new slice of those whose plan is current, and the whole window of the others.
        """
        subjects = await self._state.subjects(patient_ids)
        return await self._compute(subjects, now, _Mode.START if first else _Mode.TICK)

    async def _compute(
        self, subjects: Sequence[PlanSubject], now: datetime, mode: _Mode
    ) -> list[PatientPlan]:
        """Compute the rows of a batch of patients, each over their own window."""
        subjects = [s for s in subjects if _plannable(s.patient)]
        if not subjects:
            return []
        windows = {s.patient.id: self._window(s, now, mode) for s in subjects}
        ids = list(windows)
        meds: defaultdict[int, list[Medication]] = defaultdict(list)
        for med in await self._schedules.active_medications_of(ids):
            meds[med.patient_id].append(med)
        appts: defaultdict[int, list[Appointment]] = defaultdict(list)
        since = min(start for start, _ in windows.values())
        until = max(through for _, through in windows.values()) + APPOINTMENT_LOOKAHEAD
        for appt in await self._schedules.live_appointments_of(ids, since, until):
            appts[appt.patient_id].append(appt)
        rows: dict[int, list[PlannedDelivery]] = {}
        slice_started = time.perf_counter()
        for subject in subjects:
            pid = subject.patient.id
            start, through = windows[pid]
            try:
                rows[pid] = patient_rows(
                    subject.patient, meds[pid], appts[pid], start, through, self._settings
                )
            except (ValueError, KeyError):
                # An unreadable stored zone or time must not stop the planner for everyone
                # else; the patient stays due, so the next tick tries again.
                log.warning("patient not planned patient_id=%s", pid)
            if time.perf_counter() - slice_started > SLICE_SECONDS:
                await _pause()
                slice_started = time.perf_counter()
        subjects = [s for s in subjects if s.patient.id in rows]
        if self._safety is not None and subjects:
            for row in await self._safety.planned_rows(
                {s.patient.id: s.patient for s in subjects},
                now,
                {s.patient.id: windows[s.patient.id][1] for s in subjects},
                patient_ids=list(rows),
            ):
                if row.patient_id in rows:
                    rows[row.patient_id].append(row)
        return [
            PatientPlan(s.patient.id, s.version, windows[s.patient.id][1], rows[s.patient.id])
            for s in subjects
        ]

    def _window(
        self, subject: PlanSubject, now: datetime, mode: _Mode
    ) -> tuple[datetime, datetime]:
        """Return the UTC window ``[start, through)`` to plan one patient over.

        A patient's plan reaches past the horizon by up to a quarter of it, so it falls behind
        again only after that long; the first reach is offset per patient, so patients planned
        together (all of them, after a start) come due again one by one, not all at once.
        """
        need = now + self._horizon
        start = now - self._lookback
        planned = subject.planned_through
        if mode is _Mode.TICK and planned is not None:
            return max(start, planned), need + self._step
        if mode is _Mode.START and planned is not None and planned >= need:
            return start, planned
        if mode is _Mode.RESUMED:
            start = now
        return start, need + self._step * _spread(subject.patient.id)

    async def write_plans(
        self, plans: Sequence[PatientPlan], now: datetime, *, strict: bool = True
    ) -> tuple[int, int]:
        """Write computed plans; return (patients, rows) written.

        The transaction re-reads who is plannable (a patient who paused, blocked the bot or
        withdrew while the plan was computed gets nothing back) and each patient's plan
        version: with ``strict``, the rows of a patient whose plan changed meanwhile are left
        out, as they were computed from what no longer holds (the next tick plans them again).
        How far each patient is planned is recorded only if their version is unchanged.
        """
        if not plans:
            return 0, 0
        async with self._db.transaction() as tx:
            current = await self._state.plannable_versions_tx(tx, {p.patient_id for p in plans})
            kept = [
                p
                for p in plans
                if p.patient_id in current and (not strict or current[p.patient_id] == p.version)
            ]
            rows = [row for plan in kept for row in plan.rows]
            await self._write_rows(tx, rows, now)
            await self._state.record(
                tx, [PlanMark(p.patient_id, p.version, p.through) for p in kept]
            )
        return len(kept), len(rows)

    async def _write_rows(
        self, tx: Transaction, rows: Sequence[PlannedDelivery], now: datetime
    ) -> None:
        await self.deliveries.plan(tx, [r for r in rows if r.kind != JIT], now)
        if self._safety is not None:
            await self._safety.write(tx, [r for r in rows if r.kind == JIT], now)

    async def plan_safety(self, patient: Patient) -> int:
        """Plan a patient's safety messages now (after an answer that calls for one)."""
        if not _plannable(patient):
            return 0
        now = self._clock.now()
        end = now + timedelta(hours=self._settings.plan_horizon_hours)
        return await self.write_planned(await self._safety_rows(patient, now, end), now)

    async def _safety_rows(
        self, patient: Patient, now: datetime, end: datetime
    ) -> list[PlannedDelivery]:
        if self._safety is None:
            return []
        return await self._safety.planned_rows(
            {patient.id: patient}, now, end, patient_ids=[patient.id]
        )

    async def preview(self, patient: Patient, start: datetime, end: datetime) -> list[PlannedView]:
        """Return what the planner would deliver to a patient in a window, without writing."""
        meds = await self._schedules.medications_of(patient.id)
        appts = await self._schedules.appointments_of(
            patient.id, since=start, until=end + timedelta(days=2)
        )
        if patient.chat_id is None:
            patient = _with_chat(patient)
        zone = ZoneInfo(patient.timezone)
        med_names = {m.id: f"{m.name} {m.dose_text}" for m in meds}
        appt_names = {
            a.id: f"{a.kind} {a.session_number}/{a.sessions_total}" if a.session_number else a.kind
            for a in appts
        }
        views = []
        for row in patient_rows(patient, meds, appts, start, end, self._settings):
            names = med_names if row.kind == DOSE else appt_names
            views.append(
                PlannedView(
                    kind=row.kind,
                    local_time=row.due_at.astimezone(zone),
                    utc_time=row.due_at,
                    what=names.get(row.ref_id or 0, ""),
                )
            )
        # Safety messages are planned from now on: only a future window can show them.
        for row in await self._safety_rows(patient, self._clock.now(), end):
            if start <= row.due_at < end:
                views.append(
                    PlannedView(JIT, row.due_at.astimezone(zone), row.due_at, row.slot or "")
                )
        views.sort(key=lambda v: (v.utc_time, v.kind, v.what))
        return views


async def _pause() -> None:
    """Step aside so that whatever waited while the planner computed runs first.

    Not ``sleep(0)``: that puts the planner back at the head of the loop's next round, ahead
    of timers and replies that came due meanwhile, which would then wait for another slice.
    """
    await asyncio.sleep(PAUSE_SECONDS)


def _spread(patient_id: int) -> float:
    """Return a fraction in [0, 1) fixed per patient and spread evenly over patients."""
    return (patient_id * 2_654_435_761) % 2**32 / 2**32


def _plannable(patient: Patient) -> bool:
    return (
        patient.status == PatientStatus.ACTIVE
        and not patient.reminders_paused
        and patient.chat_id is not None
    )


def _with_chat(patient: Patient) -> Patient:
    """Return the patient with a placeholder chat id, for previews before enrollment."""
    return replace(patient, chat_id=0)
