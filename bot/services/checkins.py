"""Daily check-ins: craving 0-10, mood 0-10, use since the last check-in, an optional note.

On a day with a dTMS session one more question comes after "use": the session's after-effects
(the rules, and what each answer gets, are in ``bot/services/aftereffects.py``).

``/checkin`` and the daily prompt (a delivery the reminder planner makes at the patient's
check-in time) start the same questions (``bot/services/checkin_screens.py`` renders them).
Every answer is stored as soon as it is given, in the row of the local date the check-in was
asked for: that date travels in the buttons' callback data, so a press on yesterday's prompt
counts for yesterday, and answering again replaces that day's values. A day nobody answered has
no row: a missing check-in is never filled in.

The note is the only free text. It is sealed with ``NoteCipher`` before it reaches storage and
is never logged, shown in clinician messages, or echoed back. Without a configured key the
note question is not asked at all, so a note can never be stored in plaintext. While the
patient is at the note question, a small flow (``FlowService``, name ``checkin``) marks that
their next typed text is the note.

"Use: Yes" gets a kind answer with the after-a-lapse article and /sos. The care team sees it in
the weekly digest and, where the clinic keeps ``ALERT_ON_USE`` on, as an alert the same day
(raised by the alert sweep in ``bot/services/watch.py``; crisis language is the safety net's job).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from bot import callbacks
from bot.clock import Clock
from bot.models import Patient
from bot.services import aftereffects
from bot.services.careteam import AlertNotice, CareTeamService
from bot.services.checkin_days import CheckinDays, no_session_found
from bot.services.checkin_screens import (
    CRAVING,
    DTMS,
    MOOD,
    NOTE,
    SCALE,
    USE,
    Screen,
    lapse_screen,
    question_screen,
    summary_screen,
)
from bot.services.crypto import CryptoError, NoteCipher
from bot.storage.checkins import Checkin, CheckinRepository
from bot.storage.db import Database, Statement
from bot.storage.flows import FlowState, FlowValue
from bot.texts import Texts


class NoteFlows(Protocol):
    """What the check-in needs of the flow service for its note step.

    A protocol rather than an import: the flow service depends on the reminders, which render
    the check-in's prompt (``checkin_screens``), and the check-in needs none of that, only
    these calls.
    """

    async def start(
        self, user_id: int, name: str, step: str, data: Mapping[str, FlowValue] | None = None
    ) -> FlowState:
        """Start a flow for a user."""
        ...

    async def get(self, user_id: int) -> FlowState | None:
        """Return the user's open flow, if any."""
        ...

    async def finish(self, user_id: int) -> FlowState | None:
        """End the user's flow."""
        ...

    def starting(
        self, user_id: int, name: str, step: str, data: Mapping[str, FlowValue] | None = None
    ) -> tuple[Statement, FlowState]:
        """Return the statement that starts a flow for a user, and the flow it starts."""
        ...

    def ending(self, user_id: int, name: str) -> Statement:
        """Return the statement that ends the user's flow of this name, if it is still open."""
        ...


__all__ = [
    "CHECKIN_FLOW",
    "NOTE_MAX_CHARS",
    "Checkin",
    "CheckinReply",
    "CheckinService",
]

log = logging.getLogger(__name__)

CHECKIN_FLOW = "checkin"  # the flow open while the patient may type a note
DAY_KEY = "day"  # flow data: the local date the note belongs to
MESSAGE_KEY = "message"  # flow data: the question's message, whose Skip button a note retires
NOTE_MAX_CHARS = 1000

_STEP_OF_CODE = {
    callbacks.CHECKIN_CRAVING: CRAVING,
    callbacks.CHECKIN_MOOD: MOOD,
    callbacks.CHECKIN_USE: USE,
    callbacks.CHECKIN_DTMS: DTMS,
}


@dataclass(frozen=True, slots=True)
class CheckinReply:
    """What an answer changed, for the handler to show.

    ``screen`` replaces the pressed message (or answers a typed note); ``follow_up`` is a
    separate message; ``urgent`` is a separate message sent before anything else (a medical
    emergency); ``alert`` is a new alert for the care team to send now;
    ``retired_message_id`` is a question message whose buttons are now void. Only ``toast`` is
    set when the answer was refused.
    """

    screen: Screen | None = None
    toast: str | None = None
    follow_up: Screen | None = None
    retired_message_id: int | None = None
    urgent: Screen | None = None
    alert: AlertNotice | None = None


