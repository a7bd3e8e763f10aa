"""What is told as happening now, and what is only studied, remembered, dreamt or joked about.

Every wording here is new: none is copied from a labelled set, so each test checks that the
rules read a kind of message, not one sentence.
"""

from __future__ import annotations

import pytest

from bot.models import CrisisCategory
from bot.services.crisis_rules import assess_rules
from bot.services.crisis_signal import Tier
from tests.support.crisis import category_of


def _signal(text: str) -> tuple[CrisisCategory, Tier]:
    signal = assess_rules(text)[0].signal
    assert signal is not None, text
    return signal.category, signal.tier


# --- Told now: read as a crisis -----------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "a lady is overdosing on the train platform how do i give the narcan",
        "somebody oding in the mcdonalds bathroom, how do i use this spray",
        "guy overdosing outside my building what am i supposed to do",
        "a un senor le esta dando una sobredosis en la parada, como uso el narcan?",
    ],
)
def test_someone_overdosing_now_asked_how_to_help_is_a_clear_overdose(text: str) -> None:
    """Anyone told as overdosing now ("a lady", "somebody", "a guy"), not only "he" or "my
    friend", is a clear overdose: asking how to use naloxone does not make it a question."""
    assert _signal(text) == (CrisisCategory.OVERDOSE, Tier.CLEAR)


@pytest.mark.parametrize(
    "text",
    [
        "how do you know if someone is overdosing",
        "what do i do if somebody is overdosing at my party",
        "the training showed us how to keep people from overdosing",
    ],
)
def test_overdosing_supposed_feared_or_prevented_is_not_told_now(text: str) -> None:
    """Overdosing after "if", "scared of" or "from" is supposed, feared or prevented."""
    assert assess_rules(text)[0].signal is None, text


@pytest.mark.parametrize(
    "text",
    [
        "is it bad to mix gabapentin with my methadone cause i already did",
        "what happens if you take two strips in one morning, asking bc i kinda did",
        "puede pasar algo si uno se toma dos dosis de metadona? porque yo ya lo hice",
    ],
)
def test_a_question_about_a_dose_the_writer_says_they_already_took_is_a_possible_overdose(
    text: str,
) -> None:
    """ "Can you die from X, because i just did": the question is asked about something done."""
    category = category_of(text)
    assert category is CrisisCategory.OVERDOSE


@pytest.mark.parametrize(
    "text",
    [
        "can you take tylenol with suboxone? asking bc my doctor said to check",
        "how long does methadone stay in your system bc i have a drug test friday",
    ],
)
def test_a_question_explained_by_something_else_stays_a_question(text: str) -> None:
    assert assess_rules(text)[0].signal is None, text


@pytest.mark.parametrize(
    "text",
    [
        "my mom is really hard to wake this afternoon, she opens her eyes and drifts back under",
        "cant get grandma up off the couch, she wakes for a second then goes right back out",
        "mi abuelo esta bien dificil de despertar hoy, abre los ojos y se vuelve a ir",
    ],
)
def test_someone_hard_to_wake_who_sinks_back_is_a_possible_overdose(text: str) -> None:
    """Hard to wake and sinking straight back, told of someone today, is at least the check even
    with no drug named, read as an overdose (breathing, the emergency number, naloxone) or, when
    the words say so, as another medical emergency."""
    category = category_of(text)
    assert category in {CrisisCategory.OVERDOSE, CrisisCategory.MEDICAL_EMERGENCY}


@pytest.mark.parametrize(
    "text",
    [
        "my teenager is impossible to wake up for school lol",
        "mi hijo es dificil de despertar en las mananas",
    ],
)
def test_a_hard_sleeper_in_the_mornings_stays_quiet(text: str) -> None:
    assert assess_rules(text)[0].signal is None, text


@pytest.mark.parametrize(
    "text",
    [
        "ran out of my subs two days ago and my old connect just texted me back",
        "missed my dose all weekend, clinic was closed, already got a number from some dude",
    ],
)
def test_going_to_a_dealer_while_without_a_dose_is_relapse_danger(text: str) -> None:
    """Contact with a dealer while out of one's medicine (in withdrawal, the supply likely
    fentanyl) is relapse danger."""
    category = category_of(text)
    assert category is CrisisCategory.RELAPSE_DANGER


