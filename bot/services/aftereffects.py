"""dTMS after-effects in the daily check-in: which days ask, the answers, and what each one gets.

On a day with a dTMS session the check-in asks one more question after "use": none, headache,
scalp discomfort, fainting or a seizure, or something else. A day has a dTMS session when a dTMS
appointment falls on the patient's local calendar day, has started by the time the check-in is
shown, and was not called off: the clinic marked it attended (``companion tms mark``), or it is
still scheduled or confirmed and nobody marked it missed. A cancelled session, one the patient
asked to reschedule, or one staff marked missed asks nothing, unless staff marked it attended.
A session later the same day does not ask yet; a check-in answered (or changed) after it does.

What each answer gets:

- **none**: nothing more.
- **headache, scalp discomfort**: a short word that it is common and usually eases over the
  first week, the side-effects article, and a button to tell the care team (a routine alert,
  once per day) for one that is severe, lasting or keeps coming back.
- **something else**: recorded as "other"; the same button to tell the team.
- **fainting or a seizure**: answered at once as a medical emergency (the emergency number from
  the settings, seizure first aid), and an urgent alert to the care team, which escalates like a
  crisis alert if nobody acknowledges it. Answering it again for the same day does not page
  the team again; the alert already stands.

The answer is stored in the day's check-in row (``dtms_effect``); the weekly digest counts them.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot import callbacks
from bot.models import CrisisCategory, Patient
from bot.services.careteam import AlertNotice, CareTeamService
from bot.services.learn import PAGE
from bot.storage.checkins import CheckinRepository
from bot.texts import Texts

__all__ = [
    "ARTICLE",
    "COMMON",
    "DIGEST_ORDER",
    "EFFECTS",
    "EMERGENCY",
    "EMERGENCY_ALERT",
    "NONE",
    "OTHER",
    "TELL",
    "TELLABLE",
    "TOLD_ALERT",
    "AfterEffectAlerts",
    "Buttons",
    "day_window",
    "had_session",
    "question_buttons",
    "reply",
    "tally",
    "told",
    "told_key",
]

log = logging.getLogger(__name__)

NONE = "none"
HEADACHE = "headache"
SCALP = "scalp"
EMERGENCY = "fainting_or_seizure"
OTHER = "other"
EFFECTS = (NONE, HEADACHE, SCALP, EMERGENCY, OTHER)
COMMON = frozenset({HEADACHE, SCALP})
TELLABLE = frozenset({HEADACHE, SCALP, OTHER})  # answers that offer "Tell my care team"
TELL = "tell"  # the callback choice of that button
# How the digest lists them: the one that matters most first.
DIGEST_ORDER = (EMERGENCY, HEADACHE, SCALP, OTHER)
EMERGENCY_ALERT = "dtms_emergency"  # urgent, category medical_emergency
TOLD_ALERT = "dtms_effect"  # routine, once per patient and day
ARTICLE = f"{PAGE}dtms-side-effects:0"

Buttons = tuple[tuple[tuple[str, str], ...], ...]


class AfterEffectAlerts:
    """Raises the care team's alerts about after-effects: the emergency and "tell my team"."""

    def __init__(self, checkins: CheckinRepository, careteam: CareTeamService) -> None:
        self._checkins = checkins
        self._careteam = careteam

    async def emergency(self, patient: Patient, day: date) -> AlertNotice | None:
        """Page the care team about a fainting spell or seizure; None if there is nothing new.

        Call it before the answer is stored: a crash in between leaves an alert and no answer,
        never an answer nobody was paged about, and the patient, answered only after both,
        presses again and joins the open alert.
        """
        before = await self._checkins.by_date(patient.id, day)
        if before is not None and before.dtms_effect == EMERGENCY:
            return None  # answered again: the alert raised the first time still stands
        notice = await self._careteam.raise_alert(
            patient,
            kind=EMERGENCY_ALERT,
            severity="urgent",
            category=CrisisCategory.MEDICAL_EMERGENCY.value,
        )
        log.warning(
            "dtms emergency alert patient_id=%s alert_id=%s new=%s",
            patient.id,
            notice.alert.id,
            notice.is_new,
        )
        return notice if notice.is_new else None

    async def tell_team(self, patient: Patient, day: date) -> AlertNotice | None:
        """Tell the care team about a day's after-effect; None if they were told already."""
        notice = await self._careteam.raise_keyed_alert(
            patient.id, kind=TOLD_ALERT, key=told_key(patient.id, day), detail=day.isoformat()
        )
        log.info(
            "dtms after-effect told patient_id=%s alert_id=%s",
            patient.id,
            notice.alert.id if notice else None,
        )
        return notice


def day_window(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Return the UTC instants where a local calendar day starts and the next one starts."""
    start = datetime.combine(day, time(), zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(), zone).astimezone(UTC)
    return start, end


async def had_session(repo: CheckinRepository, patient: Patient, day: date, now: datetime) -> bool:
    """Return whether the patient's local day had a dTMS session that asks about after-effects."""
    start, end = day_window(day, ZoneInfo(patient.timezone))
    return await repo.had_dtms_session(patient.id, start, end, now)


def question_buttons(texts: Texts, locale: str, iso_day: str) -> Buttons:
    """Return the question's buttons; the emergency answer on a row of its own."""

    def button(effect: str) -> tuple[str, str]:
        label = texts.button(f"dtms_{effect}", locale)
        return label, callbacks.checkin(iso_day, callbacks.CHECKIN_DTMS, effect)

    return (
        (button(NONE),),
        (button(HEADACHE), button(SCALP)),
        (button(OTHER),),
        (button(EMERGENCY),),
    )


def reply(texts: Texts, locale: str, effect: str, iso_day: str) -> tuple[str, Buttons] | None:
    """Return the message an answer gets (text and buttons), or None for "none"."""
    if effect == EMERGENCY:
        return texts.render("checkin.dtms_emergency", locale), ()
    if effect not in TELLABLE:
        return None
    read = ((texts.button("dtms_article", locale), ARTICLE),)
    tell = (
        (
            texts.button("dtms_tell_team", locale),
            callbacks.checkin(iso_day, callbacks.CHECKIN_DTMS, TELL),
        ),
    )
    return texts.render("checkin.dtms_reply", locale, effect=effect), (tell, read)


def told(texts: Texts, locale: str, effect: str, *, already: bool) -> tuple[str, Buttons]:
    """Return the answer's message as it reads once the care team is told (no offer left)."""
    read = ((texts.button("dtms_article", locale), ARTICLE),)
    text = "\n\n".join(
        (
            texts.render("checkin.dtms_reply", locale, effect=effect),
            texts.render("checkin.dtms_team_told", locale, already=already),
        )
    )
    return text, (read,)


def told_key(patient_id: int, day: date) -> str:
    """Return the key that lets "Tell my care team" alert once per patient and day."""
    return f"{TOLD_ALERT}:{patient_id}:{day.isoformat()}"


def tally(effects: Iterable[str | None]) -> tuple[tuple[str, int], ...]:
    """Count the after-effects reported (not "none", not unanswered), in the digest's order."""
    counts = Counter(effect for effect in effects if effect in DIGEST_ORDER)
    return tuple((effect, counts[effect]) for effect in DIGEST_ORDER if counts[effect])
