"""Translations, the clinic's numbers in articles, and review metadata in the library."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.services.library import CONTACT_PLACEHOLDERS, ArticleWording, Library
from bot.services.library_files import ContentError, load_library
from tests.unit.test_library import TOPICS, write_article

WORDING = {
    "en": ArticleWording(medication_footer="<i>Ask your prescriber.</i>", see_also="see"),
    "es": ArticleWording(medication_footer="<i>Pregunte a quien le receta.</i>", see_also="vea"),
}
US = {"emergency_number": "911", "crisis_line": "988", "clinic_oncall_phone": "555-0100"}
SPAIN = {"emergency_number": "112", "crisis_line": "024", "clinic_oncall_phone": "555-0100"}
TOPICS_ES = [
    {"id": "opioid-medicines", "title": "Medicamentos para opioides", "description": "Opioides."},
    {"id": "dtms", "title": "TMS profunda", "description": "La estimulación magnética."},
    {"id": "safety", "title": "Estar a salvo", "description": "Sobredosis y naloxona."},
]
NALOXONE_ES = (
    "La naloxona revierte una sobredosis de opioides. Llame al {{ emergency_number }} primero.\n"
    "Si piensa en hacerse daño, llame o envíe un texto al {{crisis_line}}.\n"
    "Lea [la buprenorfina](article:buprenorphine)."
)


def translation(article_id: str, **changes: Any) -> dict[str, Any]:
    """Return front matter for a Spanish version, as the English fixture article has it."""
    base: dict[str, Any] = {
        "title": f"Título de {article_id}",
        "summary": f"Resumen de {article_id}.",
        "keywords": [f"{article_id} es"],
        "translated_from_version": 1,
    }
    return {**base, **changes}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """Return an articles folder with three originals and a Spanish naloxone article."""
    english = tmp_path / "en"
    spanish = tmp_path / "es"
    english.mkdir()
    spanish.mkdir()
    (english / "topics.yaml").write_text(yaml.safe_dump(TOPICS), encoding="utf-8")
    (spanish / "topics.yaml").write_text(yaml.safe_dump(TOPICS_ES), encoding="utf-8")
    write_article(
        english,
        "buprenorphine",
        "Buprenorphine eases withdrawal. Out of hours, call {{ clinic_oncall_phone }}.",
        title="Buprenorphine (Suboxone)",
        topic="opioid-medicines",
        kind="medication",
        applies_to=["buprenorphine"],
    )
    write_article(
        english,
        "naloxone-overdose",
        "Naloxone reverses an opioid overdose. Call {{ emergency_number }} first.",
        title="Naloxone and overdose",
        applies_to=["naloxone"],
        related=["buprenorphine"],
    )
    write_article(english, "dtms-basics", "Deep TMS uses an H-coil.", topic="dtms", kind="dtms")
    write_article(
        spanish,
        "naloxone-overdose",
        NALOXONE_ES,
        title="La naloxona y la sobredosis",
        summary="Cómo reconocer una sobredosis y dar naloxona.",
        keywords=["naloxona", "sobredosis", "narcan"],
        applies_to=["naloxone"],
        related=["buprenorphine"],
        translated_from_version=1,
    )
    return tmp_path


def load(root: Path, contacts: dict[str, dict[str, str]] | None = None) -> Library:
    """Load the library under root in English and Spanish."""
    return load_library(root, wording=WORDING, contacts=contacts)


def test_a_spanish_patient_sees_the_spanish_version_and_the_original_elsewhere(root: Path) -> None:
    """get() gives the Spanish version where one exists, else the English original."""
    library = load(root)
    assert library.locales == ("en", "es")
    spanish = library.get("naloxone-overdose", "es")
    assert spanish is not None
    assert (spanish.locale, spanish.title) == ("es", "La naloxona y la sobredosis")
    assert spanish.translated_from_version == "1"
    original = library.get("naloxone-overdose", "en")
    assert original is not None
    assert (original.locale, original.translated_from_version) == ("en", None)
    fallback = library.get("buprenorphine", "es")
    assert fallback is not None
    assert fallback.locale == "en"
    assert library.get("nothing-here", "es") is None
    assert library.original(spanish) is original


def test_topics_and_lists_are_in_the_patients_language(root: Path) -> None:
    """Topic titles, topic lists and "for you" use the Spanish titles, originals otherwise."""
    library = load(root)
    assert [t.title for t in library.topics("es")] == [t["title"] for t in TOPICS_ES]
    assert [t.title for t in library.topics("en")] == [t["title"] for t in TOPICS]
    assert [t.title for t in library.topics("fr")] == [t["title"] for t in TOPICS]
    assert [(a.id, a.locale) for a in library.articles_in("safety", "es")] == [
        ("naloxone-overdose", "es")
    ]
    chosen = library.for_patient(["Narcan", "Suboxone"], in_dtms=False, locale="es")
    assert [(a.id, a.locale) for a in chosen] == [
        ("buprenorphine", "en"),
        ("naloxone-overdose", "es"),
    ]


def test_versions_lists_every_language_of_every_article_original_first(root: Path) -> None:
    """versions() is what `companion content status` walks: originals, then translations."""
    assert [(a.id, a.locale) for a in load(root).versions()] == [
        ("buprenorphine", "en"),
        ("dtms-basics", "en"),
        ("naloxone-overdose", "en"),
        ("naloxone-overdose", "es"),
    ]


def test_links_in_a_translation_name_the_linked_article_in_its_language(root: Path) -> None:
    """An article: link reads "(vea …)" with the title the Spanish reader would be shown."""
    page = load(root).get("naloxone-overdose", "es")
    assert page is not None
    assert "la buprenorfina (vea “Buprenorphine (Suboxone)”)" in page.pages[0]


def test_a_spanish_medication_article_ends_with_the_spanish_footer(root: Path) -> None:
    """The footer of a medication article is the one for the article's language."""
    write_article(
        root / "es",
        "buprenorphine",
        "La buprenorfina calma la abstinencia.",
        title="Buprenorfina",
        topic="opioid-medicines",
        kind="medication",
        applies_to=["buprenorphine"],
        translated_from_version=1,
    )
    article = load(root).get("buprenorphine", "es")
    assert article is not None
    assert article.pages[-1].endswith("<i>Pregunte a quien le receta.</i>")


