"""Lungs that forget to work, breathing that stops and starts, wet snoring after use, a second
dose given by mistake, a head that will not stay up, a gun turned on oneself, a knife held to a
sister, things thrown at children; and the idioms, screenings and side effects around them.

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
        "my chest kinda forgot how to breathe lol, took a little extra of my bars",
        "se metio algo en el baile y ahora la respiracion se le corta y vuelve",
        "her snoring sounds wet and wrong, she used a while ago",
        "la enfermera me dio otra dosis por error y tengo muchisimo sueno",
        "cant even hold my head up since the dose went up",
        "the stuff from the new plug hits different, feel like im sinking",
    ],
)
def test_breathing_and_waking_signs_after_a_dose_or_a_drug_are_an_overdose(text: str) -> None:
    assert category_of(text) is CrisisCategory.OVERDOSE


def test_a_gun_to_be_used_on_oneself_is_suicide() -> None:
    text = "when my shift ends im putting the 9 on myself, its decided"
    assert category_of(text) is CrisisCategory.SUICIDE


@pytest.mark.parametrize(
    "text",
    [
        "el novio de mi prima la tiene amenazada con una pistola en el cuarto",
        "mi ex anda bien loca tirandoles platos a los ninos y yo estoy lejos",
    ],
)
def test_a_weapon_held_to_someone_or_things_thrown_at_children_is_abuse_or_danger(
    text: str,
) -> None:
    assert category_of(text) is CrisisCategory.ABUSE_OR_DANGER


@pytest.mark.parametrize(
    "text",
    [
        "cravings are insane tonight and i still have his number",
        "mi abuela esta confundida y no se si es el azucar o algo mas",
    ],
)
def test_cravings_with_a_number_kept_or_confusion_with_sugar_raise_the_check(text: str) -> None:
    assert assess_rules(text)[0].signal is not None, text


@pytest.mark.parametrize(
    "text",
    [
        "finally told my parents about my past overdose, they hugged me",
        "seroquel makes me a bit foggy, normal?",
        "hay algun numero en colombia para llamar si alguien se quiere quitar la vida?",
        "my counselor asked if i have thoughts of suicide and i said not in years",
        "mi hermana se quiere morir de la pena porque se tropezo en la graduacion",
        "estas mesas del restaurante me van a matar, 40 hoy",
        "me voy a matar trabajando tantas horas pero hay que pagar la renta",
        "my brother is blue because his team lost again",
        "my probation officer is gonna kill me if im late again",
        "me voy a morir de tanto pan dulce jaja",
        "is there a suicide line que hable ingles para mi abuelo?",
        "can stopping suboxone cause suicidal thoughts? asking for my son",
    ],
)
def test_idioms_screenings_and_side_effects_stay_quiet(text: str) -> None:
    assert assess_rules(text)[0].signal is None, text


@pytest.mark.parametrize(
    "text",
    [
        "my sister is blue and not breathing",
        "mi hermana se quiere morir, dice que ya no aguanta",
        "my boyfriend is gonna kill me if he finds out, he has a gun",
    ],
)
def test_the_look_alikes_still_raise_a_signal(text: str) -> None:
    assert assess_rules(text)[0].signal is not None, text
