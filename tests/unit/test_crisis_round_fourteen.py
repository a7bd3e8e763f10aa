"""A blade or glass dug in, a dealer met after jail, a goodbye before dosing, a blocker tested,
a pill missing near a child, words lost; and the figures of speech around them.

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
        "so sick rn im scraping my arm with a piece of glass",
        "me estoy enterrando un vidrio en la pierna, no aguanto la malilla",
    ],
)
def test_glass_or_a_blade_dug_into_the_body_now_is_self_harm(text: str) -> None:
    assert category_of(text) is CrisisCategory.SELF_HARM


@pytest.mark.parametrize(
    "text",
    [
        "released tuesday after 8 months inside, my guy is pulling up now, doing what i used to",
        "sali del bote la semana pasada y ya quede con mi conecte, me voy a meter lo de antes",
    ],
)
def test_the_old_amount_with_a_dealer_after_jail_is_relapse_danger(text: str) -> None:
    assert category_of(text) is CrisisCategory.RELAPSE_DANGER


@pytest.mark.parametrize(
    "text",
    [
        "if im not at the clinic friday just know i loved yall for real",
        "si no llego manana sepan que los quise mucho",
    ],
)
def test_a_goodbye_in_case_of_absence_is_a_possible_suicide(text: str) -> None:
    assert category_of(text) is CrisisCategory.SUICIDE


@pytest.mark.parametrize(
    "text",
    [
        "kinda want to see if i can still get high through the shot. just wondering",
        "quiero ver si todavia lo siento con la vivitrol puesta",
    ],
)
def test_testing_the_blocker_is_relapse_danger(text: str) -> None:
    assert category_of(text) is CrisisCategory.RELAPSE_DANGER


@pytest.mark.parametrize(
    "text",
    [
        "my daughters been in my purse and theres a strip missing from the box, shes sleepy",
        "el nino anduvo en mi bolsa y me falta una pastilla del frasco",
    ],
)
def test_a_pill_missing_after_a_child_was_in_the_bag_is_an_overdose(text: str) -> None:
    assert category_of(text) is CrisisCategory.OVERDOSE


@pytest.mark.parametrize(
    "text",
    [
        "my grandma keeps losing her words this afternoon, started after the new pills",
        "a mi abuela no le salen las palabras desde hoy en la manana",
    ],
)
def test_words_lost_today_are_at_least_the_check(text: str) -> None:
    assert category_of(text) in {CrisisCategory.MEDICAL_EMERGENCY, CrisisCategory.OVERDOSE}


@pytest.mark.parametrize(
    "text",
    [
        "when you give narcan to someone do you still call 911 after",
        "my niece is learning to give naloxone in her cpr class",
        "methadone has me so bloated its not even funny",
        "i took her phone away for the night and shes acting like its the end of the world",
        "our church had a talk about suicide and how to ask for help, it was good",
        "en el taller hablaron del suicidio y de las senales, estuvo bueno",
        "need the suicide hotline number again for the resource list im making",
        "my old plug is dead to me",
        "lmao im gonna kill my brother he finished my cereal",
        "gracias por todo hoy en la sesion, nos vemos la otra semana",
        "thanks for everything today, see you thursday",
        "ese meme de quiero morir cuando se va el internet jaja",
        "i would literally die for my abuelas tamales rn",
        "about to destroy this plate of wings",
    ],
)
def test_questions_idioms_and_thanks_stay_quiet(text: str) -> None:
    assert assess_rules(text)[0].signal is None, text


@pytest.mark.parametrize(
    "text",
    [
        "i gave him narcan and hes still not waking up",
        "someone took my phone and my keys and wont let me leave",
        "gracias por todo, ya no voy a estar aqui manana",
        "id die for you guys but honestly i just want to die tonight",
    ],
)
def test_the_look_alikes_still_raise_a_signal(text: str) -> None:
    assert assess_rules(text)[0].signal is not None, text


@pytest.mark.parametrize(
    "text",
    [
        "i would literally die for my abuelas tamales rn",
        "me muero por unas pupusas ahorita",
        "about to destroy this plate of wings",
    ],
)
def test_a_figure_of_speech_alone_is_read_as_explained(text: str) -> None:
    """With nothing read beside it, a figure of speech marks the message explained: the models
    then need their overrule score, not their ordinary one, to read a crisis into it."""
    assessment, why = assess_rules(text)
    assert assessment.signal is None, text
    assert why == "explained", text


def test_a_message_with_no_figure_and_nothing_read_is_not_explained() -> None:
    assert assess_rules("picked up my take homes and went to work")[1] is None
