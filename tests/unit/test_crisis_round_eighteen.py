"""Something poured or thrown in a face, a blocker to be pushed through, a dealer on the way
to someone alone, fresh marks found; and the hotline asked for a relative, the side effects,
pets, coaches and letters to an old self around them.

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
        "that manager is getting a pot of boiling water in his face monday, watch",
        "le voy a echar el cloro en la cara a la vecina cuando salga",
    ],
)
def test_something_to_be_thrown_in_a_face_is_harm_to_others(text: str) -> None:
    assert category_of(text) is CrisisCategory.HARM_TO_OTHERS


@pytest.mark.parametrize(
    "text",
    [
        "vivitrol was tuesday, gonna try and blast through it tonight with way more than before",
        "got the naltrexone shot monday, im going to push past the blocker this weekend",
    ],
)
def test_a_blocker_to_be_pushed_through_is_relapse_danger(text: str) -> None:
    assert category_of(text) is CrisisCategory.RELAPSE_DANGER


@pytest.mark.parametrize(
    "text",
    [
        "mi conecte ya viene en camino con las pastillas y estoy solito, deje la metadona",
        "ya tengo la piedra y la pipa aqui, llevo 8 meses limpia",
    ],
)
def test_a_drug_at_hand_or_on_the_way_after_time_off_is_relapse_danger(text: str) -> None:
    assert category_of(text) is CrisisCategory.RELAPSE_DANGER


@pytest.mark.parametrize(
    "text",
    [
        "saw new cuts on my daughters arms when she changed, she says it was the dog",
        "le vi cortadas nuevas en los muslos a mi hijo y dice que no es nada",
    ],
)
def test_fresh_marks_found_on_a_relative_are_possible_self_harm(text: str) -> None:
    assert category_of(text) is CrisisCategory.SELF_HARM


@pytest.mark.parametrize(
    "text",
    [
        "is there a crisis line in spanish? asking for my grandma",
        "hay alguna linea de crisis de suicidio en espanol, es para mi primo",
        "que numero hay para hablar si alguien piensa en el suicidio? para tenerlo guardado",
        "how long after giving narcan do you give a second one",
        "que se hace si a alguien le da una convulsion por dejar el alcohol?",
        "what do i do if i use again, do i tell my counselor or will they kick me out",
        "my sponsor asked if ive had thoughts of suicide lately and i havent, feeling strong",
        "the seroquel makes me kind of dizzy when i get up too fast",
        "my prescriber said if the methadone makes me drowsy i can split the timing",
        "my granddaughter asked me what an overdose is after school today, we had a good talk",
        "this puppy is gonna kill me, chewed my charger again",
        "el coach lo mato en el entrenamiento, llego rendido",
        "writing a letter to my old self for step work, the girl who overdosed every summer",
        "the commute is homicidal this morning, running late",
        "casi me desmayo del calor en el trabajo pero ya tome agua",
        "took my nephew to the game, first time in years without drinking",
    ],
)
def test_hotlines_side_effects_pets_coaches_and_old_selves_stay_quiet(text: str) -> None:
    assert assess_rules(text)[0].signal is None, text


@pytest.mark.parametrize(
    "text",
    [
        "whats the crisis line number, asking for me, i want to die",
        "the seroquel makes me so dizzy i cant breathe right now",
        "casi me desmayo y tengo los labios morados, me meti fentanilo",
        "he kicked me out and punched me in the face",
        "first time in years using and im nodding out alone",
    ],
)
def test_the_look_alikes_still_raise_a_signal(text: str) -> None:
    assert assess_rules(text)[0].signal is not None, text
