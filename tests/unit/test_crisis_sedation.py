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


def _assert_overdose(text: str) -> None:
    """The message raises a signal read as an overdose."""
    signal = assess_rules(text)[0].signal
    assert signal is not None, text
    assert signal.category is CrisisCategory.OVERDOSE, text


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


@pytest.mark.parametrize(
    "text",
    [
        "pretty sure i took my bupe twice this morning, feeling groggy",
        "i forgot whether i already had my methadone so i took it, now kinda woozy",
        "accidentally took my evening meds at lunch too and im wobbly",
        "took half a bar on top of my dose, the room is spinning",
        "se me olvido si me tome la metadona y me tome otra, ando atontado",
        "mi tia se tomo sus pastillas por error dos veces y anda mareada",
        "had a perc on top of my methadone, feeling a bit off",
        "took my meds with a couple beers and i feel really slow",
        "mi abuelo no deja de cabecear desde que se tomo sus medicinas",
    ],
)
def test_a_dose_taken_twice_or_by_mistake_with_a_sign_is_a_possible_overdose(text: str) -> None:
    """Forgetting whether a dose was taken, doubling it or an extra by mistake, beside a sign
    of a head that is not right (groggy, woozy, wobbly, spinning, atontado), is the check."""
    _assert_overdose(text)


@pytest.mark.parametrize(
    "text",
    [
        "not sure if i took my sub twice, feel pretty drowsy, should i be worried?",
        "dont know if she took her pills two times, she seems out of it, what do i do?",
        "no se si se tomo la dosis dos veces, anda muy mareado, que hago?",
    ],
)
def test_not_sure_if_is_whether_not_a_supposition(text: str) -> None:
    """ "Not sure if" and "no se si" tell of something that may have happened; they do not
    make a question of a report, as "what if" would."""
    assessment, why = assess_rules(text)
    assert assessment.signal is not None, text
    assert why is None, text


@pytest.mark.parametrize(
    "text",
    [
        "my brother got back from a party and he's been out for 13 hours, snoring super loud",
        "mi hijo ronca bien fuerte desde que llego de la fiesta y no se despierta bien",
        "mi sobrino volvio de la fiesta y esta como ausente, casi no responde",
    ],
)
def test_someone_asleep_for_hours_after_a_night_out_is_a_possible_overdose(text: str) -> None:
    """Hours of sleep or a hard snore after someone's night out: someone should check."""
    _assert_overdose(text)


@pytest.mark.parametrize(
    "text",
    [
        "my doctor doubled my dose last week and i feel a bit sleepy",
        "my head is spinning with all these appointments, took the bus twice today",
        "went to a party sober and it was great, kinda out of it today from no sleep",
        "my husband snores loud every night",
        "can you tell me why i shouldnt mix alcohol with my suboxone?",
    ],
)
def test_a_prescribed_change_an_idiom_and_a_sober_night_stay_quiet(text: str) -> None:
    """A dose the prescriber raised, a spinning head of errands, the writer's own sober party
    and a question about mixing raise nothing."""
    assert assess_rules(text)[0].signal is None, text


@pytest.mark.parametrize(
    "text",
    [
        "took a lot more of my klonopin than i was supposed to",
        "grandma's pill organizer for the whole week is empty and she's napping",
        "walked in and found my toddler with my strips on the floor",
        "my niece ate an edible out of my bag and she's so sleepy",
    ],
)
def test_more_than_prescribed_an_emptied_week_and_a_child_with_the_pills(text: str) -> None:
    """More of a medicine than meant, a week's pill box emptied, a small child found with the
    medicine: each is read as an overdose."""
    _assert_overdose(text)


@pytest.mark.parametrize(
    "text",
    [
        "the bus was so slow today and i took my dose late",
        "took more time than i thought to get to the clinic",
        "i took the day off work and feel good",
        "my little brother ate all my gummy bears again",
        "mi hija casi no habla conmigo desde que entro a la prepa",
        "my nephew took my phone charger again",
    ],
)
def test_slow_buses_more_time_and_a_day_off_stay_quiet(text: str) -> None:
    """ "Slow", "more than i thought" and "off" about the day, candy eaten, a quiet teenager
    and a borrowed charger: not a body, a medicine or someone kept from calling."""
    assert assess_rules(text)[0].signal is None, text


@pytest.mark.parametrize(
    "text",
    [
        "my dad keeps dozing off mid conversation, hes on percocet after his surgery",
        "mi tio se quedo dormido a media comida, se tomo algo en la fiesta",
        "le pusimos la naloxona y desperto pero ya se esta volviendo a dormir",
    ],
)
def test_asleep_mid_sentence_after_a_drug_and_naloxone_wearing_off(text: str) -> None:
    """Falling asleep mid-sentence after a drug, or sinking again after naloxone worked for a
    while (it wears off before the opioid does), is read as an overdose."""
    _assert_overdose(text)


@pytest.mark.parametrize(
    "text",
    [
        "my toddler fell asleep mid sentence lol so cute",
        "mi bebe por fin se esta volviendo a dormir",
    ],
)
def test_a_child_falling_asleep_with_nothing_taken_stays_quiet(text: str) -> None:
    """The same sleep with no drug or medicine named raises nothing."""
    assert assess_rules(text)[0].signal is None, text
