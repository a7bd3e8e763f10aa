"""Just-in-time safety messages: the safety facts of a medicine at the moment they matter.

Three moments carry much of the risk of these medicines (CONTENT.md rule 4, FACTS.md):

- **the first two weeks of methadone**, when doses build up and deaths cluster: on day 1 the
  signs of too much, no sedatives, alcohol or sleep aids, naloxone at home; on day 4 that the
  medicine builds up; on day 10 that the first two weeks are not over yet;
- **the end of a naltrexone course**, by its end date or its removal, or a dose the patient
  skipped as "stopped": tolerance is lower than before, and the naloxone steps;
- **the start of disulfiram**: alcohol hidden in mouthwash, sauces, hand sanitiser, medicines.

Each message is a delivery row, planned like a reminder, whose key names the patient, the
message and the course (``jit:{patient}:{message}:{course start}``): planning it again, a
restart or a re-plan never sends it twice. A *course* is the run of one medicine's schedules
(recognised by the library's lexicon, so Dolophine is methadone) each starting by the day after
the one before ended: a dose change entered as a new schedule continues the course and starts
nothing again, while a new start after a break is a new course, with its risks, and its
messages. Messages go out between ``JUST_IN_TIME_EARLIEST`` and ``JUST_IN_TIME_LATEST`` in the
patient's zone; each kind can be switched off. The text is rendered when it is sent, in the
patient's language at that moment.
"""

from __future__ import annotations

import itertools
import logging
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.config import Settings
from bot.models import Medication, Patient
from bot.services.learn import OPEN
from bot.services.library import Library
from bot.services.occurrences import (
    NonexistentLocalDateError,
    ScheduleInputError,
    parse_hhmm,
    parse_weekdays,
    resolve_local,
)
from bot.storage.db import Database, Transaction
from bot.storage.deliveries import PlannedDelivery
from bot.storage.jit import JustInTimeRepository, MedicationSpan, StopReport
from bot.texts import LOCALES, ContentError, Texts

log = logging.getLogger(__name__)

JIT = "jit"  # the deliveries' kind; the slot column names the message
JIT_PRIORITY = 6  # a dose reminder due at the same moment goes first
METHADONE = "methadone"
NALTREXONE = "naltrexone"
DISULFIRAM = "disulfiram"
DRUGS = (METHADONE, NALTREXONE, DISULFIRAM)
# A course's start messages belong to its first two weeks; the stop message is still worth
# sending this long after a course ended or the patient said they stopped.
COURSE_DAYS = 14
STOP_DAYS = 14
# A "stopped" pressed this recently is answered at once, whatever the hour: the patient is awake.
PROMPT = timedelta(hours=1)
# Schedules removed longer ago than this cannot change what is sent: the windows above plus the
# one day that joins two schedules into a course, with room to spare.
LOOKBACK = timedelta(days=30)

Buttons = tuple[tuple[tuple[str, str], ...], ...]


@dataclass(frozen=True, slots=True)
class Message:
    """One safety message: its template ``jit.<code>``, its day of the course, its articles."""

    code: str
    drug: str
    day: int
    articles: tuple[str, ...]


START_SERIES: Mapping[str, tuple[Message, ...]] = {
    METHADONE: (
        Message("methadone_start", METHADONE, 0, ("methadone", "naloxone-overdose")),
        Message("methadone_day4", METHADONE, 3, ("naloxone-overdose",)),
        Message("methadone_day10", METHADONE, 9, ("mixing-risks",)),
    ),
    DISULFIRAM: (Message("disulfiram_start", DISULFIRAM, 0, ("disulfiram",)),),
}
NALTREXONE_STOP = Message(
    "naltrexone_stop", NALTREXONE, 0, ("loss-of-tolerance", "naloxone-overdose")
)
MESSAGES: Mapping[str, Message] = {
    m.code: m for m in (*itertools.chain.from_iterable(START_SERIES.values()), NALTREXONE_STOP)
}


