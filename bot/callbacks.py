"""Callback data for inline buttons: a short feature prefix and ids, never text (64 bytes max).

Shared by the services that compose messages and the handlers that parse the presses.
"""

from __future__ import annotations

from bot.services.inputs import read_number

CONSENT_AGREE = "c:yes"
CONSENT_DECLINE = "c:no"
SOS_ALERT = "sos:alert"
SOS_NOT_NOW = "sos:no"
ALERT_ACK = "al:ack:"  # + alert id

# sf:<action>:<delivery id>: the answer to "Are you safe right now?" (the id is the row that
# alerts the team if nobody answers) and to the follow-up after a crisis answer.
SAFETY = "sf"
SAFETY_SAFE = "ok"
SAFETY_HELP = "help"
SAFETY_OTHER = "other"
FOLLOWUP_SAFE = "fs"
FOLLOWUP_UNSAFE = "fu"

DOSE = "d"  # d:<action>:<delivery id>[:<choice>]
DOSE_TAKEN = "t"
DOSE_SNOOZE = "z"
DOSE_SKIP = "k"
DOSE_BACK = "b"

APPT = "a"  # a:<action>:<delivery id>
APPT_ATTEND = "y"
APPT_RESCHEDULE = "r"

FLOW = "fl"  # fl:<run token>:<step>:<choice>; the token ties a button to one run of a flow
SETTINGS = "st"  # st:<action>[:<value>]

# ci:<local date YYYY-MM-DD>:<step>:<choice>; the date is the day the check-in was asked for,
# so a press on an old prompt records against that day, never against "today".
CHECKIN = "ci"
CHECKIN_CRAVING = "c"  # choice: 0..10
CHECKIN_MOOD = "m"  # choice: 0..10
CHECKIN_USE = "u"  # choice: CHECKIN_NO or CHECKIN_YES
CHECKIN_DTMS = "t"  # choice: an after-effect code (bot/services/aftereffects.py) or "tell"
CHECKIN_NOTE = "n"  # choice: CHECKIN_SKIP
CHECKIN_CHANGE = "e"  # choice: CHECKIN_AGAIN
CHECKIN_NO = "no"
CHECKIN_YES = "yes"
CHECKIN_SKIP = "skip"
CHECKIN_AGAIN = "again"

PRIVACY = "pv"  # pv:erase:<patient id>:<enrollment token> or pv:keep
PRIVACY_ERASE = "erase"
PRIVACY_KEEP = "keep"


def dose(action: str, delivery_id: int, choice: str | None = None) -> str:
    """Return the callback data of a dose-reminder button."""
    tail = f":{choice}" if choice is not None else ""
    return f"{DOSE}:{action}:{delivery_id}{tail}"


def safety(action: str, delivery_id: int) -> str:
    """Return the callback data of a safety-check or follow-up button."""
    return f"{SAFETY}:{action}:{delivery_id}"


def appointment(action: str, delivery_id: int) -> str:
    """Return the callback data of an appointment-reminder button."""
    return f"{APPT}:{action}:{delivery_id}"


def parse(data: str) -> tuple[str, str, int, str | None] | None:
    """Split ``prefix:action:id[:choice]``; None when the data is malformed."""
    parts = data.split(":")
    number = read_number(parts[2]) if len(parts) in (3, 4) else None
    if number is None:
        return None
    choice = parts[3] if len(parts) == 4 else None
    return parts[0], parts[1], number, choice


def flow(run: str, step: str, choice: str) -> str:
    """Return the callback data of a button in a guided flow."""
    return f"{FLOW}:{run}:{step}:{choice}"


def parse_flow(data: str) -> tuple[str, str, str] | None:
    """Split ``fl:run:step:choice`` into (run, step, choice); None when malformed."""
    parts = data.split(":", 3)
    if len(parts) != 4 or parts[0] != FLOW or not all(parts[1:]):
        return None
    return parts[1], parts[2], parts[3]


def settings(action: str, value: str | None = None) -> str:
    """Return the callback data of a settings button (a value may hold ':' as in 08:00)."""
    return f"{SETTINGS}:{action}" if value is None else f"{SETTINGS}:{action}:{value}"


def parse_settings(data: str) -> tuple[str, str | None] | None:
    """Split ``st:action[:value]`` into (action, value); None when malformed."""
    parts = data.split(":", 2)
    if len(parts) < 2 or parts[0] != SETTINGS or not parts[1]:
        return None
    return parts[1], parts[2] if len(parts) == 3 and parts[2] else None


def privacy_erase(patient_id: int, token: str) -> str:
    """Return the callback data of the button that confirms erasing a patient's data."""
    return f"{PRIVACY}:{PRIVACY_ERASE}:{patient_id}:{token}"


def privacy_keep() -> str:
    """Return the callback data of the button that keeps a patient's data."""
    return f"{PRIVACY}:{PRIVACY_KEEP}"


def parse_privacy(data: str) -> tuple[str, int, str] | None:
    """Split ``pv:erase:id:token`` or ``pv:keep`` into (action, id, token); None if malformed."""
    parts = data.split(":")
    if parts == [PRIVACY, PRIVACY_KEEP]:
        return PRIVACY_KEEP, 0, ""
    if len(parts) != 4 or parts[:2] != [PRIVACY, PRIVACY_ERASE]:
        return None
    patient_id, token = read_number(parts[2]), parts[3]
    if patient_id is None or not (token.isascii() and token.isalnum()):
        return None
    return PRIVACY_ERASE, patient_id, token


def checkin(day: str, step: str, choice: str) -> str:
    """Return the callback data of a check-in button (``day`` is an ISO local date)."""
    return f"{CHECKIN}:{day}:{step}:{choice}"


def parse_checkin(data: str) -> tuple[str, str, str] | None:
    """Split ``ci:day:step:choice`` into (day, step, choice); None when malformed."""
    parts = data.split(":")
    if len(parts) != 4 or parts[0] != CHECKIN or not all(parts[1:]):
        return None
    return parts[1], parts[2], parts[3]
