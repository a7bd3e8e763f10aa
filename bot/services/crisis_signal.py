"""What the crisis detector says about a message: the signal, its tier and who is at risk.

These are the plain values every layer of the detector (:mod:`bot.services.safety`) returns and
the safety net acts on; they never carry the text of the message.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.models import CrisisCategory


class Tier(StrEnum):
    """How sure the detector is that the message is a crisis."""

    CLEAR = "clear"  # the full answer and an urgent alert at once
    POSSIBLE = "possible"  # "Are you safe right now?" with buttons; silence alerts the team


class Who(StrEnum):
    """Who is at risk: the writer or someone with them."""

    SELF = "self"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class CrisisSignal:
    """A crisis signal: what kind, how sure, who is at risk, and why (never the text itself).

    ``locale`` is the language of the first rule that fired; ``reasons`` names the rules and
    meaning slots that fired ("phrase:suicide:en", "slot:other+unresponsive"), so a clinician
    or a test can see why a message alarmed. ``layer`` says which layer raised it ("rules",
    "model" for the n-gram model alone, "semantic" for the n-gram model and the semantic head
    together) and ``score`` the probability a model layer read (None for the rules): these two
    are what a log line may carry.
    """

    category: CrisisCategory
    locale: str
    tier: Tier = Tier.CLEAR
    who: Who = Who.SELF
    reasons: tuple[str, ...] = ()
    layer: str = "rules"
    score: float | None = None


@dataclass(frozen=True, slots=True)
class Assessment:
    """The detector's reading of one message.

    ``signal`` is a crisis to answer (None when there is none). ``question`` is set when the
    message asks about a crisis topic (overdose signs, mixing, naloxone) without reporting one:
    it is answered from the library with the emergency steps on top, and nobody is paged.
    """

    signal: CrisisSignal | None
    question: bool = False
    reasons: tuple[str, ...] = ()

    def explain(self) -> str:
        """Return the reasons as one line, for tests and the evaluation's miss list."""
        if self.signal is not None:
            return f"{self.signal.tier} {self.signal.category} ({self.signal.who}): " + ", ".join(
                self.signal.reasons
            )
        if self.question:
            return "question: " + ", ".join(self.reasons)
        return "quiet"
