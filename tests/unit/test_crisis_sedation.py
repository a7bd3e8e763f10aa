"""Indirect overdose: a medicine or a drug and a person more sedated than a dose makes them.

Every wording here is new: none is copied from a labelled set, so each test checks that the
rules read a kind of message (a substance or dose + a present sign of sedation, or not knowing
whether too much was taken), not one sentence.
"""

from __future__ import annotations

import pytest

from bot.models import CrisisCategory
from bot.services.crisis_rules import assess_rules
from bot.services.crisis_signal import Tier


@pytest.mark.parametrize(
    "text",
    [
        "my uncle has been sleeping a lot since the clinic changed his medication",
        "grandpa is way more confused than usual today, he takes a bunch of meds",
        "my roommate took some pills at the party and is really out of it",
        "feeling really strange after my dose this morning, heavy and slow",
        "idk if i took my evening meds twice, kinda dizzy",
        "mi tio duerme demasiado desde que le subieron la medicina",
        "mi suegra anda bien ida desde que se tomo sus pastillas",
        "no me acuerdo si me tome la dosis, me siento mareado",
    ],
)
def test_a_medicine_and_sedation_told_now_is_a_possible_overdose(text: str) -> None:
    """At least the "Are you safe right now?" check, read as an overdose, English and Spanish."""
    signal = assess_rules(text)[0].signal
    assert signal is not None, text
    assert signal.category is CrisisCategory.OVERDOSE, text
    assert signal.tier in {Tier.POSSIBLE, Tier.CLEAR}, text


@pytest.mark.parametrize(
    "text",
    [
        "my aunt is sleeping weird after her pain pills and wine, is this normal?",
        "mi abuela duerme mucho desde que le cambiaron las pastillas, eso es normal?",
        "mi primo se esta quedando bien dormido despues de fumar, eso es malo?",
    ],
)
def test_is_this_normal_about_someone_now_is_a_worry_not_a_question(text: str) -> None:
    """Asking whether a sign told of a person now is normal does not make it a calm question."""
    assessment, why = assess_rules(text)
    assert assessment.signal is not None, text
    assert assessment.signal.category is CrisisCategory.OVERDOSE, text
    assert why is None


@pytest.mark.parametrize(
    "text",
    [
        "what does an overdose look like?",
        "is it normal to feel really heavy after a methadone dose?",
        "can suboxone make you sleep a lot?",
        "como se si alguien esta muy dormido o tiene una sobredosis?",
    ],
)
def test_a_calm_question_with_no_person_now_stays_a_question(text: str) -> None:
    """A question about a medicine or an overdose in general is answered, not paged."""
    assessment, why = assess_rules(text)
    assert assessment.signal is None, text
    assert why == "question", text


@pytest.mark.parametrize(
    "text",
    [
        "my dose makes me a little sleepy in the afternoon",
        "la metadona me da sueno despues del almuerzo",
        "forgot if i took my vitamins today lol",
    ],
)
def test_the_ordinary_sleepiness_of_a_dose_stays_quiet(text: str) -> None:
    """A side effect told calmly, or a forgotten pill with no sign, raises nothing."""
    assert assess_rules(text)[0].signal is None, text


def test_talk_me_out_of_it_is_no_sedation() -> None:
    """ "Out of it" as in "talk me out of it" is not a person out of it."""
    signal = assess_rules("the bag is right here, please talk me out of it")[0].signal
    assert signal is None or signal.category is not CrisisCategory.OVERDOSE
