"""The delivery rows a patient's schedules produce in a window: doses, sessions, check-ins.

Pure computation, no database: the planner (``reminder_planner``) reads the schedules, calls
``patient_rows`` for each patient and writes what it returns; ``companion schedule`` previews
it. Occurrences are computed with ``zoneinfo`` in the patient's zone, never with cron triggers.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.config import Settings
from bot.models import Appointment, Medication, Patient
from bot.services.checkin_screens import prompt_key
from bot.services.occurrences import (
    NonexistentLocalDateError,
    occurrences_between,
    parse_hhmm,
    parse_weekdays,
    resolve_local,
)
from bot.services.reminder_core import APPT_EVENING, APPT_HOUR, CHECKIN, DOSE, grace
from bot.storage.deliveries import PlannedDelivery

log = logging.getLogger(__name__)

EVERY_DAY = frozenset(range(7))
REMINDER_PRIORITY = 5


def patient_rows(
    patient: Patient,
    meds: Sequence[Medication],
    appts: Sequence[Appointment],
    start: datetime,
    end: datetime,
    settings: Settings,
) -> list[PlannedDelivery]:
    """Return the rows a patient's doses, sessions and check-ins produce in ``[start, end)``."""
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
                    expires_at=occ.due_utc + grace(settings, DOSE),
                    priority=REMINDER_PRIORITY,
                )
            )
    for appt in appts:
        if appt.status not in {"scheduled", "confirmed"}:
            continue
        rows.extend(_appointment_rows(patient, appt, zone, start, end, settings))
    rows.extend(_checkin_rows(patient, zone, start, end, settings))
    return rows


def _checkin_rows(
    patient: Patient, zone: ZoneInfo, start: datetime, end: datetime, settings: Settings
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
            expires_at=occ.due_utc + grace(settings, CHECKIN),
            priority=REMINDER_PRIORITY,
        )
        for occ in occurrences_between([slot], EVERY_DAY, zone, window_start, end)
    ]


def _appointment_rows(
    patient: Patient,
    appt: Appointment,
    zone: ZoneInfo,
    start: datetime,
    end: datetime,
    settings: Settings,
) -> list[PlannedDelivery]:
    assert patient.chat_id is not None
    local_start = appt.starts_at.astimezone(zone)
    hour_before = appt.starts_at - timedelta(minutes=settings.appointment_lead_minutes)
    reminders = [(APPT_HOUR, hour_before, appt.starts_at)]
    with contextlib.suppress(NonexistentLocalDateError):  # a day the zone skipped
        evening = resolve_local(
            local_start.date() - timedelta(days=1),
            settings.appointment_evening_time,
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
                expires_at=min(due + grace(settings, kind), expires),
                priority=REMINDER_PRIORITY,
            )
        )
    return found