@dataclass(frozen=True, slots=True)
class Course:
    """One medicine's run of schedules for one patient, from its first day to its last."""

    drug: str
    start: date
    last_day: date | None  # None while a schedule runs open-ended
    spans: tuple[MedicationSpan, ...]  # by start date

    @property
    def first(self) -> Medication:
        """Return the schedule that started the course."""
        return self.spans[0].medication

    @property
    def known_since(self) -> datetime:
        """Return when the care team entered the course."""
        return min(span.medication.created_at for span in self.spans)

    def running_on(self, day: date) -> bool:
        """Return whether a schedule still in place covers ``day``."""
        return any(
            span.removed_at is None
            and span.medication.start_date <= day
            and (span.medication.end_date is None or day <= span.medication.end_date)
            for span in self.spans
        )


@dataclass(frozen=True, slots=True)
class Window:
    """The local hours in which a safety message may arrive."""

    earliest: time
    latest: time

    def place(self, day: date, wanted: time, zone: ZoneInfo) -> datetime:
        """Return ``wanted`` on ``day``, moved into the window."""
        return _resolve(day, min(max(wanted, self.earliest), self.latest), zone)

    def next_open(self, moment: datetime, zone: ZoneInfo) -> datetime:
        """Return ``moment`` if it is inside the window, else the window's next opening."""
        local = moment.astimezone(zone)
        if local.time() < self.earliest:
            return _resolve(local.date(), self.earliest, zone)
        if local.time() > self.latest:
            return _resolve(local.date() + timedelta(days=1), self.earliest, zone)
        return moment


def find_courses(
    spans: Sequence[MedicationSpan], zone: ZoneInfo, drug_of: Mapping[int, str]
) -> list[Course]:
    """Join one patient's schedules of each medicine into courses (``drug_of``: by medication id).

    A schedule removed before its first day never ran and is left out; one that starts by the
    day after the course's last day continues it.
    """
    by_drug: defaultdict[str, list[tuple[date, date | None, MedicationSpan]]] = defaultdict(list)
    for span in spans:
        drug = drug_of.get(span.medication.id)
        if drug is None:
            continue
        last = _last_day(span, zone)
        if last is not None and last < span.medication.start_date:
            continue
        by_drug[drug].append((span.medication.start_date, last, span))
    courses: list[Course] = []
    for drug, items in by_drug.items():
        items.sort(key=lambda item: (item[0], item[2].medication.id))
        members: list[MedicationSpan] = []
        start: date | None = None
        last_day: date | None = None
        for first, last, span in items:
            if start is not None and (last_day is None or first <= last_day + timedelta(days=1)):
                members.append(span)
                last_day = None if last_day is None or last is None else max(last_day, last)
                continue
            if start is not None:
                courses.append(Course(drug, start, last_day, tuple(members)))
            members, start, last_day = [span], first, last
        if start is not None:
            courses.append(Course(drug, start, last_day, tuple(members)))
    return courses


@dataclass(frozen=True, slots=True)
class Plan:
    """What planning one patient needs besides their schedules."""

    now: datetime
    until: datetime
    window: Window
    enabled: frozenset[str]


def plan_course(
    patient: Patient,
    course: Course,
    stops: Sequence[StopReport],
    *,
    reminded: bool,
    plan: Plan,
) -> list[PlannedDelivery]:
    """Return the safety messages of one course that are due before ``plan.until``.

    ``reminded``: a dose reminder of the course went out, so the patient really was on it
    (a schedule entered by mistake and removed teaches nobody about lost tolerance).
    """
    if course.drug not in plan.enabled or patient.chat_id is None:
        return []
    if course.drug in START_SERIES:
        return _start_series(patient, course, plan)
    if course.drug == NALTREXONE:
        return _stop_message(patient, course, stops, reminded=reminded, plan=plan)
    return []


def _start_series(patient: Patient, course: Course, plan: Plan) -> list[PlannedDelivery]:
    zone = ZoneInfo(patient.timezone)
    first_day = _first_scheduled_day(course.first)
    window_end = _resolve(first_day + timedelta(days=COURSE_DAYS), time(), zone)
    series = START_SERIES[course.drug]
    anchor = min(parse_hhmm(t) for t in course.first.times)
    nominal = [plan.window.place(first_day + timedelta(days=m.day), anchor, zone) for m in series]
    rows = []
    for index, message in enumerate(series):
        if not course.running_on(first_day + timedelta(days=message.day)):
            continue
        if index > 0 and nominal[index] < course.known_since:
            continue  # entered after this moment: the first message, sent late, covers it
        # Each later message may still come late, until the next one is due; the first one
        # (the essential facts) until the end of the two weeks.
        expires = nominal[index + 1] if 0 < index < len(series) - 1 else window_end
        due = nominal[index]
        if due < plan.now:
            due = plan.window.next_open(plan.now, zone)
        if due < expires and due <= plan.until:
            rows.append(_row(patient, course, message, due, expires))
    return rows


