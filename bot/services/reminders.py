"""Reminders: planning deliveries from schedules, composing them, and recording answers.

The database is the only source of truth for what is due. The planner turns schedules into
delivery rows (idempotent by dedupe key) over a rolling window; the dispatcher (in
``scheduler/``) sends what is due and reports back here. Occurrences are computed with
``zoneinfo`` in the patient's zone, never with cron triggers.

Planning is incremental (``ReminderService.plan``): a tick plans only the patients whose plan
changed, as the database's triggers record (``bot/storage/planner.py``), or no longer reaches
the horizon, so its cost follows what changed rather than how many patients there are.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot import callbacks
from bot.clock import Clock
from bot.config import Settings
from bot.models import Appointment, Delivery, DeliveryStatus, Medication, Patient, PatientStatus
from bot.services.aftereffects import had_session
from bot.services.careteam import (
    ALERT,
    ALERT_PRIORITY,
    ESCALATED,
    AlertNotice,
    CareTeamService,
    alert_deliveries,
)
from bot.services.checkins import prompt_key, prompt_screen
from bot.services.jit import JIT, SafetyMessages
from bot.services.occurrences import (
    NonexistentLocalDateError,
    occurrences_between,
    parse_hhmm,
    parse_weekdays,
    resolve_local,
)
from bot.storage.checkins import CheckinRepository
from bot.storage.db import Database, Transaction
from bot.storage.deliveries import DeliveryRepository, PlannedDelivery
from bot.storage.planner import PlanMark, PlanStateRepository, PlanSubject
from bot.storage.repositories import AlertRepository, ClinicianRepository, PatientRepository
from bot.storage.schedules import ScheduleRepository
from bot.texts import Texts

log = logging.getLogger(__name__)

DOSE = "dose"
APPT_EVENING = "appt_evening"
APPT_HOUR = "appt_hour"
CRISIS_REPLY = "crisis_reply"
# The safety net's rows (see bot/services/safetynet.py). A timeout row sends nothing to the
# patient: when it comes due unanswered, the care team is alerted.
SAFETY_CHECK_TIMEOUT = "safety_check_timeout"  # "Are you safe right now?" left unanswered
CRISIS_FOLLOWUP = "crisis_followup"  # "are you safe now?", some minutes after a crisis answer
CRISIS_FOLLOWUP_TIMEOUT = "crisis_followup_timeout"  # that question left unanswered
SAFETY_TIMEOUT_KINDS = (SAFETY_CHECK_TIMEOUT, CRISIS_FOLLOWUP_TIMEOUT)
SAFETY_KINDS = (CRISIS_FOLLOWUP, *SAFETY_TIMEOUT_KINDS)
CHECKIN = "checkin"  # the daily check-in prompt: once a day, never repeated
# What a pause, a block or leaving the program cancels (a re-plan brings back what still applies).
PATIENT_KINDS = (DOSE, APPT_EVENING, APPT_HOUR, CHECKIN, JIT)
EVERY_DAY = frozenset(range(7))

REMINDER_PRIORITY = 5
SNOOZE_CHOICES = (10, 30, 60)
SKIP_REASONS = ("side_effects", "forgot", "ran_out", "stopped", "other")
STOPPED = "stopped"  # "I have stopped taking it": for naltrexone, the loss-of-tolerance message

# Planning in steps (see ReminderService.plan): patients read, computed and written together;
# how long computing may hold the event loop, and how long it then steps aside; a plan reaches
# past the horizon by up to this part of it; how long before a session its first reminder can
# come.
PLAN_BATCH = 100
SLICE_SECONDS = 0.01
PAUSE_SECONDS = 0.0005
REACH_PARTS = 4
APPOINTMENT_LOOKAHEAD = timedelta(days=2)

Buttons = tuple[tuple[tuple[str, str], ...], ...]


class _Mode(enum.Enum):
    """Which window a patient is planned over (see ReminderService._window)."""

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
class Outgoing:
    """A composed message: Telegram HTML and rows of (label, callback data)."""

    chat_id: int
    text: str
    buttons: Buttons = ()
    message_id: int | None = None  # the message to edit, for an edit rather than a send


@dataclass(frozen=True, slots=True)
class AnswerResult:
    """What a button press changed, for the handler to show."""

    ok: bool
    text: str
    buttons: Buttons = ()
    toast: str | None = None
    alert: AlertNotice | None = None


@dataclass(frozen=True, slots=True)
class PlannedView:
    """One planned reminder, as ``companion schedule`` prints it."""

    kind: str
    local_time: datetime
    utc_time: datetime
    what: str


class ReminderService:
    """Plans, composes and records reminders and alert deliveries."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        texts: Texts,
        settings: Settings,
        careteam: CareTeamService,
        safety: SafetyMessages | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._texts = texts
        self._settings = settings
        self._careteam = careteam
        self._safety = safety
        self.deliveries = DeliveryRepository(db)
        self._schedules = ScheduleRepository(db)
        self._checkins = CheckinRepository(db)
        self._patients = PatientRepository(db)
        self._alerts = AlertRepository(db)
        self._clinicians = ClinicianRepository(db)
        self._dose_labels: dict[str, tuple[str, ...]] = {}
        self._state = PlanStateRepository(db)
        self._horizon = timedelta(hours=settings.plan_horizon_hours)
        self._step = self._horizon / REACH_PARTS
        # How far back a plan starts: after downtime, what is still within its grace is sent.
        self._lookback = max(self._grace(DOSE), self._grace(APPT_HOUR), self._grace(CHECKIN))
        self._full_pass_done = False  # the first tick after a start plans every patient
        # Per patient: the lock that runs their re-plans one at a time, and how many hold or
        # wait for it (the entry goes when the last one is done).
        self._replan_locks: dict[int, tuple[asyncio.Lock, int]] = {}

    # Timing ---------------------------------------------------------------------------------

    @property
    def repeat_interval(self) -> timedelta:
        """Return the wait between repeats of an unanswered reminder."""
        return timedelta(minutes=self._settings.reminder_repeat_minutes)

    def _grace(self, kind: str) -> timedelta:
        minutes = {
            DOSE: self._settings.grace_minutes_dose,
            ALERT: self._settings.grace_minutes_alert,
            CRISIS_REPLY: self._settings.grace_minutes_alert,
            SAFETY_CHECK_TIMEOUT: self._settings.grace_minutes_alert,
            CRISIS_FOLLOWUP: self._settings.grace_minutes_alert,
            CRISIS_FOLLOWUP_TIMEOUT: self._settings.grace_minutes_alert,
            CHECKIN: self._settings.grace_minutes_checkin,
        }.get(kind, self._settings.grace_minutes_appointment)
        return timedelta(minutes=minutes)

    def next_repeat_after(self, delivery: Delivery, sent_at: datetime) -> datetime | None:
        """Return when to repeat (or, after the last repeat, to record a miss); None if never."""
        if delivery.kind != DOSE:
            return None
        return sent_at + self.repeat_interval

    # Planning -------------------------------------------------------------------------------

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
                rows[pid] = self._plan_patient(
                    subject.patient, meds[pid], appts[pid], start, through
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

    def _plan_patient(
        self,
        patient: Patient,
        meds: Sequence[Medication],
        appts: Sequence[Appointment],
        start: datetime,
        end: datetime,
    ) -> list[PlannedDelivery]:
        assert patient.chat_id is not None
        zone = ZoneInfo(patient.timezone)
        rows: list[PlannedDelivery] = []
        for med in meds:
            slots = [parse_hhmm(t) for t in med.times]
            # A schedule never fires for a slot that passed before it was created.
            window_start = max(start, med.created_at)
            for occ in occurrences_between(
                slots,
                parse_weekdays(med.weekdays),
                zone,
                window_start,
                end,
                active_from=med.start_date,
                active_until=med.end_date,
            ):
                rows.append(
                    PlannedDelivery(
                        dedupe_key=f"dose:{med.id}:{occ.key}",
                        kind=DOSE,
                        chat_id=patient.chat_id,
                        patient_id=patient.id,
                        ref_id=med.id,
                        local_date=occ.local_date.isoformat(),
                        slot=f"{occ.slot:%H:%M}",
                        due_at=occ.due_utc,
                        expires_at=occ.due_utc + self._grace(DOSE),
                        priority=REMINDER_PRIORITY,
                    )
                )
        for appt in appts:
            if appt.status not in {"scheduled", "confirmed"}:
                continue
            rows.extend(self._plan_appointment(patient, appt, zone, start, end))
        rows.extend(self._plan_checkins(patient, zone, start, end))
        return rows

    def _plan_checkins(
        self, patient: Patient, zone: ZoneInfo, start: datetime, end: datetime
    ) -> list[PlannedDelivery]:
        """Plan one check-in prompt per local day at the patient's check-in time."""
        assert patient.chat_id is not None
        if patient.consented_at is None:
            return []
        try:
            slot = parse_hhmm(patient.checkin_time)
        except ValueError:
            # One bad stored time must not stop the planner for every other patient.
            log.warning("checkin time unreadable patient_id=%s", patient.id)
            return []
        # Never a prompt for a slot before consent (nor one before a zone or time change: such
        # a row was cancelled by the re-plan, and a cancelled row only comes back in the future).
        window_start = max(start, patient.consented_at)
        return [
            PlannedDelivery(
                dedupe_key=prompt_key(patient.id, occ.local_date),
                kind=CHECKIN,
                chat_id=patient.chat_id,
                patient_id=patient.id,
                local_date=occ.local_date.isoformat(),
                slot=f"{occ.slot:%H:%M}",
                due_at=occ.due_utc,
                expires_at=occ.due_utc + self._grace(CHECKIN),
                priority=REMINDER_PRIORITY,
            )
            for occ in occurrences_between([slot], EVERY_DAY, zone, window_start, end)
        ]

    def _plan_appointment(
        self, patient: Patient, appt: Appointment, zone: ZoneInfo, start: datetime, end: datetime
    ) -> list[PlannedDelivery]:
        assert patient.chat_id is not None
        local_start = appt.starts_at.astimezone(zone)
        hour_before = appt.starts_at - timedelta(minutes=self._settings.appointment_lead_minutes)
        reminders = [(APPT_HOUR, hour_before, appt.starts_at)]
        with contextlib.suppress(NonexistentLocalDateError):  # a day the zone skipped
            evening = resolve_local(
                local_start.date() - timedelta(days=1),
                self._settings.appointment_evening_time,
                zone,
            )
            reminders.insert(0, (APPT_EVENING, evening, hour_before))
        found: list[PlannedDelivery] = []
        for kind, due, expires in reminders:
            # Skip a reminder that would come after the next one, or before the booking existed.
            if due >= expires or due < appt.created_at or not start <= due < end:
                continue
            found.append(
                PlannedDelivery(
                    dedupe_key=f"{kind}:{appt.id}",
                    kind=kind,
                    chat_id=patient.chat_id,
                    patient_id=patient.id,
                    ref_id=appt.id,
                    local_date=local_start.date().isoformat(),
                    slot=f"{local_start:%H:%M}",
                    due_at=due,
                    expires_at=min(due + self._grace(kind), expires),
                    priority=REMINDER_PRIORITY,
                )
            )
        return found

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
        for row in self._plan_patient(patient, meds, appts, start, end):
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

    # Alerts ---------------------------------------------------------------------------------

    async def enqueue_alert(self, notice: AlertNotice, *, escalated: bool = False) -> int:
        """Queue an alert for each recipient as a delivery, so it survives faults and restarts.

        A new alert's deliveries are written with it (see ``CareTeamService.raise_alert``);
        this adds an escalated copy, or deliveries to a changed team, and repeats nothing:
        the deliveries' keys are unique.
        """
        now = self._clock.now()
        rows = alert_deliveries(notice, now, grace=self._grace(ALERT), escalated=escalated)
        if rows:
            async with self._db.transaction() as tx:
                await self.deliveries.plan(tx, rows, now)
        return len(rows)

    async def acknowledged_copies(
        self, alert_id: int, acknowledged: str, *, except_chat: int
    ) -> list[Outgoing]:
        """Return every other delivered copy of an alert, rewritten to say who acknowledged it.

        Each carries the message id to edit; no buttons, so the edit drops Acknowledge.
        """
        copies = []
        for delivery in await self.deliveries.sent_copies(ALERT, alert_id):
            if delivery.chat_id == except_chat or delivery.message_id is None:
                continue
            outgoing = await self._compose_alert(delivery)
            if outgoing is not None:
                copies.append(
                    Outgoing(
                        delivery.chat_id,
                        f"{outgoing.text}\n\n{acknowledged}",
                        (),
                        delivery.message_id,
                    )
                )
        return copies

    async def enqueue_crisis_reply(self, patient: Patient, category: str = "suicide") -> None:
        """Queue the crisis resources for a patient whose immediate reply Telegram refused."""
        if patient.chat_id is None:
            return
        now = self._clock.now()
        row = PlannedDelivery(
            dedupe_key=f"crisis_reply:{patient.id}:{now.isoformat(timespec='seconds')}",
            kind=CRISIS_REPLY,
            chat_id=patient.chat_id,
            patient_id=patient.id,
            slot=category,  # for crisis rows, the slot column carries the crisis category
            due_at=now,
            expires_at=now + self._grace(ALERT),
            priority=ALERT_PRIORITY,
        )
        async with self._db.transaction() as tx:
            await self.deliveries.plan(tx, [row], now)

    # Composing ------------------------------------------------------------------------------

    async def compose(self, delivery: Delivery, *, repeat: bool = False) -> Outgoing | None:
        """Render a delivery's message; None when what it reminds of no longer exists."""
        if delivery.kind == ALERT:
            return await self._compose_alert(delivery)
        if delivery.kind == DOSE:
            return await self._compose_dose(delivery, repeat=repeat)
        if delivery.kind == CHECKIN:
            return await self._compose_checkin(delivery)
        if delivery.kind == JIT:
            return await self._compose_safety(delivery)
        patient = await self._patients.by_id(delivery.patient_id or 0)
        if patient is not None and delivery.kind == CRISIS_REPLY:
            category = delivery.slot or "suicide"
            text = self._texts.render("crisis.reply", patient.locale, category=category)
            return Outgoing(delivery.chat_id, text)
        if patient is not None and delivery.kind == CRISIS_FOLLOWUP:
            b = self._texts.button
            buttons: Buttons = (
                (
                    (
                        b("followup_safe", patient.locale),
                        callbacks.safety(callbacks.FOLLOWUP_SAFE, delivery.id),
                    ),
                ),
                (
                    (
                        b("followup_unsafe", patient.locale),
                        callbacks.safety(callbacks.FOLLOWUP_UNSAFE, delivery.id),
                    ),
                ),
            )
            return Outgoing(
                delivery.chat_id, self._texts.render("crisis.followup", patient.locale), buttons
            )
        if patient is None or delivery.ref_id is None:
            return None
        appt = await self._schedules.appointment(delivery.ref_id)
        if appt is None or appt.status not in {"scheduled", "confirmed"}:
            return None
        return Outgoing(
            delivery.chat_id,
            self._appointment_text(appt, patient, delivery.kind),
            self._appointment_buttons(delivery.id, patient.locale),
        )

    async def _compose_dose(self, delivery: Delivery, *, repeat: bool) -> Outgoing | None:
        # One query for what the message needs: this runs for every dose the dispatcher sends.
        context = await self._schedules.dose_context(delivery.ref_id or 0)
        if context is None:
            return None
        locale, name, dose = context
        text = self._texts.render(
            "reminder.dose",
            locale,
            name=name,
            dose=dose,
            slot=delivery.slot or "",
            repeat=delivery.repeats_sent + 1 if repeat else 0,
            repeats=self._settings.reminder_repeats,
            snoozed=delivery.response == "snoozed" and not repeat,
        )
        return Outgoing(delivery.chat_id, text, self._dose_buttons(delivery.id, locale))

    async def _compose_safety(self, delivery: Delivery) -> Outgoing | None:
        """Render a safety message in the patient's language of the moment."""
        patient = await self._patients.by_id(delivery.patient_id or 0)
        if self._safety is None or patient is None or patient.status != PatientStatus.ACTIVE:
            return None
        composed = self._safety.compose(delivery.slot, patient.locale)
        if composed is None:
            return None
        text, buttons = composed
        return Outgoing(delivery.chat_id, text, buttons)

    async def _compose_checkin(self, delivery: Delivery) -> Outgoing | None:
        patient = await self._patients.by_id(delivery.patient_id or 0)
        if patient is None or delivery.local_date is None:
            return None
        now = self._clock.now()
        today = now.astimezone(ZoneInfo(patient.timezone)).date()
        day = date.fromisoformat(delivery.local_date)
        screen = prompt_screen(
            self._texts,
            patient.locale,
            day,
            today=today,
            # The note question is asked only when notes can be encrypted (see checkins).
            notes=self._settings.data_encryption_key is not None,
            # The count of questions includes dTMS after-effects on a day with a session.
            dtms=await had_session(self._checkins, patient, day, now),
        )
        return Outgoing(delivery.chat_id, screen.text, screen.buttons)

    def _appointment_text(self, appt: Appointment, patient: Patient, kind: str) -> str:
        local = appt.starts_at.astimezone(ZoneInfo(patient.timezone))
        return self._texts.render(
            "reminder.appointment",
            patient.locale,
            kind=appt.kind,
            when="evening" if kind == APPT_EVENING else "soon",
            time=f"{local:%H:%M}",
            date=f"{local:%Y-%m-%d}",
            location=appt.location or "",
            session=appt.session_number or 0,
            sessions=appt.sessions_total or 0,
        )

    async def _compose_alert(self, delivery: Delivery) -> Outgoing | None:
        alert = await self._alerts.by_id(delivery.ref_id or 0)
        patient = await self._patients.by_id(delivery.patient_id or 0)
        if alert is None or patient is None:
            return None
        zone = ZoneInfo(self._settings.clinic_timezone)
        at = f"{alert.created_at.astimezone(zone):%Y-%m-%d %H:%M} {self._settings.clinic_timezone}"
        clinician = await self._clinicians.by_id(delivery.clinician_id or 0)
        if clinician is None or not clinician.active:
            # Removed after the alert was queued: it goes to whoever is on the team now (or,
            # with nobody left, every active clinician) instead of to nobody.
            notice = await self._careteam.notice_for(alert, patient)
            queued = await self.enqueue_alert(notice, escalated=delivery.slot == ESCALATED)
            log.warning(
                "alert rerouted from an inactive clinician delivery_id=%s alert_id=%s queued=%s",
                delivery.id,
                alert.id,
                queued,
            )
            return None
        locale = clinician.locale
        text = self._texts.render(
            f"alert.{alert.kind}",
            locale,
            label=patient.label,
            at=at,
            category=alert.category or "suicide",
            detail=alert.category or "",
            threshold=self._settings.alert_craving_at,
            team_told=True,
        )
        if delivery.slot == ESCALATED:
            minutes = _number(self._settings.alert_escalate_minutes)
            text = f"{self._texts.render('alert.escalated', locale, minutes=minutes)}\n{text}"
        button = ((self._texts.button("acknowledge", locale), f"{callbacks.ALERT_ACK}{alert.id}"),)
        return Outgoing(delivery.chat_id, text, (button,))

    def _dose_buttons(self, delivery_id: int, locale: str) -> Buttons:
        labels = self._dose_labels.get(locale)
        if labels is None:
            labels = tuple(self._texts.button(key, locale) for key in ("taken", "snooze", "skip"))
            self._dose_labels[locale] = labels
        actions = (callbacks.DOSE_TAKEN, callbacks.DOSE_SNOOZE, callbacks.DOSE_SKIP)
        return (
            tuple(
                (label, callbacks.dose(action, delivery_id))
                for label, action in zip(labels, actions, strict=True)
            ),
        )

    def _appointment_buttons(self, delivery_id: int, locale: str) -> Buttons:
        b = self._texts.button
        return (
            ((b("attend", locale), callbacks.appointment(callbacks.APPT_ATTEND, delivery_id)),),
            (
                (
                    b("reschedule", locale),
                    callbacks.appointment(callbacks.APPT_RESCHEDULE, delivery_id),
                ),
            ),
        )

    # Answers --------------------------------------------------------------------------------

    async def answer_dose(
        self, user_id: int, delivery_id: int, action: str, choice: str | None
    ) -> AnswerResult:
        """Record Taken, Snooze or Skip on the reminder the button belongs to."""
        patient, delivery = await self._own_delivery(user_id, delivery_id, DOSE)
        if patient is None or delivery is None:
            return AnswerResult(ok=False, text="", toast=self._texts.render("error.stale_button"))
        locale = patient.locale
        med = await self._schedules.medication(delivery.ref_id or 0)
        med_line = f"{med.name} {med.dose_text}" if med else ""
        if delivery.status == DeliveryStatus.ANSWERED and delivery.response in {"taken", "skipped"}:
            return AnswerResult(
                ok=True,
                text=self._recorded_text(delivery, med_line, patient),
                toast=self._texts.render("reminder.already_recorded", locale),
            )
        b = self._texts.button
        if action == callbacks.DOSE_SNOOZE and choice is None:
            rows = tuple(
                (
                    b("snooze_minutes", locale, minutes=m),
                    callbacks.dose(action, delivery_id, str(m)),
                )
                for m in SNOOZE_CHOICES
            )
            back = ((b("back", locale), callbacks.dose(callbacks.DOSE_BACK, delivery_id)),)
            return AnswerResult(
                ok=True,
                text=self._texts.render("reminder.snooze_question", locale, what=med_line),
                buttons=(rows, back),
            )
        if action == callbacks.DOSE_SKIP and choice is None:
            reasons: Buttons = tuple(
                ((b(f"skip_{reason}", locale), callbacks.dose(action, delivery_id, reason)),)
                for reason in SKIP_REASONS
            )
            back = ((b("back", locale), callbacks.dose(callbacks.DOSE_BACK, delivery_id)),)
            return AnswerResult(
                ok=True,
                text=self._texts.render("reminder.skip_question", locale, what=med_line),
                buttons=(*reasons, back),
            )
        if action == callbacks.DOSE_BACK:
            outgoing = await self.compose(delivery)
            if outgoing is None:
                return AnswerResult(
                    ok=False, text="", toast=self._texts.render("error.stale_button")
                )
            return AnswerResult(ok=True, text=outgoing.text, buttons=outgoing.buttons)
        now = self._clock.now()
        async with self._db.transaction() as tx:
            if action == callbacks.DOSE_TAKEN:
                changed = await self.deliveries.answer(tx, delivery.id, "taken", None, now)
            elif action == callbacks.DOSE_SNOOZE and choice in {str(m) for m in SNOOZE_CHOICES}:
                minutes = int(choice or 0)
                until = now + timedelta(minutes=minutes)
                changed = await self.deliveries.snooze(
                    tx, delivery.id, until, until + self._grace(DOSE), minutes
                )
            elif action == callbacks.DOSE_SKIP and choice in SKIP_REASONS:
                changed = await self.deliveries.answer(tx, delivery.id, "skipped", choice, now)
            else:
                return AnswerResult(
                    ok=False, text="", toast=self._texts.render("error.stale_button")
                )
            updated = await self.deliveries.by_id_tx(tx, delivery.id)
        assert updated is not None
        log.info(
            "dose answer delivery_id=%s patient_id=%s action=%s changed=%s",
            delivery.id,
            patient.id,
            action,
            changed,
        )
        if changed and action == callbacks.DOSE_SKIP and choice == STOPPED:
            await self.plan_safety(patient)
        return AnswerResult(ok=changed, text=self._recorded_text(updated, med_line, patient))

    def _recorded_text(self, delivery: Delivery, what: str, patient: Patient) -> str:
        zone = ZoneInfo(patient.timezone)
        at = delivery.answered_at or self._clock.now()
        return self._texts.render(
            "reminder.recorded",
            patient.locale,
            what=what,
            slot=delivery.slot or "",
            response=delivery.response or "",
            detail=delivery.response_detail or "",
            at=f"{at.astimezone(zone):%H:%M}",
        )

    async def answer_appointment(self, user_id: int, delivery_id: int, action: str) -> AnswerResult:
        """Record I'll be there, or ask the care team to reschedule (which alerts them)."""
        patient, delivery = await self._own_delivery(user_id, delivery_id, None)
        if (
            patient is None
            or delivery is None
            or delivery.kind not in {APPT_EVENING, APPT_HOUR}
            or action not in {callbacks.APPT_ATTEND, callbacks.APPT_RESCHEDULE}
        ):
            return AnswerResult(ok=False, text="", toast=self._texts.render("error.stale_button"))
        appt = await self._schedules.appointment(delivery.ref_id or 0)
        if appt is None:
            return AnswerResult(ok=False, text="", toast=self._texts.render("error.stale_button"))
        now = self._clock.now()
        attending = action == callbacks.APPT_ATTEND
        async with self._db.transaction() as tx:
            await self.deliveries.answer(
                tx, delivery.id, "attending" if attending else "reschedule", None, now
            )
            await self._schedules.set_appointment_status(
                tx, appt.id, "confirmed" if attending else "reschedule_requested"
            )
        notice = None
        if not attending:
            notice = await self._careteam.raise_alert(
                patient, kind="reschedule", severity="routine", category=None
            )
            if notice.is_new:
                await self.enqueue_alert(notice)
            # Its other reminders are void until the team sets a new time.
            async with self._db.transaction() as tx:
                await self.deliveries.cancel_pending(
                    tx, patient_id=patient.id, kinds=(APPT_EVENING, APPT_HOUR), ref_id=appt.id
                )
        log.info(
            "appointment answer delivery_id=%s patient_id=%s attending=%s",
            delivery.id,
            patient.id,
            attending,
        )
        text = self._appointment_text(appt, patient, delivery.kind)
        reply = "reminder.attending" if attending else "reminder.reschedule_sent"
        return AnswerResult(
            ok=True,
            text=f"{text}\n\n{self._texts.render(reply, patient.locale)}",
            alert=notice,
        )

    async def _own_delivery(
        self, user_id: int, delivery_id: int, kind: str | None
    ) -> tuple[Patient | None, Delivery | None]:
        patient = await self._patients.by_telegram_user(user_id)
        delivery = await self.deliveries.by_id(delivery_id)
        if (
            patient is None
            or delivery is None
            or delivery.patient_id != patient.id
            or delivery.kind == ALERT
            or (kind is not None and delivery.kind != kind)
        ):
            return None, None
        return patient, delivery

    # Reachability and pause -----------------------------------------------------------------

    async def mark_unreachable(self, patient_id: int) -> AlertNotice | None:
        """The patient blocked the bot: stop their reminders and tell the care team once."""
        async with self._db.transaction() as tx:
            patient = await self._patients.by_id_tx(tx, patient_id)
            if patient is None or patient.status == PatientStatus.UNREACHABLE:
                return None
            await self._patients.set_status(tx, patient_id, PatientStatus.UNREACHABLE)
            await self.deliveries.cancel_pending(tx, patient_id=patient_id, kinds=PATIENT_KINDS)
            await self.deliveries.stop_repeats(tx, patient_id=patient_id)
        notice = await self._careteam.raise_alert(
            patient, kind="unreachable", severity="routine", category=None
        )
        if notice.is_new:
            await self.enqueue_alert(notice)
        log.warning("patient unreachable patient_id=%s alert_id=%s", patient_id, notice.alert.id)
        return notice

    async def mark_reachable(self, patient: Patient) -> None:
        """A patient who had blocked the bot wrote again: resume their reminders."""
        if patient.status != PatientStatus.UNREACHABLE:
            return
        async with self._db.transaction() as tx:
            await self._patients.set_status(tx, patient.id, PatientStatus.ACTIVE)
        await self.replan_patient(patient.id, resumed=True)

    async def stop_all(self, patient_id: int) -> None:
        """Cancel every planned reminder and prompt of a patient who left, and their repeats."""
        async with self._db.transaction() as tx:
            await self.deliveries.cancel_pending(tx, patient_id=patient_id, kinds=PATIENT_KINDS)
            await self.deliveries.stop_repeats(tx, patient_id=patient_id)

    async def set_paused(self, patient: Patient, *, paused: bool) -> None:
        """Pause or resume a patient's reminders."""
        async with self._db.transaction() as tx:
            await self._patients.set_paused(tx, patient.id, paused=paused)
            if paused:
                await self.deliveries.stop_repeats(tx, patient_id=patient.id)
        await self.replan_patient(patient.id, resumed=not paused)


def _number(value: float) -> str:
    return f"{value:g}"


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
