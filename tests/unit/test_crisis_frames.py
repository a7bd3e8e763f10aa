"""Crisis frames kept as data: they load, they fail loudly, they read crises and not chatter."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import yamlfile
from bot.models import CrisisCategory
from bot.models import CrisisCategory as C
from bot.services import crisis_rules
from bot.services.crisis_frames import BUNDLED_FRAMES, FrameError, load_frames
from bot.services.crisis_signal import Tier
from bot.services.crisis_text import forms_of
from bot.services.safety import assess

DATA = Path(__file__).resolve().parents[1] / "data"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "frames.yaml"
    path.write_text(text, "utf-8")
    return path


def test_the_shipped_frames_load_and_name_their_pieces() -> None:
    pieces = {"people": "x", "personas": "x", "someone": "x", "adv": ""}
    frames = load_frames(BUNDLED_FRAMES, pieces)
    assert len(frames) >= 20
    assert {frame.category for frame in frames} == set(CrisisCategory)
    assert any(frame.present for frame in frames)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("frames: {}", "expected a 'frames:' list"),
        ("frames: [{category: nope, tier: clear, locale: en, patterns: [x]}]", "unknown category"),
        ("frames: [{category: suicide, tier: maybe, locale: en, patterns: [x]}]", "tier must"),
        ("frames: [{category: suicide, tier: clear, locale: fr, patterns: [x]}]", "locale must"),
        ("frames: [{category: suicide, tier: clear, locale: en, patterns: []}]", "non-empty"),
        ("frames: [{category: suicide, tier: clear, locale: en, patterns: ['(a']}]", "frame 1"),
        (
            "frames: [{category: suicide, tier: clear, locale: en, patterns: ['<nobody>']}]",
            "<nobody>",
        ),
        ("frames: [", "frames.yaml"),
    ],
)
def test_a_broken_frames_file_is_named_at_load(tmp_path: Path, text: str, problem: str) -> None:
    with pytest.raises(FrameError, match=problem.replace("(", r"\(")):
        load_frames(_write(tmp_path, text), {})


def test_a_piece_is_expanded(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "frames: [{category: abuse_or_danger, tier: possible, locale: en,"
        " patterns: ['<people> hit me']}]",
    )
    (frame,) = load_frames(path, {"people": "(?:my (?:ex|dad))"})
    assert frame.pattern.search("my ex hit me again")
    assert not frame.pattern.search("the ball hit me")
    assert frame.reason == "frame:abuse_or_danger:en"


@pytest.mark.parametrize(
    ("text", "category", "tier"),
    [
        ("gonna drive my car off the bridge on the way home", C.SUICIDE, Tier.CLEAR),
        ("voy a estrellar la troca contra un muro saliendo del jale", C.SUICIDE, Tier.CLEAR),
        ("looked up how tall the bridge downtown is", C.SUICIDE, Tier.POSSIBLE),
        ("just swallowed my whole bottle of gabbies", C.OVERDOSE, Tier.CLEAR),
        ("the second narcan isnt working he still wont move", C.OVERDOSE, Tier.CLEAR),
        ("me queme el brazo a proposito con el encendedor", C.SELF_HARM, Tier.CLEAR),
        ("got out today and going straight to the plug", C.RELAPSE_DANGER, Tier.CLEAR),
        ("mi papa me dio una golpiza y sigue en la casa", C.ABUSE_OR_DANGER, Tier.CLEAR),
        ("le voy a meter un tiro a ese vato", C.HARM_TO_OTHERS, Tier.CLEAR),
        ("half my face went numb, my words come out wrong", C.MEDICAL_EMERGENCY, Tier.CLEAR),
    ],
)
def test_frames_read_crises_told_in_new_words(
    text: str, category: CrisisCategory, tier: Tier
) -> None:
    signal = assess(text).signal
    assert signal is not None, text
    assert signal.category is category
    assert signal.tier is tier


@pytest.mark.parametrize(
    "text",
    [
        "today is my last day at this job, new one starts monday",
        "i drove past the spot today and kept going, proud of myself",
        "this heat is going to kill me lmao",
        "saw on the news that overdose deaths went down this year",
        "what happens if you drink alcohol on antabuse?",
        "i feel a bit dizzy after tms today",
    ],
)
def test_frames_leave_everyday_talk_quiet(text: str) -> None:
    assert assess(text).signal is None, text


def _everyday_talk() -> list[str]:
    texts: list[str] = []
    corpus = yamlfile.safe_load((DATA / "crisis_corpus.yaml").read_text("utf-8"))
    texts.extend(entry["text"] for entry in corpus["negatives"])
    for path in [DATA / "crisis_dev.yaml", *sorted(DATA.glob("crisis_review_v*.yaml"))]:
        messages = yamlfile.safe_load(path.read_text("utf-8"))["messages"]
        texts.extend(m["text"] for m in messages if m["expect"] == "none")
    return texts


def test_no_frame_fires_on_the_everyday_talk_of_the_labelled_sets() -> None:
    """A frame is a way of telling a crisis: it never matches a message labelled as chatter."""
    fired = [
        (text, frame.reason)
        for text in _everyday_talk()
        for frame in crisis_rules._FRAMES
        if any(frame.pattern.search(form) for form in forms_of(text))
    ]
    assert fired == []


def test_laughter_explains_a_figure_of_speech_but_never_a_wish_to_die() -> None:
    """ "me va a dar un infarto 😂" is an idiom; "i want to kill myself 😂" is still answered."""
    assert assess("casi me da un infarto con el precio de la gasolina 😂").signal is None
    signal = assess("i want to kill myself 😂").signal
    assert signal is not None
    assert signal.category is C.SUICIDE


def test_asking_how_to_know_about_someone_else_is_a_question_not_a_page() -> None:
    assessment = assess("how would i know if my brother is self harming")
    assert assessment.signal is None
    assert assessment.question


@pytest.mark.parametrize(
    "text",
    [
        "thinking about cutting my strips in half to make them last",
        "16 isnt holding me, can i go up",
        "my 30mg dose is not holding me till the evening",
        "im thinking about tapering down my subs",
    ],
)
def test_talk_about_a_medicine_is_not_read_as_harm(text: str) -> None:
    """A dose that is cut or that does not hold is a question for the prescriber, not a crisis."""
    assert assess(text).signal is None, text


def test_a_person_holding_someone_is_still_danger() -> None:
    signal = assess("he is holding me in the room and wont let me leave").signal
    assert signal is not None
    assert signal.category is C.ABUSE_OR_DANGER


def test_the_phrase_lists_load_from_content() -> None:
    """The phrase lists, pieces and chat-word maps are data, read and checked at start-up."""
    from bot.services.crisis_frames import BUNDLED_PHRASES, expand_pieces, load_lexicon  # noqa: PLC0415

    data = load_lexicon(BUNDLED_PHRASES)
    assert set(data["clear"]) <= set(CrisisCategory)
    pieces = expand_pieces(data["pieces"])
    assert "<" not in pieces["aggressor"], "a piece may use the pieces above it"
    assert data["word_map"]["kms"] == "kill myself"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[]", "expected a mapping"),
        ("pieces: {}\nword_map: {}\nrun_together: {}\nclear: []", "'clear:'"),
        ("pieces: []\nword_map: {}\nrun_together: {}", "'pieces' must map"),
        (
            "pieces: {}\nword_map: {}\nrun_together: {}\nclear: {nope: {en: [], es: []}}",
            "unknown category",
        ),
        (
            "pieces: {}\nword_map: {}\nrun_together: {}\nclear: {}\npossible: {en: []}",
            "possible: expected an 'en:' and an 'es:' list",
        ),
    ],
)
def test_a_broken_phrases_file_is_named_at_load(tmp_path: Path, text: str, problem: str) -> None:
    from bot.services.crisis_frames import load_lexicon  # noqa: PLC0415

    with pytest.raises(FrameError, match=problem.replace("(", r"\(")):
        load_lexicon(_write(tmp_path, text))


def test_a_phrase_that_does_not_compile_is_named() -> None:
    from bot.services.crisis_frames import expand_all  # noqa: PLC0415

    with pytest.raises(FrameError, match=r"unterminated|missing"):
        expand_all(["(?:kill <people>"], {"people": "(?:my ex)"})
    with pytest.raises(FrameError, match="<nobody>"):
        expand_all(["hurt <nobody>"], {})


def test_the_meaning_slots_and_rules_load_from_content() -> None:
    from bot.services.crisis_frames import BUNDLED_SLOTS, load_slots  # noqa: PLC0415

    data = load_slots(BUNDLED_SLOTS, crisis_rules._PIECES)
    assert {"first_person", "other", "unresponsive", "question"} <= set(data.slots)
    assert all("<" not in source or "(?<" in source for source in data.slots.values())
    assert {rule.name for rule in data.rules} >= {"self_harm_now", "violence_against_me"}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[]", "expected a mapping"),
        ("pieces: {}\nslots: {a: '(x'}\nmarkers: {}\nrules: []", "slot a"),
        ("pieces: {}\nslots: {}\nmarkers: {}\nrules: [{name: r, category: x}]", "unknown category"),
        (
            "pieces: {}\nslots: {}\nmarkers: {}\nrules: [{name: r, category: suicide, tier: z}]",
            "tier must",
        ),
        ("pieces: {}\nslots: {}\nmarkers: {}", "'rules:'"),
    ],
)
def test_a_broken_slots_file_is_named_at_load(tmp_path: Path, text: str, problem: str) -> None:
    from bot.services.crisis_frames import load_slots  # noqa: PLC0415

    with pytest.raises(FrameError, match=problem):
        load_slots(_write(tmp_path, text), {})


def _frames_fired(text: str) -> list[str]:
    return [
        frame.reason
        for frame in crisis_rules._FRAMES
        if any(frame.pattern.search(form) for form in forms_of(text))
    ]


@pytest.mark.parametrize(
    "text",
    [
        "ate a whole box of girl scout cookies last night, no regrets",
        "three coffees before noon and my heart is pounding lol",
    ],
)
def test_food_and_caffeine_are_no_frame_of_overdose_or_emergency(text: str) -> None:
    """A whole box of something to eat, or a racing heart put down to coffee, is chatter."""
    assert _frames_fired(text) == []


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("took my whole box of klonopin an hour ago", "frame:overdose:en"),
        ("my heart is racing and i feel faint", "frame:medical_emergency:en"),
    ],
)
def test_the_same_frames_still_read_pills_and_a_racing_heart(text: str, reason: str) -> None:
    """The exceptions for food and caffeine leave the frames' crises standing."""
    assert reason in _frames_fired(text)