@pytest.mark.parametrize(
    ("values", "emergency", "crisis"), [(US, "911", "988"), (SPAIN, "112", "024")]
)
def test_pages_name_the_clinics_numbers_when_shown(
    root: Path, values: dict[str, str], emergency: str, crisis: str
) -> None:
    """Placeholders stay in the stored page and read as the settings' numbers when shown."""
    library = load(root, {"en": values, "es": values})
    spanish = library.get("naloxone-overdose", "es")
    assert spanish is not None
    assert "{{emergency_number}}" in spanish.pages[0]
    shown = library.page(spanish, 0)
    assert f"Llame al {emergency} primero." in shown
    assert f"envíe un texto al {crisis}." in shown
    assert "{{" not in shown


def test_numbers_are_escaped_and_an_unset_on_call_line_reads_as_given(root: Path) -> None:
    """A value is escaped for Telegram HTML; the wiring passes a phrase for an unset line."""
    odd = {**US, "clinic_oncall_phone": "your clinic's on-call number <ext. 2> & 3"}
    library = load(root, {"en": odd, "es": odd})
    article = library.get("buprenorphine", "en")
    assert article is not None
    assert "call your clinic's on-call number &lt;ext. 2&gt; &amp; 3." in library.page(article, 0)


def test_a_number_that_pushes_a_page_over_the_limit_is_refused_at_load(root: Path) -> None:
    """Pages are checked with the clinic's numbers in them, so a page never grows past 4096."""
    write_article(root / "en", "long", "x" * 4050 + " {{ emergency_number }}")
    load(root, {"en": US, "es": US})
    huge = {**US, "emergency_number": "9" * 60}
    with pytest.raises(ContentError, match=r"long\.md: page 1: 4111 characters"):
        load(root, {"en": huge, "es": huge})


def test_contacts_must_name_every_placeholder_in_every_language(root: Path) -> None:
    """Wiring that forgets a number or a language fails at once, not when a page is shown."""
    with pytest.raises(ValueError, match="contacts for 'es'"):
        load(root, {"en": US})
    with pytest.raises(ValueError, match="contacts for 'en'"):
        load(root, {"en": {"emergency_number": "911"}, "es": US})
    assert set(US) == set(CONTACT_PLACEHOLDERS)


def test_search_indexes_a_placeholder_as_its_words_not_a_number(root: Path) -> None:
    """The index holds "emergency number", never one clinic's 911."""
    library = load(root, {"en": US, "es": US})
    naloxone = library.get("naloxone-overdose", "en")
    assert naloxone is not None
    assert "emergency number" in naloxone.search_body
    assert "911" not in naloxone.search_body


