"""A goodbye "just in case", pinned pupils, a head that will not stay up, a dose topped up;
deaths mourned, songs in the head, the weather and the waiting room.

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
        "just in case, tell my little brother i love him",
        "dile a mi papa que lo quiero mucho, por si acaso",
        "tell my abuela que la quiero mucho ok",
    ],
)
def test_love_sent_through_someone_just_in_case_is_a_possible_suicide(text: str) -> None:
    assert category_of(text) is CrisisCategory.SUICIDE


def test_love_sent_for_a_visit_stays_quiet() -> None:
    text = "tell my mom i love her when you see her at church sunday"
    assert assess_rules(text)[0].signal is None


@pytest.mark.parametrize(
    "text",
    [
        "my pupils are like pinpoints and i feel floaty, took my dose plus one of my sisters pills",
        "tengo las pupilas chiquititas despues de las pastillas, es normal?",
    ],
)
def test_pinned_pupils_after_a_dose_or_pills_is_a_possible_overdose(text: str) -> None:
    assert category_of(text) is CrisisCategory.OVERDOSE


@pytest.mark.parametrize(
    "text",
    [
        "took a bar someone handed me at the show and its hard to keep my head up",
        "me tome una pastilla que me dieron y me cuesta mantener la cabeza arriba",
    ],
)
def test_a_head_that_will_not_stay_up_after_a_pill_is_an_overdose(text: str) -> None:
    assert category_of(text) is CrisisCategory.OVERDOSE


def test_a_dose_topped_up_and_feeling_very_slow_is_a_possible_overdose() -> None:
    text = "ando lentisima, le meti algo encima de la dosis de hoy"
    assert category_of(text) is CrisisCategory.OVERDOSE


@pytest.mark.parametrize(
    "text",
    [
        "we lit a candle at group tonight for tony, he died of an overdose in march",
        "en la reunion hablamos de los amigos que perdimos por sobredosis, me hizo bien",
        "tonight's meeting was on grief and people shared about friends lost to overdoses",
        "have hurt myself stuck in my head all day, that old nin song",
        "been sleeping through since starting dtms, not waking up at 4am anymore",
        "que calor hace, me voy a morir derretida jaja",
        "ya no aguanto este frio, todo el dia lloviendo",
        "el trafico de la 405 me va a matar wey",
        "me muero por some tacos al pastor right now",
        "the church gave out narcan kits after service, got one in my glovebox",
        "my trainer is trying to kill me with these burpees",
        "my son says ill be the death of him bc i call too much",
        "used to think about dying daily my first year. havent in a long time. grateful tonight",
        "sitting in the er waiting room with my mom, she sprained her wrist",
    ],
)
def test_a_death_mourned_a_song_a_figure_or_a_waiting_room_stays_quiet(text: str) -> None:
    assert assess_rules(text)[0].signal is None, text


@pytest.mark.parametrize(
    "text",
    [
        "at the memorial tonight someone overdosed in the bathroom, they are not breathing",
        "my friend died of an overdose last month and tonight i took all my pills",
        "hes not waking up, gave him narcan twice",
    ],
)
def test_the_look_alikes_still_raise_a_signal(text: str) -> None:
    assert assess_rules(text)[0].signal is not None, text
