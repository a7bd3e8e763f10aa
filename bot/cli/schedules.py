"""A patient's schedules: ``companion med``, ``tms``, ``appt`` and ``schedule``."""

from __future__ import annotations

import argparse
import json

from bot.cli.errors import CliError
from bot.clock import SystemClock
from bot.config import Settings
from bot.services.digest import DigestService
from bot.services.digest_model import Rules
from bot.services.schedules import ScheduleService
from bot.storage.db import Database


def _schedule_service(settings: Settings, db: Database) -> ScheduleService:
    from bot.container import build_services  # noqa: PLC0415 - content loads only for these commands

    return build_services(settings, db=db).schedules


async def med(settings: Settings, db: Database, args: argparse.Namespace) -> None:
    """Add, list or stop a patient's medication reminders."""
    schedules = _schedule_service(settings, db)
    if args.action == "add":
        med = await schedules.add_medication(
            args.patient,
            name=args.name,
            dose=args.dose,
            times=args.times,
            days=args.days,
            start=args.start,
            end=args.end,
        )
        print(
            f"medication {med.id} added: {med.name} ({med.dose_text}) at "
            f"{','.join(med.times)} {med.weekdays} from {med.start_date}"
        )
    elif args.action == "remove":
        med = await schedules.remove_medication(args.id)
        print(f"medication {med.id} ({med.name}) stopped")
    else:
        patient = await schedules.patient(args.patient)
        plan = await schedules.schedule_of(patient)
        if not plan.medications:
            print(f"no active medications for {patient.label}")
        for m in plan.medications:
            end = m.end_date.isoformat() if m.end_date else "open"
            print(
                f"{m.id}\t{m.name}\t{m.dose_text}\t{','.join(m.times)}\t{m.weekdays}\t"
                f"{m.start_date}..{end}"
            )


async def tms(settings: Settings, db: Database, args: argparse.Namespace) -> None:
    """Add, list, end or mark the sessions of a patient's dTMS course."""
    schedules = _schedule_service(settings, db)
    if args.action == "add":
        course, sessions = await schedules.add_tms_course(
            args.patient,
            start=args.start,
            time_text=args.time,
            days=args.days,
            sessions=args.sessions,
            location=args.location,
        )
        first = sessions[0].local_start if sessions else None
        last = sessions[-1].local_start if sessions else None
        print(
            f"dTMS course {course.id} added: {len(sessions)} sessions, {course.weekdays} at "
            f"{course.time}, {first:%Y-%m-%d} to {last:%Y-%m-%d}"
        )
    elif args.action == "remove":
        course = await schedules.remove_tms_course(args.id)
        print(f"dTMS course {course.id} ended; remaining sessions cancelled")
    elif args.action == "mark":
        digests = DigestService(db, SystemClock(), Rules.from_settings(settings))
        if not await digests.mark_attendance(args.patient, args.session, attended=args.attended):
            msg = f"{args.patient} has no dTMS session {args.session}"
            raise CliError(msg)
        what = "attended" if args.attended else "missed"
        print(f"{args.patient} dTMS session {args.session}: {what}")
    else:
        patient = await schedules.patient(args.patient)
        plan = await schedules.schedule_of(patient)
        if not plan.courses:
            print(f"no active dTMS course for {patient.label}")
        for c in plan.courses:
            print(
                f"{c.id}\t{c.start_date}\t{c.weekdays}\t{c.time}\t{c.sessions} sessions\t"
                f"{c.location or ''}"
            )


async def appt(settings: Settings, db: Database, args: argparse.Namespace) -> None:
    """Add, list or cancel a patient's single appointments."""
    schedules = _schedule_service(settings, db)
    if args.action == "add":
        appt = await schedules.add_appointment(
            args.patient, kind=args.kind, at=args.at, location=args.location
        )
        print(
            f"appointment {appt.id} added: {appt.kind} at "
            f"{appt.local_start:%Y-%m-%d %H:%M} {appt.timezone}"
        )
    elif args.action == "remove":
        appt = await schedules.cancel_appointment(args.id)
        print(f"appointment {appt.id} cancelled")
    else:
        patient = await schedules.patient(args.patient)
        plan = await schedules.schedule_of(patient, days_ahead=90)
        if not plan.appointments:
            print(f"no upcoming appointments for {patient.label}")
        for a in plan.appointments:
            number = f" {a.session_number}/{a.sessions_total}" if a.session_number else ""
            print(
                f"{a.id}\t{a.kind}{number}\t{a.local_start:%Y-%m-%d %H:%M} {a.timezone}\t"
                f"{a.status}\t{a.location or ''}"
            )


async def schedule(settings: Settings, db: Database, args: argparse.Namespace) -> None:
    """Print every reminder planned for a patient over some days."""
    schedules = _schedule_service(settings, db)
    patient = await schedules.patient(args.patient)
    start = args.start or schedules.local_today(patient)
    views = await schedules.planned(args.patient, start=start, days=args.days)
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "kind": v.kind,
                        "local_time": v.local_time.isoformat(),
                        "utc_time": v.utc_time.isoformat(),
                        "what": v.what,
                    }
                    for v in views
                ],
                indent=2,
            )
        )
        return
    print(
        f"{patient.label}: {len(views)} planned reminders, {args.days} days from {start} "
        f"({patient.timezone})"
    )
    for v in views:
        print(f"{v.local_time:%Y-%m-%d %H:%M %z}\t{v.utc_time:%Y-%m-%d %H:%M}Z\t{v.kind}\t{v.what}")