def _stop_message(
    patient: Patient,
    course: Course,
    stops: Sequence[StopReport],
    *,
    reminded: bool,
    plan: Plan,
) -> list[PlannedDelivery]:
    zone = ZoneInfo(patient.timezone)
    window = timedelta(days=STOP_DAYS)
    ids = {span.medication.id for span in course.spans}
    candidates: list[tuple[datetime, datetime]] = []  # (due, expires)
    for stop in stops:
        if stop.medication_id in ids and stop.at + window > plan.now:
            if plan.now - stop.at <= PROMPT:
                due = max(stop.at, plan.now)
            else:
                due = plan.window.next_open(plan.now, zone)
            candidates.append((due, stop.at + window))
    if course.last_day is not None and reminded:
        # The morning after the last dose day: the block wears off over the next days.
        nominal = plan.window.place(course.last_day + timedelta(days=1), time(), zone)
        due = nominal if nominal >= plan.now else plan.window.next_open(plan.now, zone)
        candidates.append((due, nominal + window))
    live = [(due, expires) for due, expires in candidates if due < expires and due <= plan.until]
    if not live:
        return []
    due, expires = min(live)
    return [_row(patient, course, NALTREXONE_STOP, due, expires)]


def _row(
    patient: Patient, course: Course, message: Message, due: datetime, expires: datetime
) -> PlannedDelivery:
    assert patient.chat_id is not None
    return PlannedDelivery(
        dedupe_key=f"{JIT}:{patient.id}:{message.code}:{course.start.isoformat()}",
        kind=JIT,
        chat_id=patient.chat_id,
        patient_id=patient.id,
        ref_id=course.first.id,
        local_date=course.start.isoformat(),
        slot=message.code,
        due_at=due,
        expires_at=expires,
        priority=JIT_PRIORITY,
    )


