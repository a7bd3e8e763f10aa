"""Daily check-ins: craving 0-10, mood 0-10, use since the last check-in, an optional note.

``/checkin`` and the daily prompt (a delivery the reminder planner makes at the patient's
check-in time) start the same questions. Every answer is stored as soon as it is given, in the
row of the local date the check-in was asked for: that date travels in the buttons' callback
data, so a press on yesterday's prompt counts for yesterday, and answering again replaces that
day's values. A day nobody answered has no row: a missing check-in is never filled in.

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
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot import callbacks
from bot.clock import Clock
from bot.models import Patient
from bot.services.crypto import CryptoError, NoteCipher
from bot.services.learn import PAGE
from bot.storage.checkins import Checkin, CheckinRepository
from bot.storage.db import Database, Transaction
from bot.storage.deliveries import DeliveryRepository
from bot.storage.repositories import PatientRepository
from bot.texts import Texts

if TYPE_CHECKING:
    # Only the type: the flows service imports the reminders service, which imports this module.
    from bot.services.flows import FlowService

__all__ = [
    "CHECKIN_FLOW",
    "NOTE_MAX_CHARS",
    "Checkin",
    "CheckinReply",
    "CheckinService",
    "Screen",
    "prompt_key",
    "prompt_screen",
]

log = logging.getLogger(__name__)

# Question names, as the templates know them.
CRAVING = "craving"
MOOD = "mood"
USE = "use"
NOTE = "note"

CHECKIN_FLOW = "checkin"  # the flow open while the patient may type a note
DAY_KEY = "day"  # flow data: the local date the note belongs to
MESSAGE_KEY = "message"  # flow data: the question's message, whose Skip button a note retires
NOTE_MAX_CHARS = 1000
SCALE = tuple(str(n) for n in range(11))
SCALE_ROWS = (SCALE[:6], SCALE[6:])  # 0-5 and 6-10: two rows fit a phone screen
LAPSE_ARTICLE = f"{PAGE}after-a-lapse:0"

_STEP_OF_CODE = {
    callbacks.CHECKIN_CRAVING: CRAVING,
    callbacks.CHECKIN_MOOD: MOOD,
    callbacks.CHECKIN_USE: USE,
}

Buttons = tuple[tuple[tuple[str, str], ...], ...]


@dataclass(frozen=True, slots=True)
class Screen:
    """A message to show: Telegram HTML and rows of (label, callback data)."""

    text: str
    buttons: Buttons = ()


@dataclass(frozen=True, slots=True)
class CheckinReply:
    """What an answer changed, for the handler to show.

    ``screen`` replaces the pressed message (or answers a typed note); ``follow_up`` is a
    separate message; ``retired_message_id`` is a question message whose buttons are now void.
    Only ``toast`` is set when the answer was refused.
    """

    screen: Screen | None = None
    toast: str | None = None
    follow_up: Screen | None = None
    retired_message_id: int | None = None


def prompt_key(patient_id: int, day: date) -> str:
    """Return the dedupe key of a patient's daily check-in prompt for one local date."""
    return f"checkin:{patient_id}:{day.isoformat()}"


def prompt_screen(texts: Texts, locale: str, day: date, *, today: date, notes: bool) -> Screen:
    """Render the daily prompt: the check-in's first question, with its 0-10 buttons."""
    return _question(texts, locale, day, CRAVING, today=today, current=None, notes=notes)


def _context(
    day: date, today: date, current: Checkin | None, *, notes: bool, step: str = ""
) -> dict[str, Any]:
    steps = (CRAVING, MOOD, USE, NOTE) if notes else (CRAVING, MOOD, USE)
    return {
        "date": day.isoformat(),
        "weekday": day.weekday(),
        "is_today": day == today,
        "craving": current.craving if current else None,
        "mood": current.mood if current else None,
        "used": current.used if current else None,
        "has_note": current.has_note if current else False,
        "notes": notes,
        "step": step,
        "number": steps.index(step) + 1 if step in steps else len(steps),
        "total": len(steps),
    }


