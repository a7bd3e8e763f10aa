"""A whole cabinet of pills eaten; and the everyday talk around crisis words that the
twenty-ninth set found paging: a pet or a city "trying to kill" the writer, a first-aid class
that covered overdose, a child's school project, a fit of laughter, a long night's sleep on a
medicine asked about, where to call or what to say when someone else talks of suicide, and a
doctor who put the writer on two medicines.

Every wording here is new: none is copied from a labelled set, so each test checks that the
rules read a kind of message, not one sentence.
"""

from __future__ import annotations

import pytest

from bot.models import CrisisCategory
from bot.services.crisis_rules import assess_rules
from bot.services.crisis_signal import Tier
from tests.support.crisis import category_of


@pytest.mark.parametrize(
    "text",
    [
        "swallowed all the pills in my nightstand drawer, starting to feel numb",
        "took every single pill out of the bathroom cabinet an hour ago",
    ],
)
def test_a_whole_drawer_or_cabinet_of_pills_swallowed_is_a_clear_overdose(text: str) -> None:
    """Every pill in a place eaten at once is an overdose under way."""
    signal = assess_rules(text)[0].signal
    assert signal is not None, text
    assert (signal.category, signal.tier) == (CrisisCategory.OVERDOSE, Tier.CLEAR)


@pytest.mark.parametrize(
    "text",
    [
        "this printer is trying to murder me one page at a time",
        "my puppy is trying to kill me, tripped over him on the stairs again",
        "the cna class today had a whole section on overdoses, learned a lot",
        "my son asked me what an overdose looks like for his health class report",
        "me dio un ataque de risa en el camion y todos me miraban",
    ],
)
def test_idioms_lessons_and_laughter_around_crisis_words_are_explained(text: str) -> None:
    """A printer or a puppy as a killer, a lesson on overdose, a fit of laughter: no alarm."""
    assessment, why = assess_rules(text)
    assert assessment.signal is None, text
    assert why == "explained", text


@pytest.mark.parametrize(
    "text",
    [
        "the new sleep med has me out like 11 hours a night, is that too much",
        "a donde puedo llamar si mi hermano habla de matarse",
        "que se le dice a un amigo que quiere quitarse la vida",
        "is it safe to take my gabapentin and my suboxone together, my doctor prescribed both",
    ],
)
def test_side_effect_and_whom_to_call_questions_are_questions(text: str) -> None:
    """A habit of long sleep, whom to call, what to say, two prescribed medicines: asked."""
    assessment, why = assess_rules(text)
    assert assessment.signal is None, text
    assert why == "question", text


@pytest.mark.parametrize(
    "text",
    [
        "my husband is trying to kill me, he has a knife",
        "been passed out like 11 hours and he still wont wake up, he took bars",
        "my doctor gave me new pills and i took the whole bottle",
    ],
)
def test_the_same_words_about_a_person_in_danger_still_alarm(text: str) -> None:
    """A partner's threat, a body that will not wake, a bottle swallowed: still a crisis."""
    assert assess_rules(text)[0].signal is not None, text


def test_someone_asked_about_for_a_school_project_is_not_a_report() -> None:
    """The project wording does not hide an overdose told beside it."""
    text = "my daughter was doing her school project and now shes not breathing, she took pills"
    assert category_of(text) is CrisisCategory.OVERDOSE


@pytest.mark.parametrize(
    "text",
    [
        "my husband said hes going to kill me tonight",
        "my wife is gonna kill me, she has the knife again",
        "mi esposo dice que me va a matar cuando llegue",
    ],
)
def test_a_partners_threat_to_kill_the_writer_is_never_an_idiom(text: str) -> None:
    """Violence at home comes from partners: their threat is abuse, not a figure of speech."""
    assert category_of(text) is CrisisCategory.ABUSE_OR_DANGER
