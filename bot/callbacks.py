"""Callback data for inline buttons: a short feature prefix and ids, never text (64 bytes max).

Shared by the services that compose messages and the handlers that parse the presses.
"""

from __future__ import annotations

CONSENT_AGREE = "c:yes"
CONSENT_DECLINE = "c:no"
SOS_ALERT = "sos:alert"
SOS_NOT_NOW = "sos:no"
ALERT_ACK = "al:ack:"  # + alert id

DOSE = "d"  # d:<action>:<delivery id>[:<choice>]
DOSE_TAKEN = "t"
DOSE_SNOOZE = "z"
DOSE_SKIP = "k"
DOSE_BACK = "b"

APPT = "a"  # a:<action>:<delivery id>
APPT_ATTEND = "y"
APPT_RESCHEDULE = "r"


def dose(action: str, delivery_id: int, choice: str | None = None) -> str:
    """Return the callback data of a dose-reminder button."""
    tail = f":{choice}" if choice is not None else ""
    return f"{DOSE}:{action}:{delivery_id}{tail}"


def appointment(action: str, delivery_id: int) -> str:
    """Return the callback data of an appointment-reminder button."""
    return f"{APPT}:{action}:{delivery_id}"


def parse(data: str) -> tuple[str, str, int, str | None] | None:
    """Split ``prefix:action:id[:choice]``; None when the data is malformed."""
    parts = data.split(":")
    if len(parts) not in (3, 4) or not parts[2].isdigit():
        return None
    choice = parts[3] if len(parts) == 4 else None
    return parts[0], parts[1], int(parts[2]), choice