def _question(
    texts: Texts,
    locale: str,
    day: date,
    step: str,
    *,
    today: date,
    current: Checkin | None,
    notes: bool,
    problem: str | None = None,
) -> Screen:
    context = _context(day, today, current, notes=notes, step=step)
    text = texts.render("checkin.question", locale, **context)
    if problem:
        text = f"{problem}\n\n{text}"
    iso = day.isoformat()
    if step in {CRAVING, MOOD}:
        code = callbacks.CHECKIN_CRAVING if step == CRAVING else callbacks.CHECKIN_MOOD
        buttons: Buttons = tuple(
            tuple((n, callbacks.checkin(iso, code, n)) for n in row) for row in SCALE_ROWS
        )
    elif step == USE:
        buttons = (
            tuple(
                (
                    texts.button(f"checkin_{choice}", locale),
                    callbacks.checkin(iso, callbacks.CHECKIN_USE, choice),
                )
                for choice in (callbacks.CHECKIN_NO, callbacks.CHECKIN_YES)
            ),
        )
    else:
        skip = callbacks.checkin(iso, callbacks.CHECKIN_NOTE, callbacks.CHECKIN_SKIP)
        buttons = (((texts.button("checkin_skip_note", locale), skip),),)
    return Screen(text, buttons)


class CheckinService:
    """Asks, records and reads back patients' daily check-ins."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        texts: Texts,
        flows: FlowService,
        cipher: NoteCipher | None,
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
        self._deliveries = DeliveryRepository(db)
        self._patients = PatientRepository(db)

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
        await self._leave_note_step(patient)
        today = self.local_today(patient)
        current = await self._checkins.by_date(patient.id, today)
        return self._ask(patient, today, CRAVING, current)

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
            await self._leave_note_step(patient)
            current = await self._checkins.by_date(patient.id, day)
            return CheckinReply(screen=self._ask(patient, day, CRAVING, current))
        if code == callbacks.CHECKIN_NOTE and choice == callbacks.CHECKIN_SKIP:
            await self._leave_note_step(patient)
            current = await self._checkins.by_date(patient.id, day)
            if current is None:
                return self._refused(patient)
            return CheckinReply(screen=self._summary(patient, current))
        step = _STEP_OF_CODE.get(code)
        if step in {CRAVING, MOOD} and choice in SCALE:
            value: int | bool = int(choice)
        elif step == USE and choice in {callbacks.CHECKIN_NO, callbacks.CHECKIN_YES}:
            value = choice == callbacks.CHECKIN_YES
        else:
            return self._refused(patient)
        await self._leave_note_step(patient)
        current = await self._record(patient, day, step, value)
        log.info(
            "checkin answer patient_id=%s step=%s late=%s",
            patient.id,
            step,
            day != self.local_today(patient),
        )
        follow_up = self._lapse(patient) if step == USE and value is True else None
        if step == CRAVING:
            return CheckinReply(screen=self._ask(patient, day, MOOD, current))
        if step == MOOD:
            return CheckinReply(screen=self._ask(patient, day, USE, current))
        if self.notes_enabled and patient.telegram_user_id is not None:
            where = {DAY_KEY: day.isoformat(), MESSAGE_KEY: message_id}
            await self._flows.start(patient.telegram_user_id, CHECKIN_FLOW, NOTE, where)
            screen = self._ask(patient, day, NOTE, current)
        else:
            screen = self._summary(patient, current)
        return CheckinReply(screen=screen, follow_up=follow_up)

    async def take_note(self, user_id: int, text: str) -> CheckinReply | None:
        """Store typed text as the note if the user is at the note question; else None."""
        flow = await self._flows.get(user_id)
        if flow is None or flow.name != CHECKIN_FLOW:
            return None
        patient = await self._patients.by_telegram_user(user_id)
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
            current = await self._checkins.by_date(patient.id, day)
            summary = self._summary(patient, current) if current else None
            return CheckinReply(screen=summary, retired_message_id=retired)
        if not note or len(note) > NOTE_MAX_CHARS:
            problem = (
                self._texts.render(
                    "checkin.note_too_long", patient.locale, max_chars=NOTE_MAX_CHARS
                )
                if note
                else None
            )
            current = await self._checkins.by_date(patient.id, day)
            return CheckinReply(screen=self._ask(patient, day, NOTE, current, problem=problem))
        current = await self._record_note(patient, day, self._cipher.encrypt(note))
        await self._flows.finish(user_id)
        log.info("checkin note stored patient_id=%s checkin_id=%s", patient.id, current.id)
        return CheckinReply(screen=self._summary(patient, current), retired_message_id=retired)

    async def end_note_step(self, user_id: int) -> bool:
        """Stop waiting for a typed note; return whether the user was at the note question."""
        flow = await self._flows.get(user_id)
        if flow is None or flow.name != CHECKIN_FLOW:
            return False
        await self._flows.finish(user_id)
        return True

    async def _leave_note_step(self, patient: Patient) -> None:
        """A patient who moved on to another answer is no longer typing a note."""
        if patient.telegram_user_id is not None:
            await self.end_note_step(patient.telegram_user_id)

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

    async def _record(self, patient: Patient, day: date, step: str, value: int | bool) -> Checkin:
        now = self._clock.now()
        async with self._db.transaction() as tx:
            await self._checkins.record(
                tx,
                patient.id,
                day,
                now,
                craving=int(value) if step == CRAVING else None,
                mood=int(value) if step == MOOD else None,
                used=bool(value) if step == USE else None,
            )
            return await self._answered(tx, patient, day, now)

    async def _record_note(self, patient: Patient, day: date, ciphertext: str) -> Checkin:
        now = self._clock.now()
        async with self._db.transaction() as tx:
            await self._checkins.record(tx, patient.id, day, now, note_cipher=ciphertext)
            return await self._answered(tx, patient, day, now)

    async def _answered(
        self, tx: Transaction, patient: Patient, day: date, now: datetime
    ) -> Checkin:
        """Mark the day's prompt answered (a late answer counts) and return the day's row."""
        prompt = await self._checkins.prompt_id(tx, prompt_key(patient.id, day))
        if prompt is not None:
            # A prompt still waiting to be sent is then never sent: the day is already answered.
            await self._deliveries.answer(tx, prompt, "checkin", None, now)
        current = await self._checkins.by_date_tx(tx, patient.id, day)
        assert current is not None
        return current

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
        problem: str | None = None,
    ) -> Screen:
        return _question(
            self._texts,
            patient.locale,
            day,
            step,
            today=self.local_today(patient),
            current=current,
            notes=self.notes_enabled,
            problem=problem,
        )

    def _summary(self, patient: Patient, current: Checkin) -> Screen:
        locale = patient.locale
        context = _context(
            current.local_date, self.local_today(patient), current, notes=self.notes_enabled
        )
        text = self._texts.render("checkin.saved", locale, **context)
        change = callbacks.checkin(
            current.local_date.isoformat(), callbacks.CHECKIN_CHANGE, callbacks.CHECKIN_AGAIN
        )
        return Screen(text, (((self._texts.button("checkin_change", locale), change),),))

    def _lapse(self, patient: Patient) -> Screen:
        locale = patient.locale
        read = ((self._texts.button("checkin_lapse_article", locale), LAPSE_ARTICLE),)
        text = self._texts.render("checkin.lapse", locale, team_alerted=self._use_alerts_team)
        return Screen(text, (read,))


def _parse_day(text: str) -> date | None:
    """Read an ISO local date (YYYY-MM-DD only); None for anything else."""
    if len(text) != 10:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None