def test_out_of_medicine_with_a_refill_on_its_way_stays_quiet() -> None:
    assert (
        assess_rules("ran out of subs, called the clinic and theyre sending a script")[0].signal
        is None
    )


@pytest.mark.parametrize(
    "text",
    [
        "my dad keeps saying this will be his last birthday and then changes the subject",
        "mi hermana dice que esta va a ser su ultima navidad y se rie raro",
        "mi tio anda diciendo que este es su ultimo cumpleanos",
    ],
)
def test_a_last_holiday_foretold_is_a_possible_suicide(text: str) -> None:
    category = category_of(text)
    assert category is CrisisCategory.SUICIDE


@pytest.mark.parametrize(
    "text",
    [
        "this is my last christmas in this apartment, moving in march",
        "esta es mi ultima navidad en la ciudad, me mudo en enero",
    ],
)
def test_a_last_holiday_somewhere_stays_quiet(text: str) -> None:
    assert assess_rules(text)[0].signal is None, text


# --- Studied, remembered, dreamt or joked about: quiet ------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "how do you do rescue breathing on someone who overdosed",
        "what are the steps for cpr on an adult",
    ],
)
def test_how_to_give_rescue_breaths_is_a_question(text: str) -> None:
    """Rescue breaths and CPR asked about are first-aid questions, not a body found now."""
    assessment, why = assess_rules(text)
    assert assessment.signal is None, text
    assert why == "question"


def test_giving_rescue_breaths_now_is_a_clear_overdose() -> None:
    assert _signal("im giving him rescue breaths, he took pills")[1] is Tier.CLEAR


@pytest.mark.parametrize(
    "text",
    [
        "the old timer in my group shares his overdose story every single week lol",
        "a woman at the meeting told the story of her od and i cried",
        "en la junta conte lo de mi sobredosis y me senti mas ligero",
        "anoche prendimos velas por los que se nos fueron por sobredosis",
        "nursing school exam tomorrow on overdose and naloxone, pray for me",
        "had a using dream again, woke up gross but didnt use",
        "sone que me drogaba otra vez, que feo",
    ],
)
def test_a_story_a_memorial_an_exam_or_a_dream_stays_quiet(text: str) -> None:
    """An overdose told as a story in group, a vigil, an exam topic or a dream of using is not
    happening now."""
    assert assess_rules(text)[0].signal is None, text


@pytest.mark.parametrize(
    "text",
    [
        "i always figured id be dead by 25. im 28 now and still here",
        "that overtime win gave me a heart attack",
        "the wind chill is gonna murder me on this walk to the clinic",
        "im gonna kill my roommate he ate my last yogurt 😤",
        "se me quemaron las tortillas otra vez",
        "defense is dead this season, i might overdose on nachos out of grief",
        "si uno ve que le pegan a alguien que se hace? es pregunta en general",
    ],
)
def test_a_figure_of_speech_or_a_general_ask_stays_quiet(text: str) -> None:
    """A past prediction outlived, a game's "heart attack", the weather "murdering" the writer,
    a threat over a yogurt, burnt food, a dead defense and a question asked in general."""
    assert assess_rules(text)[0].signal is None, text


@pytest.mark.parametrize(
    "text",
    [
        "me queme el brazo a proposito otra vez",
        "im gonna kill him he took my kids and my car",
        "hypothetically if i took all my pills tonight would it be quick",
    ],
)
def test_the_look_alikes_of_those_figures_still_raise_a_signal(text: str) -> None:
    """Burning oneself, a threat over one's children, and a supposition about taking every
    pill are not figures of speech."""
    assert assess_rules(text)[0].signal is not None, text


# --- A thirteenth round: harm on the way, a child and a syrup, a headache, a skipped shot ------


@pytest.mark.parametrize(
    "text",
    [
        "if my landlord knocks one more time im putting him through the door, heading down now",
        "lo voy a estampar contra la pared a ese vato, ya voy para alla",
    ],
)
def test_a_threat_to_throw_someone_through_a_wall_is_harm_to_others(text: str) -> None:
    category = category_of(text)
    assert category is CrisisCategory.HARM_TO_OTHERS


