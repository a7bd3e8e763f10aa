"""A jump from a dam at nightfall, a parent strangled in the kitchen, a gang's threat to a
child, a husband off his blocker with the rent money, a bag at hand behind a locked door, the
old block driven past; and the hotline, the methadone question and the shots around them.

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
        "cuando se vaya la luz me aviento de la represa, ya estoy en la orilla",
        "esta noche me tiro del mirador, nadie me va a extranar",
    ],
)
def test_a_jump_from_a_high_place_told_as_now_is_suicide(text: str) -> None:
    assert category_of(text) is CrisisCategory.SUICIDE


@pytest.mark.parametrize(
    "text",
    [
        "mi padrastro esta golpeando a mi hermanita en el cuarto y no para",
        "los de la pandilla dijeron que si no les pagamos el viernes matan a mi hijo",
        "the loan guys said if we dont pay by sunday theyll hurt my little brother",
    ],
)
def test_someone_at_home_hurt_now_or_a_child_threatened_is_abuse_or_danger(text: str) -> None:
    assert category_of(text) is CrisisCategory.ABUSE_OR_DANGER


@pytest.mark.parametrize(
    "text",
    [
        "mi pareja dejo la naltrexona y se llevo el dinero, dice que hoy se pone hasta atras",
        "screw it the stuffs right here on the table, first time since rehab ended, door is locked",
        "so many cravings, just drove past the corner where i used to cop and almost pulled over",
    ],
)
def test_a_return_to_use_at_hand_or_on_the_way_is_relapse_danger(text: str) -> None:
    assert category_of(text) is CrisisCategory.RELAPSE_DANGER


@pytest.mark.parametrize(
    "text",
    [
        "is there a suicide hotline en ingles que mi tio pueda llamar cuando lo necesite",
        "how risky is it to have a couple beers while im on methadone",
        "if someone is breathing slow after using is that a sign of overdose or just deep sleep",
        "gracias por todo, mi hija cumplio seis meses limpia y le hicimos una fiesta",
        "honestly red bull is the only thing keeping me alive on these night shifts lol",
        "got naltrexone shot today, butt is sore lol",
        "im gonna have a heart attack watching these cowboys play",
    ],
)
def test_hotlines_medicine_questions_celebrations_and_shots_stay_quiet(text: str) -> None:
    assert assess_rules(text)[0].signal is None, text


@pytest.mark.parametrize(
    "text",
    [
        "i got shot in the leg outside the store",
        "gracias por todo, ya no voy a estar aqui manana",
        "while im on methadone i took 4 bars and now i cant breathe",
        "chest pain and my arm is numb, im gonna have a heart attack",
    ],
)
def test_the_look_alikes_still_raise_a_signal(text: str) -> None:
    assert assess_rules(text)[0].signal is not None, text