class CheckinService:
    """Asks, records and reads back patients' daily check-ins."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        texts: Texts,
        flows: NoteFlows,
        cipher: NoteCipher | None,
        careteam: CareTeamService,
        *,
        answer_days: int,
        use_alerts_team: bool = False,
    ) -> None:
        self._db = db
        self._use_alerts_team = use_alerts_team
        self._clock = clock
        self._texts = texts
        self._flows = flows
        self._cipher = cipher
        self._answer_days = answer_days
        self._checkins = CheckinRepository(db)
        self._days = CheckinDays(db, clock, self._checkins)
        self._alerts = aftereffects.AfterEffectAlerts(self._checkins, careteam)

    @property
    def notes_enabled(self) -> bool:
        """Return whether the note question is asked (only with an encryption key)."""
        return self._cipher is not None

    def local_today(self, patient: Patient) -> date:
        """Return today's date in the patient's zone."""
        return self._clock.now().astimezone(ZoneInfo(patient.timezone)).date()

    # Asking and answering -------------------------------------------------------------------

    async def start(self, patient: Patient) -> Screen:
        """Begin today's check-in: its first question, showing what today already holds."""
        today = self.local_today(patient)
        current, dtms = await self._day(patient, today, leave_note=True)
        return self._ask(patient, today, CRAVING, current, dtms=dtms)

    async def dtms_day(self, patient: Patient, day: date) -> bool:
        """Return whether the day asks about dTMS after-effects (see ``aftereffects``)."""
        return await aftereffects.had_session(self._checkins, patient, day, self._clock.now())

    async def answer(
        self, patient: Patient, data: str, *, message_id: int | None = None
    ) -> CheckinReply:
        """Record a pressed answer against the day in the button, and move to what comes next."""
        parsed = callbacks.parse_checkin(data)
        day = _parse_day(parsed[0]) if parsed is not None else None
        if parsed is None or day is None or not self._may_answer(patient, day):
            return self._refused(patient)
        _, code, choice = parsed
        if code == callbacks.CHECKIN_CHANGE and choice == callbacks.CHECKIN_AGAIN:
            current, dtms = await self._day(patient, day, leave_note=True)
            return CheckinReply(screen=self._ask(patient, day, CRAVING, current, dtms=dtms))
        if code == callbacks.CHECKIN_NOTE and choice == callbacks.CHECKIN_SKIP:
            current, dtms = await self._day(patient, day, leave_note=True)
            if current is None:
                return self._refused(patient)
            return CheckinReply(screen=self._summary_of(patient, current, dtms=dtms))
        step = _STEP_OF_CODE.get(code, "")
        if step == DTMS and choice == aftereffects.TELL:
            return await self._tell_team(patient, day)
        value = _value(step, choice)
        if value is None:
            return self._refused(patient)
        alert = (
            await self._alerts.emergency(patient, day) if value == aftereffects.EMERGENCY else None
        )
        # The answer, the end of any note question left open, the prompt marked answered,
        # whether the day had a dTMS session and the note question if it comes next: one
        # transaction, one round trip.
        current, dtms, note_open = await self._days.record(
            patient,
            day,
            before=self._note_ending(patient),
            craving=int(value) if step == CRAVING else None,
            mood=int(value) if step == MOOD else None,
            used=bool(value) if step == USE else None,
            dtms_effect=str(value) if step == DTMS else None,
            then=self._note_opening(patient, day, step, message_id),
        )
        log.info(
            "checkin answer patient_id=%s step=%s late=%s",
            patient.id,
            step,
            day != self.local_today(patient),
        )
        return self._next(patient, current, step, value, alert, dtms=dtms, note_open=note_open)

    def _next(
        self,
        patient: Patient,
        current: Checkin,
        step: str,
        value: int | bool | str,
        alert: AlertNotice | None,
        *,
        dtms: bool,
        note_open: bool,
    ) -> CheckinReply:
        """Return what follows an answer: the next question, or the end, and any reply to it."""
        day = current.local_date
        if step == CRAVING:
            return CheckinReply(screen=self._ask(patient, day, MOOD, current, dtms=dtms))
        if step == MOOD:
            return CheckinReply(screen=self._ask(patient, day, USE, current, dtms=dtms))
        if step == USE and dtms:
            follow_up = self._lapse(patient) if value is True else None
            screen = self._ask(patient, day, DTMS, current, dtms=dtms)
            return CheckinReply(screen=screen, follow_up=follow_up)
        last = (
            self._ask(patient, day, NOTE, current, dtms=dtms)
            if note_open
            else self._summary_of(patient, current, dtms=dtms)
        )
        reply = CheckinReply(screen=last)
        if step == USE:
            return replace(reply, follow_up=self._lapse(patient) if value is True else None)
        assert isinstance(value, str)
        said = aftereffects.reply(self._texts, patient.locale, value, day.isoformat())
        if value == aftereffects.EMERGENCY:
            assert said is not None
            return replace(reply, urgent=Screen(*said), alert=alert)
        return replace(reply, follow_up=Screen(*said) if said else None)

    def _note_opening(
        self, patient: Patient, day: date, step: str, message_id: int | None
    ) -> Statement | None:
        """Return the statement opening the note question, if this answer may lead to it.

        With notes on, the after-effects answer leads to it, and "use" does on a day without
        a dTMS session (else the after-effects question comes first): that statement runs
        after the batch's dTMS read, and only if it found no session.
        """
        if step not in {USE, DTMS} or not self.notes_enabled or patient.telegram_user_id is None:
            return None
        where = {DAY_KEY: day.isoformat(), MESSAGE_KEY: message_id}
        opening, _ = self._flows.starting(patient.telegram_user_id, CHECKIN_FLOW, NOTE, where)
        return replace(opening, when=no_session_found) if step == USE else opening

    async def _tell_team(self, patient: Patient, day: date) -> CheckinReply:
        """Tell the care team about a reported after-effect, once per day."""
        current = await self._checkins.by_date(patient.id, day)
        if current is None or current.dtms_effect not in aftereffects.TELLABLE:
            return self._refused(patient)
        notice = await self._alerts.tell_team(patient, day)
        text, buttons = aftereffects.told(
            self._texts, patient.locale, current.dtms_effect, already=notice is None
        )
        return CheckinReply(screen=Screen(text, buttons), alert=notice)

    async def take_note(
        self, user_id: int, text: str, patient: Patient | None
    ) -> CheckinReply | None:
        """Store typed text as the note if the user is at the note question; else None.

        ``patient`` is the patient bound to ``user_id`` (the update's sender), if any.
        """
        flow = await self._flows.get(user_id)
        if flow is None or flow.name != CHECKIN_FLOW:
            return None
        day = _parse_day(flow.text(DAY_KEY))
        if patient is None or day is None or not self._may_answer(patient, day):
            await self._flows.finish(user_id)
            return None
        retired = flow.number(MESSAGE_KEY)
        note = text.strip()
        if self._cipher is None:
            # The key was removed (and the bot restarted) while the question was open: the text
            # is dropped, never stored unencrypted.
            await self._flows.finish(user_id)
            current, dtms = await self._day(patient, day, leave_note=False)
            summary = self._summary_of(patient, current, dtms=dtms) if current else None
            return CheckinReply(screen=summary, retired_message_id=retired)
        if not note or len(note) > NOTE_MAX_CHARS:
            problem = (
                self._texts.render(
                    "checkin.note_too_long", patient.locale, max_chars=NOTE_MAX_CHARS
                )
                if note
                else None
            )
            current, dtms = await self._day(patient, day, leave_note=False)
            screen = self._ask(patient, day, NOTE, current, dtms=dtms, problem=problem)
            return CheckinReply(screen=screen)
        # Stored with the note question closed, in one transaction: the flow was open a moment
        # ago (``get`` above), so ending it if still open ends it.
        current, dtms, _ = await self._days.record(
            patient, day, before=self._note_ending(patient), note_cipher=self._cipher.encrypt(note)
        )
        log.info("checkin note stored patient_id=%s checkin_id=%s", patient.id, current.id)
        summary = self._summary_of(patient, current, dtms=dtms)
        return CheckinReply(screen=summary, retired_message_id=retired)

    async def end_note_step(self, user_id: int) -> bool:
        """Stop waiting for a typed note; return whether the user was at the note question."""
        flow = await self._flows.get(user_id)
        if flow is None or flow.name != CHECKIN_FLOW:
            return False
        await self._db.write(self._flows.ending(user_id, CHECKIN_FLOW))
        return True

    # Reading back ---------------------------------------------------------------------------

    async def for_day(self, patient_id: int, day: date) -> Checkin | None:
        """Return a patient's check-in for one local date (None if it was not answered)."""
        return await self._checkins.by_date(patient_id, day)

    def read_note(self, checkin: Checkin) -> str | None:
        """Return a check-in's note as text (for the patient's own export); None if none.

        Raise ``CryptoError`` when notes exist but no key (or another key) is configured.
        """
        if checkin.note_cipher is None:
            return None
        if self._cipher is None:
            msg = "DATA_ENCRYPTION_KEY is not set, so stored notes cannot be read"
            raise CryptoError(msg)
        return self._cipher.decrypt(checkin.note_cipher)

    # Storing --------------------------------------------------------------------------------

    async def _day(
        self, patient: Patient, day: date, *, leave_note: bool
    ) -> tuple[Checkin | None, bool]:
        """Return a day's check-in and whether it had a dTMS session, in one round trip.

        ``leave_note``: the patient moved on to another answer, so they are no longer typing a
        note; the note question is closed in the same trip.
        """
        before = self._note_ending(patient) if leave_note else []
        return await self._days.read(patient, day, before=before)

    def _note_ending(self, patient: Patient) -> list[Statement]:
        """Return the statement closing the patient's note question, if they can have one."""
        if patient.telegram_user_id is None:
            return []
        return [self._flows.ending(patient.telegram_user_id, CHECKIN_FLOW)]

    # Rules and rendering --------------------------------------------------------------------

    def _may_answer(self, patient: Patient, day: date) -> bool:
        """Accept a day from this patient's consent up to today, at most ``answer_days`` back."""
        if not patient.has_consented:
            return False
        today = self.local_today(patient)
        earliest = today - timedelta(days=self._answer_days)
        if patient.consented_at is not None:
            consented = patient.consented_at.astimezone(ZoneInfo(patient.timezone)).date()
            earliest = max(earliest, consented)
        return earliest <= day <= today

    def _refused(self, patient: Patient) -> CheckinReply:
        log.warning("checkin answer refused patient_id=%s", patient.id)
        return CheckinReply(toast=self._texts.render("checkin.refused", patient.locale))

    def _ask(
        self,
        patient: Patient,
        day: date,
        step: str,
        current: Checkin | None,
        *,
        dtms: bool,
        problem: str | None = None,
    ) -> Screen:
        return question_screen(
            self._texts,
            patient.locale,
            day,
            step,
            today=self.local_today(patient),
            current=current,
            notes=self.notes_enabled,
            dtms=dtms,
            problem=problem,
        )

    def _summary_of(self, patient: Patient, current: Checkin, *, dtms: bool) -> Screen:
        return summary_screen(
            self._texts,
            patient.locale,
            current,
            today=self.local_today(patient),
            notes=self.notes_enabled,
            dtms=dtms,
        )

    def _lapse(self, patient: Patient) -> Screen:
        return lapse_screen(self._texts, patient.locale, team_alerted=self._use_alerts_team)


def _value(step: str, choice: str) -> int | bool | str | None:
    """Read a pressed answer as the value it stores; None for anything not on offer."""
    if step in {CRAVING, MOOD} and choice in SCALE:
        return int(choice)
    if step == USE and choice in {callbacks.CHECKIN_NO, callbacks.CHECKIN_YES}:
        return choice == callbacks.CHECKIN_YES
    if step == DTMS and choice in aftereffects.EFFECTS:
        # Taken whatever the schedule says now: a session cancelled after the question was
        # shown must never turn away a report of a seizure.
        return choice
    return None


def _parse_day(text: str) -> date | None:
    """Read an ISO local date (YYYY-MM-DD only); None for anything else."""
    if len(text) != 10:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None
