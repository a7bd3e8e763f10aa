"""Which crisis readings a memory, a film, a joke or an idiom explains away.

The rules (:mod:`bot.services.crisis_rules`) read crisis words; this module decides which of
those readings the rest of the message explains: "2 years ago I overdosed" is a memory, "that
movie was an overdose of cheese" a figure of speech, "my boss is gonna kill me" an idiom. A
reading with a present sign (a body that does not respond, sedation, a plan) is never explained
away.
"""

from __future__ import annotations

from typing import Final

from bot.models import CrisisCategory
from bot.services.crisis_signal import Tier

# Readings that a memory, a film or an idiom can explain away ("2 years ago I overdosed",
# "that movie was an overdose of cheese", "my boss is gonna kill me"); a reading that also has
# a present sign (a body that does not respond, sedation, a plan) is never explained away.
PRESENT_SIGNS: Final = frozenset({"unresponsive", "sedated", "wont_wake", "overdosing_now"})
PRESENT_RULES: Final = frozenset(
    {
        "means_and_finality",
        "other_intent_suicide",
        "intent_to_harm_others",
        "violence_against_me",
        "self_harm_now",
        "medical_signs",
        "farewell_or_passive_wish",
        "use+danger",
        "intent_to_use_now",
        "injection_site_infection",
        "asked_done",
        "hard_to_wake",
        "naloxone_asked",
    }
)
# A figure of speech, or a crisis word in its everyday sense ("end it with my boyfriend").
FIGURES: Final = frozenset({"hyperbole", "joking", "idiom_threat", "ordinary"})
JOKES: Final = frozenset({"joking", "laughing"})
SCREENED_CATEGORIES: Final = frozenset(
    {CrisisCategory.SUICIDE, CrisisCategory.SELF_HARM, CrisisCategory.HARM_TO_OTHERS}
)
HYPERBOLE_CATEGORIES: Final = frozenset(
    {CrisisCategory.SUICIDE, CrisisCategory.OVERDOSE, CrisisCategory.MEDICAL_EMERGENCY}
)
FICTION_CATEGORIES: Final = frozenset(
    {
        CrisisCategory.OVERDOSE,
        CrisisCategory.HARM_TO_OTHERS,
        CrisisCategory.SUICIDE,
        CrisisCategory.SELF_HARM,
    }
)


def joked(slots: frozenset[str]) -> bool:
    """A threat tied to a trivial cause (a pet, an exam, leftovers) and marked as a joke."""
    return "idiom_threat" in slots and bool(slots & JOKES)


def explained_away(
    category: CrisisCategory, tier: Tier, slots: frozenset[str], *, present: bool
) -> bool:
    """Return whether a memory, a film, a joke or an idiom explains a reading away.

    ``present``: the reading comes from a rule or a frame that tells of something happening
    now (a plan, a body that does not respond), which nothing explains away.
    """
    if slots & PRESENT_SIGNS:
        return False
    if "resisted" in slots and category is CrisisCategory.RELAPSE_DANGER:
        # "drove past my old dealers house and didnt even slow down. proud of me": the pull
        # told is one resisted, even where the words name a dealer's house.
        return True
    if "ordinary" in slots and category is CrisisCategory.RELAPSE_DANGER and tier is Tier.POSSIBLE:
        # "voy a comprar tortillas y ahorita regreso": buying food is not buying drugs; the
        # everyday reading holds only with nothing of use told after it (the slot's own check),
        # even where a rule reads the errand as an intent to use now.
        return True
    if category is CrisisCategory.HARM_TO_OTHERS and joked(slots):
        # "the cat knocked my coffee over, im gonna strangle her (jk)": a threat tied to a
        # trivial cause and marked as a joke, even told as intent.
        return True
    if present:
        return False
    if (
        slots & {"died_of_overdose", "wished_dead"}
        and category is CrisisCategory.OVERDOSE
        and not slots & {"report_self", "report_other"}
    ):
        # "he died of an overdose in march", "los amigos que perdimos por sobredosis": the
        # overdose told is a death mourned, not one happening, whatever the night of the vigil.
        # "wish the od last year had worked": an old overdose, wished fatal; the wish itself is
        # read as suicide.
        return True
    if "denied" in slots and category in HYPERBOLE_CATEGORIES:
        # "nodding off cause i worked a double, not from anything": the writer explains it.
        return True
    if "screened_no" in slots and category in SCREENED_CATEGORIES:
        # "my counselor asked if i had thoughts of suicide and i said no": the counselor's words.
        return True
    if slots & {"hyperbole", "joking"} and category in HYPERBOLE_CATEGORIES:
        # "i'd rather die than go back to that bar", "overdosed on tacos", "kill me now jk":
        # the crisis word measures something ordinary; a plan or a body that does not respond
        # (a present reading, above) is never a figure of speech.
        return True
    if "idiom_threat" in slots and category in {
        CrisisCategory.ABUSE_OR_DANGER,
        CrisisCategory.HARM_TO_OTHERS,
        CrisisCategory.SUICIDE,
    }:
        return True
    if (
        "laughing" in slots
        and tier is Tier.CLEAR
        and category
        in {
            CrisisCategory.MEDICAL_EMERGENCY,
            CrisisCategory.ABUSE_OR_DANGER,
            CrisisCategory.HARM_TO_OTHERS,
        }
    ):
        return True
    # A film, a game or a story never explains the writer's own stated intent ("after the game
    # tonight im going to kill myself").
    if "fiction" in slots and category in FICTION_CATEGORIES and "own_intent" not in slots:
        return True
    # A memory ("2 years since my overdose", "back in 2018") explains a reading unless
    # something is told as present; survival or recovery told after it ("and survived",
    # "doing good these days") keeps it a memory.
    recovered = "recovered" in slots
    return (
        ("remembrance" in slots or (recovered and "past" in slots))
        and ("present" not in slots or recovered)
        and category is not CrisisCategory.ABUSE_OR_DANGER
    )