def test_a_fist_through_the_wall_held_back_stays_quiet() -> None:
    text = "almost put my fist through the wall when i heard, went for a run instead"
    assert assess_rules(text)[0].signal is None


@pytest.mark.parametrize(
    "text",
    [
        "my toddler drank grandpas cough syrup with codeine, most of the bottle, hes real floppy",
        "mi nino de 3 anos se bebio media botella del jarabe de la abuela, el que tiene codeina",
    ],
)
def test_a_child_who_drank_a_codeine_syrup_is_an_overdose(text: str) -> None:
    category = category_of(text)
    assert category is CrisisCategory.OVERDOSE


def test_a_child_taking_a_plain_syrup_stays_quiet() -> None:
    text = "the baby finally took her tylenol syrup without spitting it out"
    assert assess_rules(text)[0].signal is None


@pytest.mark.parametrize(
    "text",
    [
        "worst headache of my life since this morning and my vision is blurry",
        "tengo el peor dolor de cabeza de mi vida, me vino de golpe",
    ],
)
def test_the_worst_headache_of_a_life_is_a_medical_emergency(text: str) -> None:
    category = category_of(text)
    assert category is CrisisCategory.MEDICAL_EMERGENCY


def test_a_small_headache_after_a_session_stays_quiet() -> None:
    text = "tms gave me a little headache, nothing crazy, gone after coffee"
    assert assess_rules(text)[0].signal is None


@pytest.mark.parametrize(
    "text",
    [
        "thinking of not getting my vivitrol this month, just to see what happens 😏",
        "creo que no me voy a poner la vivitrol este mes y a ver que pasa, tu sabes",
    ],
)
def test_a_blocker_skipped_to_see_what_happens_is_relapse_danger(text: str) -> None:
    category = category_of(text)
    assert category is CrisisCategory.RELAPSE_DANGER


def test_a_blocker_rescheduled_stays_quiet() -> None:
    text = "had to skip my vivitrol shot because i was sick, rescheduled for monday"
    assert assess_rules(text)[0].signal is None


@pytest.mark.parametrize(
    "text",
    [
        "the doctor said the word overdose three times during intake, kinda scary but ok",
        "read an article about a woman who overdosed in a hospital bathroom, wild",
        "this whole week is trying to kill me, three flat tires",
        "hoy se cumplen tres anos que murio mi primo de sobredosis, fuimos a misa",
        "mi sobrino me pregunto que es una sobredosis para su clase, le explique",
        "la trabajadora social me pregunto si pensaba en matarme y le dije que no, todo bien",
        "mi hermano ya lleva seis meses sin consumir, le hicimos pastel",
        "me dieron ganas al pasar por la esquina pero me fui a casa y le hable a mi padrino",
        "finding my dad after his od still hurts, i talk about it in group a lot",
        "me dieron ganas cuando vi a los de antes, pero me fui pa la casa y se me paso",
        "the worst week of my life was when my sister died, i talk about her in group now",
    ],
)
def test_a_word_said_a_story_read_an_anniversary_or_a_pull_resisted_stays_quiet(
    text: str,
) -> None:
    assert assess_rules(text)[0].signal is None, text


@pytest.mark.parametrize(
    "text",
    [
        "cuanto tiempo hace efecto el narcan? puede regresar la sobredosis despues?",
        "can you still od on suboxone if you use fent on top? asking for my health class",
        "if ur on the shot and use can u still overdose? its for my recovery class",
    ],
)
def test_questions_in_two_parts_or_for_a_class_are_questions(text: str) -> None:
    assessment, why = assess_rules(text)
    assert assessment.signal is None, text
    assert why == "question"


@pytest.mark.parametrize(
    "text",
    [
        "if i swallowed every one of my klonopin would i even wake up",
        "si me trago todo el frasco de pastillas me moriria rapido?",
        "if you took your whole bottle of methadone could you die",
    ],
)
def test_a_supposition_of_taking_all_of_them_asked_is_never_only_a_question(text: str) -> None:
    """Asking whether all of one's pills or the whole bottle would kill is the check at least:
    read as a veiled wish to die, or as the overdose it describes."""
    assessment, why = assess_rules(text)
    assert assessment.signal is not None, text
    assert why is None
