"""Tests for text normalisation, the lexicon, fuzzy matching and library search."""

from __future__ import annotations

import tracemalloc
from datetime import date
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.services.lexicon import FuzzyMatcher, Lexicon, LexiconError, edit_distance, fold, stem
from bot.services.library import ArticleWording, Library
from bot.services.library_files import load_library
from bot.services.search import SearchIndex

ARTICLES: dict[str, tuple[str, str, list[str], str]] = {
    # Each article id maps to its title, summary, keywords and body.
    "buprenorphine": (
        "Buprenorphine",
        "How buprenorphine works and how to start it safely.",
        ["partial agonist", "induction"],
        "Buprenorphine is a partial opioid agonist. Starting too soon after other opioids "
        "can cause precipitated withdrawal, so the first dose is timed with your prescriber.",
    ),
    "methadone": (
        "Methadone",
        "How methadone works and why the first weeks need care.",
        ["clinic", "take-homes"],
        "Methadone is a full agonist taken once a day at a clinic. Its effect builds up over "
        "the first two weeks, which is when the risk of overdose is highest.",
    ),
    "disulfiram": (
        "Disulfiram",
        "How disulfiram makes drinking unpleasant.",
        ["alcohol reaction", "hidden alcohol"],
        "With disulfiram in your body, alcohol causes flushing, nausea and a pounding heart. "
        "Hidden alcohol in mouthwash and sauces counts.",
    ),
    "naloxone-overdose": (
        "Naloxone and overdose",
        "How to spot an overdose and give naloxone.",
        ["nasal spray", "rescue"],
        "Signs of an overdose: not waking, slow breathing, blue lips. Call 911 and give "
        "naloxone nasal spray; give a second dose after two or three minutes.",
    ),
    "dtms-what-it-is": (
        "What is deep TMS?",
        "A magnetic coil in a helmet stimulates deeper brain areas.",
        ["helmet", "coil"],
        "Deep transcranial magnetic stimulation uses an H-coil held in a helmet. You stay "
        "awake, hear loud clicks and can drive home afterwards.",
    ),
    "cravings": (
        "Coping with cravings",
        "Urges rise and fall like a wave.",
        ["urge surfing", "triggers"],
        "A craving usually peaks and passes within half an hour. Notice the triggers, breathe, "
        "call someone, and wait it out.",
    ),
}
TOPICS = [{"id": "all", "title": "Everything", "description": "All articles."}]


WORDING = {"en": ArticleWording(medication_footer="<i>Ask your prescriber.</i>", see_also="see")}


def write_library(directory: Path, articles: dict[str, tuple[str, str, list[str], str]]) -> None:
    """Write en/topics.yaml and one English article file per entry under directory."""
    directory = directory / "en"
    directory.mkdir()
    (directory / "topics.yaml").write_text(yaml.safe_dump(TOPICS), encoding="utf-8")
    for article_id, (title, summary, keywords, body) in articles.items():
        meta = {
            "id": article_id,
            "title": title,
            "topic": "all",
            "kind": "general",
            "summary": summary,
            "keywords": keywords,
            "applies_to": [],
            "sources": ["A source"],
            "updated_on": date(2026, 11, 26),
            "version": 1,
        }
        text = f"---\n{yaml.safe_dump(meta)}---\n{body}\n"
        (directory / f"{article_id}.md").write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Library:
    """Return a small library loaded once for all search tests."""
    directory = tmp_path_factory.mktemp("articles")
    write_library(directory, ARTICLES)
    return load_library(directory, wording=WORDING)


def top(library: Library, query: str) -> str | None:
    """Return the id of the best hit for query, or None."""
    hits = library.search(query)
    return hits[0].article.id if hits else None


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Suboxone", "buprenorphine"),
        ("what is sublocade", "buprenorphine"),
        ("bupe first dose", "buprenorphine"),
        ("Antabuse", "disulfiram"),
        ("antibuse and mouthwash", "disulfiram"),
        ("Narcan", "naloxone-overdose"),
        ("Kloxxado", "naloxone-overdose"),
        ("what to do if someone ODs", "naloxone-overdose"),
        ("o.d. signs", "naloxone-overdose"),
        ("methadose clinic", "methadone"),
        ("BrainsWay helmet", "dtms-what-it-is"),
        ("what is tms", "dtms-what-it-is"),
        ("magnetic stimulation", "dtms-what-it-is"),
        ("metadona", "methadone"),
    ],
)
def test_brand_names_slang_and_spanish_find_the_generic_article(
    library: Library, query: str, expected: str
) -> None:
    """Brand names, slang and Spanish names are mapped to the article about the generic."""
    assert top(library, query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("suboxen", "buprenorphine"),
        ("buprenorphene induction", "buprenorphine"),
        ("disulfuram", "disulfiram"),
        ("naloxon spray", "naloxone-overdose"),
        ("precipitated withdrawl", "buprenorphine"),
        ("cravngs", "cravings"),
        ("methadnoe", "methadone"),
    ],
)
def test_typos_within_the_edit_limit_still_find_the_article(
    library: Library, query: str, expected: str
) -> None:
    """Misspelt words are corrected to the nearest indexed word."""
    assert top(library, query) == expected


def test_plural_and_ing_forms_match_their_stem(library: Library) -> None:
    """Stemming lets 'urges' and 'craving' match 'Urges' and 'cravings'."""
    assert top(library, "urges") == "cravings"
    assert top(library, "craving triggers") == "cravings"


@pytest.mark.parametrize("query", ["what is the weather", "hello", "asdf", "", "   ", "?!", "the"])
def test_query_with_nothing_relevant_returns_no_hits(library: Library, query: str) -> None:
    """Small talk, gibberish and stopwords return an empty list."""
    assert library.search(query) == []