class SafetyMessages:
    """Plans and composes the just-in-time safety messages."""

    def __init__(self, db: Database, texts: Texts, settings: Settings, library: Library) -> None:
        self._texts = texts
        self._library = library
        self._repo = JustInTimeRepository(db)
        self.window = Window(settings.just_in_time_earliest, settings.just_in_time_latest)
        self.enabled = frozenset(
            drug
            for drug, on in (
                (METHADONE, settings.just_in_time_methadone),
                (NALTREXONE, settings.just_in_time_naltrexone),
                (DISULFIRAM, settings.just_in_time_disulfiram),
            )
            if on
        )
        self._drugs: dict[str, str | None] = {}

    def check(self) -> None:
        """Render every message switched on, and its buttons, in every language.

        Start-up fails on a gap (a clinic's own content folder from before these messages),
        naming the template; a clinic that switched a kind off does not need its templates.
        """
        wanted = [m for m in MESSAGES.values() if m.drug in self.enabled]
        for locale, message in itertools.product(LOCALES, wanted):
            for key in (f"jit.{message.code}", *(f"button.article.{a}" for a in message.articles)):
                try:
                    self._texts.render(key, locale)
                except KeyError as exc:
                    msg = f"messages/{locale}: no template {key!r} for a safety message"
                    raise ContentError(msg) from exc

    def drug_of(self, name: str) -> str | None:
        """Return which of the three medicines a schedule's name is, if any."""
        if name not in self._drugs:
            found = self._library.lexicon.medications_in(name)
            self._drugs[name] = next((d for d in found if d in DRUGS), None)
        return self._drugs[name]

    def kind_for(self, name: str) -> str | None:
        """Return the medicine whose safety messages a schedule of this name brings, if on."""
        drug = self.drug_of(name) if name else None
        return drug if drug in self.enabled else None

    async def planned_rows(
        self,
        patients: Mapping[int, Patient],
        now: datetime,
        until: datetime | Mapping[int, datetime],
        *,
        patient_ids: Collection[int] | None = None,
    ) -> list[PlannedDelivery]:
        """Compute the safety messages of these patients due by ``until`` (nothing is written).

        ``until`` is one instant for all, or one per patient id (each patient's plan reaches
        its own instant). ``patient_ids`` narrows the reads to those patients (a batch of a
        planner tick, a re-plan, a "stopped" answer); None reads every patient's.
        """
        plannable = {pid: p for pid, p in patients.items() if p.consented_at is not None}
        if not self.enabled or not plannable:
            return []
        spans = await self._repo.medications(now - LOOKBACK, patient_ids)
        stops: list[StopReport] = []
        if NALTREXONE in self.enabled:
            stops = await self._repo.stop_reports(now - timedelta(days=STOP_DAYS), patient_ids)
        by_patient: defaultdict[int, list[MedicationSpan]] = defaultdict(list)
        drug_of: dict[int, str] = {}
        for span in spans:
            drug = self.drug_of(span.medication.name)
            if drug in self.enabled and span.medication.patient_id in plannable:
                by_patient[span.medication.patient_id].append(span)
                drug_of[span.medication.id] = drug
        stops_of: defaultdict[int, list[StopReport]] = defaultdict(list)
        for stop in stops:
            stops_of[stop.patient_id].append(stop)
        courses = {
            pid: find_courses(items, ZoneInfo(plannable[pid].timezone), drug_of)
            for pid, items in by_patient.items()
        }
        ended = [
            span.medication.id
            for course in itertools.chain.from_iterable(courses.values())
            if course.drug == NALTREXONE and course.last_day is not None
            for span in course.spans
        ]
        reminded = await self._repo.reminded(ended)
        rows: list[PlannedDelivery] = []
        for pid, patient_courses in courses.items():
            reach = until if isinstance(until, datetime) else until[pid]
            plan = Plan(now, reach, self.window, self.enabled)
            for course in patient_courses:
                try:
                    rows.extend(
                        plan_course(
                            plannable[pid],
                            course,
                            stops_of[pid],
                            reminded=any(s.medication.id in reminded for s in course.spans),
                            plan=plan,
                        )
                    )
                except ScheduleInputError:
                    # One unreadable stored time must not stop the planner for everyone else.
                    log.warning("safety message not planned patient_id=%s", pid)
        return rows

    async def write(self, tx: Transaction, rows: Sequence[PlannedDelivery], now: datetime) -> None:
        """Write planned safety messages (see ``JustInTimeRepository.plan``)."""
        await self._repo.plan(tx, rows, now)

    def compose(self, code: str | None, locale: str) -> tuple[str, Buttons] | None:
        """Render a safety message and its article buttons; None if its kind is switched off."""
        message = MESSAGES.get(code or "")
        if message is None or message.drug not in self.enabled:
            return None
        text = self._texts.render(f"jit.{message.code}", locale)
        buttons: Buttons = tuple(
            ((self._texts.button(f"article.{article}", locale), f"{OPEN}{article}"),)
            for article in message.articles
            if self._library.get(article) is not None
        )
        return text, buttons


def _first_scheduled_day(medication: Medication) -> date:
    """Return the first day on or after the start date that has a dose on the schedule."""
    try:
        weekdays = parse_weekdays(medication.weekdays)
    except ScheduleInputError:
        return medication.start_date
    day = medication.start_date
    while day.weekday() not in weekdays:
        day += timedelta(days=1)
    return day


def _last_day(span: MedicationSpan, zone: ZoneInfo) -> date | None:
    """Return the last local day a schedule ran (its end date, or the day it was removed)."""
    ends = [span.medication.end_date] if span.medication.end_date else []
    if span.removed_at is not None:
        ends.append(span.removed_at.astimezone(zone).date())
    return min(ends) if ends else None


def _resolve(day: date, slot: time, zone: ZoneInfo) -> datetime:
    """Return a local wall-clock time as an instant; a day the zone skipped moves to the next."""
    for offset in range(3):
        try:
            return resolve_local(day + timedelta(days=offset), slot, zone)
        except NonexistentLocalDateError:
            continue
    return resolve_local(day + timedelta(days=3), slot, zone)
