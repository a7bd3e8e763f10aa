"""People found blue together, a life kept only for someone, a bag got after a year away, a dose
skipped to use, a car left on the rails, a stare fixed on a bridge, a body too heavy to move
after a first dose, sudden confusion beside a medicine, a dose taken again after not knowing;
and the everyday senses of crisis words that the models must not read as a crisis.

Every wording here is new: none is copied from a labelled set, so each test checks that the
rules read a kind of message, not one sentence.
"""

from __future__ import annotations

import pytest

from bot.models import CrisisCategory
from bot.services.crisis_rules import assess_rules
from bot.services.crisis_signal import Tier
from tests.support.crisis import category_of


@pytest.mark.parametrize(
    "text",
    [
        "3 of them on the bathroom floor, all of them purple, somebody call",
        "los dos estan morados en el sillon y no tenemos narcan",
    ],
)
def test_people_found_blue_together_are_an_overdose(text: str) -> None:
    """Several people blue or purple at once is the look of an opioid overdose."""
    assert category_of(text) is CrisisCategory.OVERDOSE


@pytest.mark.parametrize(
    "text",
    [
        "honestly if it werent for my dog id be gone by now",
        "si no fuera por mis nietos ya me habria dado por vencido hace mucho",
        "i catch myself staring down at the river every time i cross it",
        "siempre me quedo mirando las vias cuando paso por ahi",
    ],
)
def test_a_life_kept_only_for_someone_or_a_fixed_stare_at_a_drop_is_the_suicide_check(
    text: str,
) -> None:
    """Staying alive only for someone, or staring at a place to fall from, gets "Are you safe?"."""
    signal = assess_rules(text)[0].signal
    assert signal is not None, text
    assert signal.category is CrisisCategory.SUICIDE


@pytest.mark.parametrize(
    "text",
    [
        "sitting in my truck across the railroad tracks, not moving till the train comes",
        "im laying on the rails behind the walmart, waiting for the train",
    ],
)
def test_waiting_on_the_rails_for_a_train_is_clear_suicide(text: str) -> None:
    """A car or a body left on the rails to wait for a train is a plan under way."""
    signal = assess_rules(text)[0].signal
    assert signal is not None, text
    assert (signal.category, signal.tier) == (CrisisCategory.SUICIDE, Tier.CLEAR)


@pytest.mark.parametrize(
    "text",
    [
        "just got a new bag, first time in a year, nobody home till sunday",
        "blew off my dose this morning to go use, my plug is texting me back now",
    ],
)
def test_a_bag_after_a_year_away_or_a_dose_skipped_to_use_is_relapse_danger(text: str) -> None:
    """Drugs in hand after lost tolerance, or a dose skipped to use with a dealer answering."""
    assert category_of(text) is CrisisCategory.RELAPSE_DANGER


@pytest.mark.parametrize(
    "text",
    [
        "despues de la dosis de hoy no me puedo ni mover del sillon",
        "my dad is very confused tonight, he just started new pills",
        "forgot whether i had my strip this morning so i took another one to be safe",
    ],
)
def test_a_body_too_heavy_to_move_or_sudden_confusion_or_a_repeat_dose_is_an_overdose_check(
    text: str,
) -> None:
    """Sedation past a dose's ordinary sleepiness, or a dose taken again, is an overdose read."""
    assert category_of(text) is CrisisCategory.OVERDOSE


@pytest.mark.parametrize(
    "text",
    [
        "thinking about ending things with her this weekend",
        "gonna dye my hair red tonight",
        "i really dont want to get up so early tomorrow",
        "heading to the grocery store tonight",
        "voy a comprar tortillas y ahorita regreso",
        "going to a na meeting alone tonight",
        "my heart aches when i think about my mom",
        "i hurt my wife with my drinking for years",
        "so sick of doing the dishes every night",
        "cant remember if i took my meds this morning",
    ],
)
def test_crisis_words_in_their_everyday_sense_are_explained(text: str) -> None:
    """An errand, a breakup, dyed hair or a forgotten dose: the models need their overrule bar."""
    assessment, why = assess_rules(text)
    assert assessment.signal is None, text
    assert why == "explained", text


@pytest.mark.parametrize(
    "text",
    [
        "ending things with him tonight and then ending it all",
        "going to a meeting alone tonight and after that im going to use",
        "cant remember if i took my meds so i took them again, now i cant stay awake",
    ],
)
def test_an_everyday_sense_never_hides_a_crisis_told_beside_it(text: str) -> None:
    """Death, use or a repeated dose told after the everyday words is still read."""
    assert assess_rules(text)[0].signal is not None, text


@pytest.mark.parametrize(
    "text",
    [
        "how fast does somebody stop breathing on fent, like usually",
        "if my cousin ods on pressed pills does narcan still bring him back",
        "once the shot wears off is the relapse risk higher",
        "cuanto tiempo tarda alguien en dejar de respirar con pastillas",
    ],
)
def test_how_an_overdose_goes_in_general_is_a_question(text: str) -> None:
    """How long, whether the rescue works, whether a risk is higher: asked, not told."""
    assessment, why = assess_rules(text)
    assert assessment.signal is None, text
    assert why == "question", text


@pytest.mark.parametrize(
    "text",
    [
        "how long until my sister stops breathing, she took all her bars",
        "he snorted a bunch of blues, does narcan still work on him",
    ],
)
def test_the_same_questions_about_someone_now_stay_a_crisis(text: str) -> None:
    """Asked beside a report of someone taking a drug now, the question is an emergency."""
    assert category_of(text) is CrisisCategory.OVERDOSE


@pytest.mark.parametrize(
    "text",
    [
        "my nephew had blue lips from all the popsicles at the bbq lol",
        "saw a story about fent in my old town, so grateful im done with that lifestyle",
        "the doctor said itll pass, the new pills make me sleepy at night",
    ],
)
def test_food_colouring_an_old_life_left_and_a_side_effect_the_doctor_expects_are_quiet(
    text: str,
) -> None:
    """Blue from a sweet, relief at a life left behind, an expected side effect: no alarm."""
    assert assess_rules(text)[0].signal is None, text


def test_done_alone_is_still_the_despair_check() -> None:
    """A bare "im done", with nothing ordinary after it, still asks "Are you safe?"."""
    assert assess_rules("honestly im done, nobody would even notice")[0].signal is not None
