"""A dose missing after a small child was in the bag, a weapon brought to a place, a wish that
an old overdose had worked; and the heat, drills, puzzles and prevention nights around them.

Every wording here is new: none is copied from a labelled set, so each test checks that the
rules read a kind of message, not one sentence.
"""

from __future__ import annotations

import pytest

from bot.models import CrisisCategory
from bot.services.crisis_rules import assess_rules
from tests.support.crisis import category_of


@pytest.mark.parametrize(
    "text",
    [
        "my 3yo got into my backpack and now im short one of my subs",
        "the 2 y/o was digging in my purse earlier and a film is gone from the box",
        "our 18mo was in the diaper bag with my meds and one pill is missing",
        "mi chiquito de 2 anos anduvo en mi bolso y no encuentro una de mis pastillas",
    ],
)
def test_a_dose_missing_after_a_small_child_was_in_the_bag_is_an_overdose(text: str) -> None:
    assert category_of(text) is CrisisCategory.OVERDOSE


@pytest.mark.parametrize(
    "text",
    [
        "im bringing my piece to the probation office tomorrow, see how they like that",
        "voy a ir a la clinica con la pistola manana a ver si asi me atienden",
        "gonna show up at his job with my gun when his shift ends",
    ],
)
def test_a_weapon_brought_to_a_place_in_anger_is_harm_to_others(text: str) -> None:
    assert category_of(text) is CrisisCategory.HARM_TO_OTHERS


@pytest.mark.parametrize(
    "text",
    [
        "honestly wish they hadnt narcanned me that night",
        "ojala la sobredosis del ano pasado me hubiera llevado",
        "sometimes i wish my attempt in 2019 had worked",
    ],
)
def test_a_wish_that_an_old_overdose_or_attempt_had_worked_is_a_possible_suicide(
    text: str,
) -> None:
    assert category_of(text) is CrisisCategory.SUICIDE


@pytest.mark.parametrize(
    "text",
    [
        "dying in this heat at the bus stop, cant wait for fall",
        "this sudoku is gonna kill me, been stuck on it all lunch",
        "coach made us run suicides until we puked lol",
        "went to an overdose prevention night at the library with my wife",
        "en la platica de la iglesia nos ensenaron que hacer en caso de sobredosis",
        "the nurse gave everybody narcan at group tonight, mine is in my purse now",
        "my 5yo keeps asking why i take medicine every morning, cute",
    ],
)
def test_heat_drills_puzzles_and_prevention_nights_stay_quiet(text: str) -> None:
    assert assess_rules(text)[0].signal is None, text


@pytest.mark.parametrize(
    "text",
    [
        "im dying in this heat, i took my methadone and now i cant breathe",
        "my brother went to the overdose prevention night, then used in the lot, hes not breathing",
        "the 4yo found my strips and ate one",
    ],
)
def test_the_look_alikes_still_raise_a_signal(text: str) -> None:
    assert assess_rules(text)[0].signal is not None, text
