"""Two doses given at once, a child too calm after the pill box, someone "apagado" after a new
batch, snoring like choking after use, a headache like never before, a throat closing after a
shot, a drive toward the old dealer's; and the classes, pets, phones and side effects around
them.

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
        "gave grandpa his night pills and i think the morning ones too, hes really really drowsy",
        "el nino estuvo jugando con el frasco de pastillas y ahora esta quietito, demasiado",
        "the new batch hit different, my roommate is all switched off on the couch for an hour",
        "mi hermano se metio de la nueva y esta como apagado desde hace rato",
        "my boyfriend is snoring like hes choking after he used, is that normal",
    ],
)
def test_sleepiness_past_the_ordinary_after_a_dose_or_a_drug_is_a_possible_overdose(
    text: str,
) -> None:
    assert category_of(text) is CrisisCategory.OVERDOSE


@pytest.mark.parametrize(
    "text",
    [
        "me duele la cabeza como nunca y veo todo borroso desde la manana",
        "worst headache ive had in my whole entire life since the dtms session this morning",
        "le pusieron la vivitrol a mi tio y dice que se le cierra la garganta",
        "got my shot an hour ago and my throat is closing up",
    ],
)
def test_a_headache_like_never_before_or_a_closing_throat_is_a_medical_emergency(
    text: str,
) -> None:
    assert category_of(text) is CrisisCategory.MEDICAL_EMERGENCY


@pytest.mark.parametrize(
    "text",
    [
        "voy camino a la esquina donde compraba, no se que hago",
        "im parked outside the house where i used to cop, engine still running",
        "pase por el callejon donde compraba y aqui sigo parada, no me muevo",
    ],
)
def test_on_the_way_to_or_outside_the_old_dealers_place_is_relapse_danger(text: str) -> None:
    assert category_of(text) is CrisisCategory.RELAPSE_DANGER


@pytest.mark.parametrize(
    "text",
    [
        "took a narcan class with my coworkers today, feel ready if it ever happens",
        "hice un curso de primeros auxilios y sobredosis en el centro comunitario",
        "my dog chewed up my new boots im gonna murder him (jk hes my best friend)",
        "how do i help if i find someone not breathing and i dont know what they took",
        "mi celular ya se esta muriendo, te marco despues",
        "hoy pase por la esquina donde compraba y ni me dieron ganas",
        "pase por el callejon donde compraba y ni me detuve. orgulloso de mi",
        "im kinda drowsy on the new gabapentin dose, pharmacist said its normal the first week",
    ],
)
def test_classes_pets_phones_and_side_effects_stay_quiet(text: str) -> None:
    assert assess_rules(text)[0].signal is None, text


@pytest.mark.parametrize(
    "text",
    [
        "my cat is fine but i took all my pills and my throat is closing",
        "took a narcan class last year and now my friend is blue and not breathing",
        "my doctor said its normal but i took double and cant keep my eyes open",
    ],
)
def test_the_look_alikes_still_raise_a_signal(text: str) -> None:
    assert assess_rules(text)[0].signal is not None, text