def test_a_question_finds_an_article_in_either_language_and_shows_the_readers_version(
    root: Path,
) -> None:
    """Spanish words find the Spanish version; a Spanish reader gets it, an English one not."""
    library = load(root)
    spanish = library.search("¿qué hago con una sobredósis?", locale="es")
    assert [(hit.article.id, hit.article.locale) for hit in spanish][:1] == [
        ("naloxone-overdose", "es")
    ]
    english = library.search("naloxona", locale="en")
    assert [(hit.article.id, hit.article.locale) for hit in english] == [
        ("naloxone-overdose", "en")
    ]
    assert len({hit.article.id for hit in library.search("naloxone naloxona", limit=5)}) == len(
        library.search("naloxone naloxona", limit=5)
    ), "an article is found once, not once per language"


def _spanish(root: Path, body: str = "Texto.", **changes: Any) -> Path:
    """Write a Spanish dtms-basics that keeps the original's front matter but for changes."""
    meta = {"topic": "dtms", "kind": "dtms"} | translation("dtms-basics", **changes)
    return write_article(root / "es", "dtms-basics", body, **meta)


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"topic": "safety"}, "topic: must be as in the original dtms-basics.md ('dtms')"),
        ({"kind": "general"}, "kind: must be as in the original"),
        ({"sources": ["Another source"]}, "sources: must be as in the original"),
        ({"applies_to": ["dtms"]}, "applies_to: must be as in the original"),
        ({"related": ["buprenorphine"]}, "related: must be as in the original"),
        ({"translated_from_version": None}, "missing field(s): translated_from_version"),
    ],
)
def test_a_translation_must_keep_what_the_original_has(
    root: Path, changes: dict[str, Any], problem: str
) -> None:
    """Topic, kind, sources, applies_to and links are the original's; the version is named."""
    path = _spanish(root, **changes)
    with pytest.raises(ContentError) as caught:
        load(root)
    assert str(caught.value).startswith(f"{path}: ")
    assert problem in str(caught.value)


def test_a_translation_without_an_original_is_refused(root: Path) -> None:
    """A Spanish file whose name matches no English article is named, with the fix."""
    path = write_article(root / "es", "ghost", "Texto.", translated_from_version=1)
    with pytest.raises(ContentError, match="no original with the id 'ghost'") as caught:
        load(root)
    assert str(caught.value).startswith(str(path))


def test_spanish_topics_must_translate_every_topic(root: Path) -> None:
    """A missing or unknown topic in es/topics.yaml is refused naming that file."""
    topics = root / "es" / "topics.yaml"
    topics.write_text(yaml.safe_dump(TOPICS_ES[:2]), encoding="utf-8")
    with pytest.raises(ContentError, match=r"es/topics\.yaml: topic\(s\) safety not translated"):
        load(root)
    extra = [*TOPICS_ES, {"id": "extra", "title": "Extra", "description": "Más."}]
    topics.write_text(yaml.safe_dump(extra), encoding="utf-8")
    with pytest.raises(ContentError, match=r"topic\(s\) extra not in the original"):
        load(root)


def test_articles_in_a_language_the_bot_does_not_speak_are_refused(root: Path) -> None:
    """A folder of French articles would be ignored in silence, so it stops loading."""
    (root / "fr").mkdir()
    write_article(root / "fr", "naloxone-overdose", "Texte.")
    with pytest.raises(ContentError, match=r"fr: articles in a language the bot does not speak"):
        load(root)


def test_without_a_translation_folder_spanish_readers_get_the_originals(root: Path) -> None:
    """No es/ folder: every article and topic is shown in English to a Spanish reader."""
    for path in (root / "es").iterdir():
        path.unlink()
    (root / "es").rmdir()
    library = load(root)
    assert [t.title for t in library.topics("es")] == [t["title"] for t in TOPICS]
    assert {a.locale for a in library.all("es")} == {"en"}


def test_review_metadata_says_who_reviewed_and_when(root: Path) -> None:
    """reviewed_on and reviewed_by are read together; updated_on is kept apart."""
    write_article(
        root / "en",
        "dtms-basics",
        "Deep TMS uses an H-coil.",
        topic="dtms",
        kind="dtms",
        updated_on=date(2026, 11, 30),
        reviewed_on=date(2026, 12, 1),
        reviewed_by="Dr. Ana Rivera, MD",
    )
    article = load(root).get("dtms-basics")
    assert article is not None
    assert (article.reviewed_on, article.reviewed_by) == (date(2026, 12, 1), "Dr. Ana Rivera, MD")
    assert article.updated_on == date(2026, 11, 30)
