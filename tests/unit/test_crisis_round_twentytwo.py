"""Someone face down with foam at the mouth, a child in the bag where the methadone is, using
again after jail, a dealer on the way to someone alone, a dose skipped to use, heights looked
at, marks from last night; and the questions, news, stories and projects around them.

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
        "my cousin used in the bathroom, now hes face down and theres foam coming out of his mouth",
        "la nena se metio en la mochila de su papa donde guarda la metadona, esta muy dormida",
        "first time back on since i got out of county and im so woozy, lips tingling",
    ],
)
def test_overdose_told_in_other_words_is_read(text: str) -> None:
    assert category_of(text) is CrisisCategory.OVERDOSE


@pytest.mark.parametrize(
    "text",
    [
        "ya llega el tipo con el fentanilo, llevo tres meses limpia y estoy sola en la casa",
        "pensando en saltarme la dosis del viernes para ver si puedo usar el sabado",
        "hoy pase por donde me drogaba y casi me bajo",
    ],
)
def test_a_return_to_use_on_its_way_is_relapse_danger(text: str) -> None:
    assert category_of(text) is CrisisCategory.RELAPSE_DANGER


def test_heights_looked_at_every_day_are_a_possible_suicide() -> None:
    text = "keep checking how high the top floor of the parking deck is when i take my lunch"
    assert category_of(text) is CrisisCategory.SUICIDE


def test_marks_left_from_last_night_are_possible_self_harm() -> None:
    assert category_of("still have marks from last night, guess its back") is (
        CrisisCategory.SELF_HARM
    )


@pytest.mark.parametrize(
    "text",
    [
        "what number can my grandma call for suicide help in spanish?",
        "if someone is snoring super loud after using is that a bad sign or just sleep",
        "the news said they found two people od'd by the river, so grateful im past that",
        "telling my story at the meeting tonight, 3 years since my overdose in that parking lot",
        "my daughters school project is about overdoses and narcan, she wants my help",
        "we walked for the neighbors lost to overdose in our town, raised a lot",
        "hoy pase por donde compraba y ni me acorde de eso, feliz",
    ],
)
def test_questions_news_stories_and_projects_stay_quiet(text: str) -> None:
    assert assess_rules(text)[0].signal is None, text


@pytest.mark.parametrize(
    "text",
    [
        "the news said there is bad fent going around and my brother is blue and not breathing",
        "my son is face down on the floor, he took pills",
        "telling my story tonight then im going to kill myself",
        "after the game tonight im going to kill myself",
        "vi la pelicula otra vez y ya decidi que voy a matarme",
    ],
)
def test_the_look_alikes_still_raise_a_signal(text: str) -> None:
    assert assess_rules(text)[0].signal is not None, text
