"""A face to be caved in, a child's syrup given twice, pills offered off the blocker, a
housemate asleep for hours; and the questions, memories and weather around them.

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
        "im gonna bash my landlords head in when he shows up tonight",
        "le voy a partir la cara a ese guey en cuanto lo vea manana",
    ],
)
def test_a_head_or_face_to_be_beaten_in_is_harm_to_others(text: str) -> None:
    assert category_of(text) is CrisisCategory.HARM_TO_OTHERS


@pytest.mark.parametrize(
    "text",
    [
        "le di al nino el jarabe de la tos dos veces sin querer y esta muy dormido",
        "gave my toddler her allergy syrup twice by mistake, she keeps yawning and is so sleepy",
    ],
)
def test_a_childs_medicine_given_twice_with_sleepiness_is_a_possible_overdose(text: str) -> None:
    assert category_of(text) is CrisisCategory.OVERDOSE


@pytest.mark.parametrize(
    "text",
    [
        "a guy at work offered me some blues and im off the vivitrol now, honestly tempted",
        "me ofrecio unas pastillas un compa y ya no estoy en la naltrexona, lo estoy pensando",
    ],
)
def test_pills_offered_while_off_the_blocker_and_tempted_is_relapse_danger(text: str) -> None:
    assert category_of(text) is CrisisCategory.RELAPSE_DANGER


def test_an_offer_turned_down_stays_quiet() -> None:
    text = "a guy at work offered me some blues, told him no and went back to my station"
    assert assess_rules(text)[0].signal is None


@pytest.mark.parametrize(
    "text",
    [
        "mi primo lleva horas durmiendo y ronca feisimo, anoche se metio algo",
        "roommate has been out for hours snoring real weird, she was using last night",
    ],
)
def test_someone_asleep_for_hours_snoring_after_using_is_a_possible_overdose(text: str) -> None:
    assert category_of(text) is CrisisCategory.OVERDOSE


@pytest.mark.parametrize(
    "text",
    [
        "how can you tell the difference between someone high and someone really overdosing",
        "por que es mas peligroso volver a usar despues de estar limpio un tiempo",
        "cuanto dura la naloxona, like can the od come back later?",
        "que hago if someone has a seizure while detoxing",
        "if narcan wakes someone up do you still need to call 911 after",
        "how do i know if my sister is actually suicidal or just sad",
        "my dad asks if ive od'd every time i miss his call lol, im fine just at work",
        "the old me would be copping by now, new me is at the movies with my kids",
        "this desert wind is trying to kill me today",
        "kill me now they put raisins in the potato salad",
        "el sol de la playa te mata, ya me queme la espalda",
        "escribi sobre el suicidio de mi hermano para mi grupo, me ayudo",
    ],
)
def test_questions_memories_and_figures_stay_quiet(text: str) -> None:
    assert assess_rules(text)[0].signal is None, text


@pytest.mark.parametrize(
    "text",
    [
        "how do i tell if hes overdosing, hes not breathing right",
        "me queme el brazo con el cigarro a proposito",
        "kill me now i cant do this anymore",
    ],
)
def test_the_look_alikes_still_raise_a_signal(text: str) -> None:
    assert assess_rules(text)[0].signal is not None, text
