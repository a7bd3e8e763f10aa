"""An overdone dose, a dealer's number kept, a drink after years sober, a partner to be taken
along, a child with a bottle open, a headache and half-blurred sight, forgetting to breathe;
and the dreams, pets, exams, roofs and vigils around them.

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
        "pretty sure i overdid it tonight, gonna sleep it off on the couch",
        "my 3 year old had my methadone bottle in the closet with the lid off, she seems fine",
        "baby got into the drawer where i keep my strips, box ripped, cant tell if he ate one",
        "no idea what was in that, everything is slow and i keep forgetting to breathe",
    ],
)
def test_an_overdone_dose_a_child_by_an_open_bottle_or_forgetting_to_breathe_is_an_overdose(
    text: str,
) -> None:
    assert category_of(text) is CrisisCategory.OVERDOSE


@pytest.mark.parametrize(
    "text",
    [
        "cravings bad tonight and ive got my old guys number right here",
        "sitting at the bar about to order a shot after 3 years, nobody knows im here",
        "on my fifth beer at the game and i was sober 18 months",
        "at my cousins quince on my 4th shot, i was 3 years clean, driving back later",
    ],
)
def test_a_dealers_number_kept_or_a_drink_after_years_sober_is_relapse_danger(text: str) -> None:
    assert category_of(text) is CrisisCategory.RELAPSE_DANGER


@pytest.mark.parametrize(
    "text",
    [
        "si mi novio se va con la otra me lo llevo conmigo, tengo el cuchillo listo",
        "if she leaves me tonight im taking her down with me",
    ],
)
def test_a_partner_to_be_taken_along_is_harm_to_others(text: str) -> None:
    assert category_of(text) is CrisisCategory.HARM_TO_OTHERS


def test_a_headache_with_the_sight_blurring_on_one_side_is_a_medical_emergency() -> None:
    text = "weird headache ever since the stimulation this morning and now my sight goes blurry"
    assert category_of(text) is CrisisCategory.MEDICAL_EMERGENCY


@pytest.mark.parametrize(
    "text",
    [
        "my seroquel gives me weird dreams lately, nothing scary",
        "ando mareada con la gabapentina nueva pero el medico dijo que se quita pronto",
        "el gato me rompio el florero, lo mato jajaja",
        "mi hijo dice que la clase de quimica lo mato jaja",
        "la tira se me pega en el paladar y sabe horrible",
        "worked a 12 on the roof in this heat, im beat",
        "la vigilia por las victimas de sobredosis es el sabado, voy a ir con mi tia",
        "i swear este trafico en la 405 me va a matar hoy",
        "does suboxone cause depression or suicidal thoughts? nobody told me",
        "que numero se marca en el salvador si alguien quiere quitarse la vida",
        "overdid it at the gym today, legs are jelly",
    ],
)
def test_dreams_pets_exams_roofs_vigils_and_traffic_stay_quiet(text: str) -> None:
    assert assess_rules(text)[0].signal is None, text


@pytest.mark.parametrize(
    "text",
    [
        "im on the roof and im going to jump",
        "he hits me every night, se me pega cuando toma",
        "my doctor said its normal but i cant breathe and my lips are blue",
    ],
)
def test_the_look_alikes_still_raise_a_signal(text: str) -> None:
    assert assess_rules(text)[0].signal is not None, text
