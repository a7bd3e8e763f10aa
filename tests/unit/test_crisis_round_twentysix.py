"""A drug hitting harder than the seller promised; a strong craving beside the means to use;
a sudden worst headache; a gun brought to where a grudge works; and the everyday talk the
thirtieth set found paging: a bruise's colour, a bump on the head, a side effect the doctor
manages, "will it hurt me" asked of a medicine, a meal that will "starve" the family, and what
to say if someone ever talks of dying.

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
        "the guy swore its the same batch but its hitting way harder than normal, kinda freaking",
        "mi conecte dijo que era la misma pero esta mucho mas fuerte que la otra, tengo miedo",
        "this dope is way stronger than what i usually get, i dont feel right",
    ],
)
def test_a_drug_stronger_than_expected_is_an_overdose_check(text: str) -> None:
    """A batch hitting harder than usual may be cut with fentanyl: the overdose check."""
    assert category_of(text) is CrisisCategory.OVERDOSE


@pytest.mark.parametrize(
    "text",
    [
        "the flu is hitting me way harder than last year",
        "this workout hit harder than i expected lol",
        "the new coffee at work is way stronger than usual",
    ],
)
def test_something_else_hitting_harder_is_not_an_overdose(text: str) -> None:
    """A flu, a workout or a coffee stronger than usual: no alarm."""
    assert assess_rules(text)[0].signal is None, text


@pytest.mark.parametrize(
    "text",
    [
        "craving so bad tonight and i still have my old connects number in my phone",
        "ganas bien fuertes hoy y pase dos veces por donde compraba",
        "urges are insane today, drove by my old dealers block three times",
    ],
)
def test_a_strong_craving_beside_the_means_to_use_is_relapse_danger(text: str) -> None:
    """A strong craving and a dealer's number kept or the old spot circled: the check."""
    assert category_of(text) is CrisisCategory.RELAPSE_DANGER


@pytest.mark.parametrize(
    "text",
    [
        "cravings were rough today but i deleted my old guys number and went to a meeting",
        "drove past my old spot on the way to work, glad that life is behind me",
    ],
)
def test_a_craving_resisted_or_an_old_spot_passed_is_not_relapse_danger(text: str) -> None:
    """The number deleted, or the old spot passed with no craving: no alarm."""
    assert assess_rules(text)[0].signal is None, text


@pytest.mark.parametrize(
    "text",
    [
        "had tms this morning and now my head is pounding, came out of nowhere, worst one ive had",
        "de repente me dio un dolor de cabeza horrible despues de la sesion, el peor que he tenido",
    ],
)
def test_a_sudden_worst_headache_is_a_medical_emergency(text: str) -> None:
    """The worst headache ever, sudden: the emergency number first."""
    assert category_of(text) is CrisisCategory.MEDICAL_EMERGENCY


@pytest.mark.parametrize(
    "text",
    [
        "my foreman has it coming, bringing my shotgun to the site monday",
        "voy a llevar la pistola al trabajo manana, ese supervisor me las va a pagar",
    ],
)
def test_a_gun_brought_to_where_a_grudge_works_is_harm_to_others(text: str) -> None:
    """A gun taken to a workplace with a grudge told: a threat to others."""
    assert category_of(text) is CrisisCategory.HARM_TO_OTHERS


def test_a_rifle_taken_to_the_range_is_not_a_threat() -> None:
    """A shooting range is where a rifle is meant to go."""
    assert assess_rules("taking my rifle to the range saturday with my dad")[0].signal is None


@pytest.mark.parametrize(
    "text",
    [
        "the bruise on my arm from the blood draw is purple now",
        "my new hoodie is blue and gray, love it",
        "hit my head on the kitchen cabinet, just a small bump",
        "mis hijos dicen que los voy a matar de hambre porque no se cocinar",
        "will it hurt me if i have a beer on naltrexone",
        "the cat knocked my plant over again, i could kill her haha but i love her",
    ],
)
def test_colours_bumps_starving_jokes_and_medicine_questions_do_not_alarm(text: str) -> None:
    """A bruise or a hoodie's colour, a bumped head, a kitchen joke, a question: no alarm."""
    assert assess_rules(text)[0].signal is None, text


@pytest.mark.parametrize(
    "text",
    [
        "his lips are blue and hes not answering",
        "the lady in bed 4 is blue, we gave her narcan and shes still out",
        "i keep hitting my head against the wall when it gets bad",
        "if i drink on naltrexone will it kill me, cause im about to take all of them",
    ],
)
def test_the_same_words_about_a_person_in_danger_still_alarm(text: str) -> None:
    """Blue lips, a head hit on purpose, a question with a plan: still a crisis."""
    assert assess_rules(text)[0].signal is not None, text


@pytest.mark.parametrize(
    "text",
    [
        "the doctor raised my seroquel and im groggy in the mornings but its getting better",
        "this med makes me a bit loopy the first couple hours",
    ],
)
def test_a_side_effect_the_doctor_manages_is_not_an_overdose(text: str) -> None:
    """Mild drowsiness that passes, told as a known side effect: no alarm."""
    assert assess_rules(text)[0].signal is None, text


def test_a_side_effect_with_a_body_that_will_not_stay_awake_still_alarms() -> None:
    """Sedation past drowsiness is never a side effect to wait out."""
    text = "doc raised my methadone and im so sleepy i cant keep my eyes open"
    assert category_of(text) is CrisisCategory.OVERDOSE


@pytest.mark.parametrize(
    "text",
    [
        "what should i tell my sister if she ever says she wants to die",
        "si alguien me dice que se quiere morir, que le digo?",
        "if someone snores real loud after using, is that a sign of an overdose?",
    ],
)
def test_what_to_say_or_what_a_sign_means_if_it_ever_happens_is_a_question(text: str) -> None:
    """A supposition about someone else, asked: answered, not paged."""
    assessment, why = assess_rules(text)
    assert assessment.signal is None, text
    assert why == "question", text


def test_a_sibling_who_wants_to_die_now_is_still_a_crisis() -> None:
    """Told as happening, not supposed, another person's wish to die is not a question."""
    assert category_of("my sister says she wants to die, what do i say?") is (
        CrisisCategory.SUICIDE
    )


@pytest.mark.parametrize(
    "text",
    [
        "the shot wore off a couple weeks ago and i did a bag like i used to, kinda heavy now",
        "se me acabo el vivitrol y ayer me meti lo de antes, ando bien pesado",
    ],
)
def test_use_after_the_blocker_wore_off_is_an_overdose_check(text: str) -> None:
    """A blocker worn off is lost tolerance; the old amount used "like i used to" is now."""
    assert category_of(text) is CrisisCategory.OVERDOSE


def test_a_writer_alone_with_a_drug_and_a_sign_of_it_asks_out_of_fear() -> None:
    """ "Is that bad?" from a writer alone with a drug that feels heavier is the check."""
    text = "plug swore it was the usual but it feels way heavier, is that normal? im alone rn"
    assert category_of(text) is CrisisCategory.OVERDOSE


def test_a_general_question_about_a_side_effect_alone_at_night_is_a_question() -> None:
    """Asked in general, a side effect felt alone is answered, not paged."""
    assessment, why = assess_rules("is it ok to feel heavy on suboxone when im alone at night?")
    assert assessment.signal is None
    assert why == "question"