def test_hits_are_limited_ranked_and_above_the_minimum(library: Library) -> None:
    """At most limit hits come back, best first."""
    hits = library.search("overdose naloxone methadone buprenorphine withdrawal", limit=2)
    assert len(hits) == 2
    assert hits[0].score >= hits[1].score > 0
    assert len(library.search("overdose naloxone methadone buprenorphine", limit=10)) >= 3


def test_title_match_outranks_a_body_mention(library: Library) -> None:
    """A word in the title weighs more than the same word in another article's body."""
    hits = library.search("naloxone")
    assert hits[0].article.id == "naloxone-overdose"


@settings(max_examples=200, deadline=None)
@given(query=st.text(max_size=80))
def test_search_accepts_any_text(library: Library, query: str) -> None:
    """Any Unicode input returns at most three hits, best first, without raising."""
    hits = library.search(query)
    assert len(hits) <= 3
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)


@pytest.mark.parametrize(
    "forms",
    [
        ("dose", "doses", "dosing", "dosed"),
        ("craving", "cravings", "crave", "craves"),
        ("stop", "stops", "stopping", "stopped"),
        ("withdrawal", "withdrawals"),
        ("therapy", "therapies"),
        ("benzo", "benzos"),
        ("use", "uses", "used", "using"),
        ("medicine", "medicines"),
        ("patch", "patches"),
    ],
)
def test_light_stemmer_gives_word_forms_one_stem(forms: tuple[str, ...]) -> None:
    """Plural, -ing, -ed and final -e forms of a word share one stem."""
    assert len({stem(form) for form in forms}) == 1


def test_stemmer_leaves_short_words_and_numbers_alone() -> None:
    """Words of three letters or fewer and numbers are not stemmed."""
    assert [stem(word) for word in ("tms", "988", "ods", "4mg")] == ["tms", "988", "ods", "4mg"]


def test_fold_lowercases_strips_accents_and_apostrophes() -> None:
    """Accents and in-word apostrophes are removed and case is folded."""
    assert fold("¿Qué MEDICACIÓN? I\u2019m don't") == "¿que medicacion? im dont"


def test_edit_distance_counts_transpositions_as_one() -> None:
    """Swapped neighbouring letters cost one edit; the limit caps the work."""
    assert edit_distance("methadnoe", "methadone", 2) == 1
    assert edit_distance("kitten", "sitting", 3) == 3
    assert edit_distance("abc", "xyzuvw", 2) == 3


def test_fuzzy_matcher_prefers_the_closest_then_the_most_common_word() -> None:
    """Ties in distance go to the word with the higher weight."""
    matcher = FuzzyMatcher({"naloxone": 5, "naltrexone": 5, "clinic": 1, "clinics": 9})
    assert matcher.closest("naloxne", 1) == "naloxone"
    assert matcher.closest("clinicx", 1) == "clinics"
    assert matcher.closest("zzzzzz", 2) is None


def test_a_long_run_of_letters_costs_no_more_than_a_word(library: Library) -> None:
    """One word of hundreds of letters ("dailydaily...") is matched without listing its typos.

    Its deletions within two edits grow with the square of its length (and their text with the
    cube): a patient's 5,000-letter message once took the bot's memory with it.
    """
    matcher = FuzzyMatcher({"naloxone": 5, "daily": 3})
    word = "daily" * 80
    tracemalloc.start()
    try:
        assert matcher.closest(word, 2) is None
        assert library.search("dose" * 100) == []
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000


def test_lexicon_rejects_unknown_groups_and_bad_aliases() -> None:
    """A malformed lexicon raises LexiconError saying what is wrong."""
    with pytest.raises(LexiconError, match="unknown group"):
        Lexicon.from_data({"drugs": {}})
    with pytest.raises(LexiconError, match="aliases must be a list"):
        Lexicon.from_data({"medications": {"methadone": "dolophine"}})


def test_lexicon_matches_the_longest_phrase_first() -> None:
    """'deep tms' is one token mapped to dtms, not 'deep' plus 'tms'."""
    lexicon = Lexicon.from_data({"terms": {"dtms": ["tms", "deep tms"]}})
    tokens = lexicon.analyse("Is deep TMS safe?")
    assert [(t.text, t.term.canonical if t.term else None) for t in tokens] == [
        ("is", None),
        ("deep tms", "dtms"),
        ("safe", None),
    ]


def test_a_group_counts_once_in_document_frequency_and_is_found_once() -> None:
    """Two language versions of one article weigh a shared word as one article would."""
    lexicon = Lexicon.from_data({})
    others = {
        "en:cravings": {"title": "Cravings", "body": "Cravings come in waves."},
        "en:sleep": {"title": "Sleep", "body": "Sleep gets better."},
    }
    english = {"title": "Narcan", "body": "Narcan reverses an overdose."}
    spanish = {"title": "Narcan", "body": "Narcan revierte una sobredosis."}
    alone = SearchIndex({"en:narcan": english, **others}, lexicon)
    versions = {"en:narcan": english, "es:narcan": spanish, **others}
    ungrouped = SearchIndex(versions, lexicon)
    grouped = SearchIndex(versions, lexicon, groups={"en:narcan": "narcan", "es:narcan": "narcan"})
    assert grouped.min_score == alone.min_score
    [best] = alone.search("narcan")
    [found] = grouped.search("narcan", limit=3)
    assert found.score == pytest.approx(best.score, rel=0.01), "weighed as without a translation"
    assert found.score > 1.2 * ungrouped.search("narcan")[0].score
    assert len(ungrouped.search("narcan", limit=3)) == 2
    assert grouped.search("narcan revierte")[0].doc_id == "es:narcan", "by its best version"
