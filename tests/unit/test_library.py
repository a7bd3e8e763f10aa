"""Tests for loading, validating and rendering the psychoeducation library."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.markup import check_telegram_html, render_inline
from bot.services.library import ArticleWording, Library
from bot.services.library_files import ContentError, load_library

FOOTER = "<i>Talk to your prescriber before changing anything.</i>"
TOPICS = [
    {"id": "opioid-medicines", "title": "Opioid medicines", "description": "For opioid use."},
    {"id": "dtms", "title": "Deep TMS", "description": "The magnetic stimulation treatment."},
    {"id": "safety", "title": "Staying safe", "description": "Overdose and naloxone."},
]


def front_matter(article_id: str, **changes: Any) -> dict[str, Any]:
    """Return valid front matter for an article, with fields changed or removed (None)."""
    meta: dict[str, Any] = {
        "id": article_id,
        "title": f"Title of {article_id}",
        "topic": "safety",
        "kind": "general",
        "summary": f"Summary of {article_id}.",
        "keywords": [article_id],
        "applies_to": [],
        "sources": ["SAMHSA Overdose Prevention Toolkit"],
        "updated_on": date(2026, 11, 26),
        "version": 1,
    }
    meta.update(changes)
    return {key: value for key, value in meta.items() if value is not None}


def write_article(directory: Path, article_id: str, body: str, **changes: Any) -> Path:
    """Write one article file with front matter and body; return its path."""
    path = directory / f"{article_id}.md"
    meta = yaml.safe_dump(front_matter(article_id, **changes), sort_keys=False)
    path.write_text(f"---\n{meta}---\n{body}\n", encoding="utf-8")
    return path


@pytest.fixture
def articles_dir(tmp_path: Path) -> Path:
    """Return the English folder (en/) of a small valid library."""
    english = tmp_path / "articles" / "en"
    english.mkdir(parents=True)
    (english / "topics.yaml").write_text(yaml.safe_dump(TOPICS), encoding="utf-8")
    write_article(
        english,
        "buprenorphine",
        "## How it works\nBuprenorphine is a **partial** opioid agonist.\n\n"
        "- It eases withdrawal\n- See [naloxone](article:naloxone-overdose)\n"
        "<!-- page -->\nTaken too soon it can cause _precipitated withdrawal_.",
        title="Buprenorphine (Suboxone)",
        topic="opioid-medicines",
        kind="medication",
        applies_to=["buprenorphine"],
        related=["naloxone-overdose"],
    )
    write_article(
        english,
        "naloxone-overdose",
        "Naloxone reverses an opioid overdose. Call 911 first.",
        title="Naloxone and overdose",
        applies_to=["naloxone"],
    )
    write_article(
        english,
        "dtms-basics",
        "Deep TMS uses an H-coil in a helmet.",
        title="What is deep TMS?",
        topic="dtms",
        kind="dtms",
        applies_to=["dtms"],
    )
    return english


WORDING = {"en": ArticleWording(medication_footer=FOOTER, see_also="see")}


def load(english: Path, **options: Any) -> Library:
    """Load the library whose English folder is english, with the test footer."""
    return load_library(english.parent, wording=options.pop("wording", WORDING), **options)


def test_valid_library_loads_topics_in_order_and_articles_by_topic(articles_dir: Path) -> None:
    """A valid directory loads with topics in file order and articles grouped by topic."""
    library = load(articles_dir)
    assert [topic.id for topic in library.topics()] == ["opioid-medicines", "dtms", "safety"]
    assert [a.id for a in library.all()] == ["buprenorphine", "dtms-basics", "naloxone-overdose"]
    assert [a.id for a in library.articles_in("dtms")] == ["dtms-basics"]
    assert library.articles_in("no-such-topic") == []
    article = library.get("buprenorphine")
    assert article is not None
    assert article.updated_on == date(2026, 11, 26)
    assert (article.reviewed_on, article.reviewed_by) == (None, None)
    assert article.version == "1"
    assert article.locale == "en"
    assert article.related == ("naloxone-overdose",)
    assert article.path == articles_dir / "buprenorphine.md"
    assert library.get("missing") is None


def test_markdown_is_rendered_to_telegram_html_pages(articles_dir: Path) -> None:
    """Subheadings, bold, italic, bullets and page breaks become Telegram HTML pages."""
    article = load(articles_dir).get("buprenorphine")
    assert article is not None
    assert article.pages[0] == (
        "<b>How it works</b>\nBuprenorphine is a <b>partial</b> opioid agonist.\n\n"
        "• It eases withdrawal\n• See naloxone (see “Naloxone and overdose”)"
    )
    assert article.pages[1] == (
        f"Taken too soon it can cause <i>precipitated withdrawal</i>.\n\n{FOOTER}"
    )


def test_medication_footer_is_added_only_to_the_last_page_of_medication_articles(
    articles_dir: Path,
) -> None:
    """The footer ends every medication article and no other kind of article."""
    library = load(articles_dir)
    for article in library.all():
        has_footer = [FOOTER in page for page in article.pages]
        if article.kind == "medication":
            assert has_footer == [False] * (len(article.pages) - 1) + [True]
        else:
            assert not any(has_footer)


def test_renderer_escapes_html_before_adding_markup() -> None:
    """Angle brackets and ampersands in text are escaped; only our own tags remain."""
    rendered = render_inline("<script>alert(1)</script> & **bold** <b>", {})
    assert rendered == "&lt;script&gt;alert(1)&lt;/script&gt; &amp; <b>bold</b> &lt;b&gt;"


def test_italic_needs_word_boundaries_so_snake_case_and_urls_survive() -> None:
    """Underscores inside words and URLs are left alone; _word_ becomes italic."""
    rendered = render_inline(
        "keep snake_case_name and https://example.com/a_b_c but _this_ is italic", {}
    )
    assert rendered == (
        "keep snake_case_name and https://example.com/a_b_c but <i>this</i> is italic"
    )


def test_links_become_anchors_and_internal_links_name_the_other_article() -> None:
    """External links keep an escaped href; article: links show the linked title."""
    rendered = render_inline(
        "[Toolkit](https://example.org/kit?a=1&b=_x_) and [more](article:other)",
        {"other": "Naloxone & overdose"},
    )
    assert rendered == (
        '<a href="https://example.org/kit?a=1&amp;b=_x_">Toolkit</a> and '
        "more (see “Naloxone &amp; overdose”)"
    )


def test_bold_link_nests_properly() -> None:
    """Emphasis around a link produces properly nested tags."""
    rendered = render_inline("**[Call](https://example.org)** now", {})
    assert rendered == '<b><a href="https://example.org">Call</a></b> now'
    check_telegram_html(rendered)


Mutation = Callable[[Path], None]


def _set(article_id: str, body: str = "Plain text.", **changes: Any) -> Mutation:
    def mutate(directory: Path) -> None:
        write_article(directory, article_id, body, **changes)

    return mutate


def _raw(article_id: str, text: str) -> Mutation:
    def mutate(directory: Path) -> None:
        (directory / f"{article_id}.md").write_text(text, encoding="utf-8")

    return mutate


INVALID: list[tuple[str, Mutation, str, str]] = [
    ("no-source", _set("methadone", sources=[]), "methadone", "sources: at least one source"),
    ("id-not-file-name", _set("methadone", id="methadon"), "methadone", "must equal the file"),
    ("bad-id", _set("Methadone", id="Methadone"), "Methadone", "id: 'Methadone' must be"),
    ("unknown-topic", _set("methadone", topic="nope"), "methadone", "topic: 'nope' is not"),
    ("bad-kind", _set("methadone", kind="drug"), "methadone", "kind: 'drug' must be one of"),
    ("bad-date", _set("methadone", updated_on="soon"), "methadone", "updated_on: 'soon'"),
    (
        "review-date-alone",
        _set("methadone", reviewed_on=date(2026, 11, 26)),
        "methadone",
        "reviewed_on needs reviewed_by",
    ),
    (
        "reviewer-alone",
        _set("methadone", reviewed_by="Dr. Ana Rivera"),
        "methadone",
        "reviewed_by needs reviewed_on",
    ),
    (
        "empty-reviewer",
        _set("methadone", reviewed_by=" ", reviewed_on=date(2026, 11, 26)),
        "methadone",
        "reviewed_by: a non-empty string",
    ),
    ("no-update-date", _set("methadone", updated_on=None), "methadone", "field(s): updated_on"),
    (
        "unknown-placeholder",
        _set("methadone", "Call {{ police_number }} now."),
        "methadone",
        "unknown placeholder {{ police_number }}",
    ),
    (
        "stray-braces",
        _set("methadone", "Call {{ emergency_number now."),
        "methadone",
        "a '{{' or '}}' that is not a placeholder",
    ),
    (
        "placeholder-in-title",
        _set("methadone", title="Call {{ emergency_number }}"),
        "methadone",
        "title: placeholders are allowed in the body only",
    ),
    (
        "translation-field-in-original",
        _set("methadone", translated_from_version=1),
        "methadone",
        "unknown field(s): translated_from_version",
    ),
    ("missing-version", _set("methadone", version=None), "methadone", "missing field(s): version"),
    ("empty-title", _set("methadone", title=" "), "methadone", "title: a non-empty string"),
    ("keywords-not-list", _set("methadone", keywords="x"), "methadone", "keywords: a list"),
    ("unknown-field", _set("methadone", releated=["x"]), "methadone", "unknown field(s): releated"),
    ("bad-related", _set("methadone", related=["ghost"]), "methadone", "related: no article"),
    (
        "bad-applies-to",
        _set("methadone", applies_to=["unicorn dust"]),
        "methadone",
        "applies_to: 'unicorn dust' is neither dtms nor",
    ),
    (
        "bad-internal-link",
        _set("methadone", "See [this](article:ghost)."),
        "methadone",
        "link to article:ghost: no article",
    ),
    (
        "bad-link-scheme",
        _set("methadone", "[x](mailto:team@example.org)"),
        "methadone",
        "must be http(s):// or article:",
    ),
    (
        "malformed-link",
        _set("methadone", "[x](javascript:alert(1))"),
        "methadone",
        "malformed link",
    ),
    ("unbalanced-bold", _set("methadone", "A **bold claim."), "methadone", "unbalanced '**'"),
    ("h1-heading", _set("methadone", "# Big title\nText."), "methadone", "only '## ' subheadings"),
    (
        "empty-page",
        _set("methadone", "One.\n<!-- page -->\n\n<!-- page -->\nThree."),
        "methadone",
        "page 2: the page is empty",
    ),
    ("empty-body", _set("methadone", "  "), "methadone", "has no body text"),
    ("no-front-matter", _raw("methadone", "Just text.\n"), "methadone", "must start with a '---'"),
    (
        "unclosed-front-matter",
        _raw("methadone", "---\nid: methadone\n"),
        "methadone",
        "no closing '---'",
    ),
    (
        "invalid-yaml",
        _raw("methadone", "---\nid: [methadone\n---\nText.\n"),
        "methadone",
        "front matter: invalid YAML",
    ),
    (
        "front-matter-not-mapping",
        _raw("methadone", "---\n- a\n---\nText.\n"),
        "methadone",
        "front matter: must be a YAML mapping",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "file_stem", "problem"),
    [case[1:] for case in INVALID],
    ids=[case[0] for case in INVALID],
)
def test_each_content_fault_raises_an_error_naming_the_file_and_problem(
    articles_dir: Path, mutate: Mutation, file_stem: str, problem: str
) -> None:
    """A broken article stops loading with a message naming its file and what is wrong."""
    mutate(articles_dir)
    with pytest.raises(ContentError) as caught:
        load(articles_dir)
    message = str(caught.value)
    assert message.startswith(f"{articles_dir / file_stem}.md: ")
    assert problem in message


def test_missing_source_message_has_the_documented_form(articles_dir: Path) -> None:
    """The error reads '<path>: sources: at least one source is required'."""
    path = write_article(articles_dir, "methadone", "Text.", sources=[])
    with pytest.raises(ContentError, match=re.escape(f"{path}: sources: at least one source")):
        load(articles_dir)


def test_page_too_long_for_telegram_is_rejected(articles_dir: Path) -> None:
    """A page over 4,096 characters after formatting is rejected naming file and page."""
    path = write_article(articles_dir, "long", "Short first page.\n<!-- page -->\n" + "x" * 4097)
    with pytest.raises(ContentError) as caught:
        load(articles_dir)
    assert str(caught.value).startswith(f"{path}: page 2: 4097 characters")
    assert "4096" in str(caught.value)


def test_page_length_counts_visible_text_not_markup(articles_dir: Path) -> None:
    """Tags and entities do not count toward the limit; a 4,096-character page loads."""
    write_article(articles_dir, "exact", "**" + "&" * 4000 + "**" + "y" * 96)
    article = load(articles_dir).get("exact")
    assert article is not None
    assert len(article.pages[0]) > 4096


def test_footer_that_pushes_the_last_page_over_the_limit_is_rejected(articles_dir: Path) -> None:
    """The length check runs after the footer is added to medication articles."""
    path = write_article(articles_dir, "near-limit", "z" * 4090, kind="medication")
    with pytest.raises(ContentError, match=re.escape(f"{path}: page 1:")):
        load(articles_dir)


def test_footer_with_unsupported_html_is_rejected(articles_dir: Path) -> None:
    """A footer using a tag Telegram does not accept fails on the first medication article."""
    with pytest.raises(ContentError, match=r"buprenorphine\.md: page 2: tag <br> is not supported"):
        load(articles_dir, wording={"en": ArticleWording("Ask first.<br>", "see")})


def test_missing_topics_file_is_named(tmp_path: Path) -> None:
    """Without topics.yaml loading fails naming that file."""
    (tmp_path / "en").mkdir()
    write_article(tmp_path / "en", "a", "Text.")
    with pytest.raises(ContentError, match=r"topics\.yaml: cannot read"):
        load(tmp_path / "en")


def test_duplicate_topic_id_is_rejected(articles_dir: Path) -> None:
    """Two topics with the same id are rejected naming topics.yaml."""
    (articles_dir / "topics.yaml").write_text(yaml.safe_dump(TOPICS + TOPICS[:1]))
    with pytest.raises(ContentError, match=r"topics\.yaml: topic 4: id: 'opioid-medicines'"):
        load(articles_dir)


def test_lexicon_alias_mapped_to_two_terms_is_rejected(articles_dir: Path) -> None:
    """An alias claimed by two canonical terms is rejected naming the lexicon file."""
    lexicon = articles_dir / "lexicon.yaml"
    lexicon.write_text(
        yaml.safe_dump({"medications": {"methadone": ["done"], "buprenorphine": ["done"]}})
    )
    with pytest.raises(ContentError, match=r"lexicon\.yaml: medications: alias 'done'"):
        load(articles_dir)


@pytest.mark.parametrize(
    ("html", "problem"),
    [
        ("<b>bold <i>both</b></i>", "</b> found where </i> was expected"),
        ("<b>never closed", "<b> is never closed"),
        ("<span>x</span>", "tag <span> is not supported"),
        ('<a href="javascript:x">x</a>', "<a> needs one http(s) href"),
        ("<a href='https://a.example'><a href='https://b.example'>x</a></a>", "cannot be nested"),
        ("fish & chips", "bare '&'"),
        ("&nbsp;", "bare '&' or an unsupported entity"),
        ("1 < 2", "bare '<' or '>'"),
        ("<b> </b>", "no visible text"),
    ],
)
def test_html_outside_telegrams_subset_is_rejected(html: str, problem: str) -> None:
    """Telegram's HTML rules (tags, nesting, entities, non-empty) are enforced."""
    with pytest.raises(ValueError, match=re.escape(problem)):
        check_telegram_html(html)


def test_telegram_length_counts_utf16_units() -> None:
    """Characters outside the basic plane count twice, as Telegram counts them."""
    check_telegram_html("🙂" * 2048)
    with pytest.raises(ValueError, match="4098 characters"):
        check_telegram_html("🙂" * 2049)


def test_patient_articles_follow_prescriber_typed_medication_names(articles_dir: Path) -> None:
    """Medication names as a prescriber typed them select the matching articles, plus dTMS."""
    library = load(articles_dir)
    chosen = library.for_patient(["Suboxone 8/2 mg film", "Vitamin D"], in_dtms=False)
    assert [a.id for a in chosen] == ["buprenorphine"]
    chosen = library.for_patient(["Narcan 4mg nasal spray"], in_dtms=True)
    assert [a.id for a in chosen] == ["dtms-basics", "naloxone-overdose"]
    assert library.for_patient([], in_dtms=False) == []


@pytest.mark.parametrize(
    ("typed", "generic"),
    [
        ("Suboxone 8/2 mg film", "buprenorphine"),
        ("SUBLOCADE 300mg monthly", "buprenorphine"),
        ("Methadose 10 mg/mL", "methadone"),
        ("Vivitrol 380 mg IM", "naltrexone"),
        ("Antabuse", "disulfiram"),
        ("Champix 1mg", "varenicline"),
        ("Zyban SR 150", "bupropion"),
        ("Kloxxado", "naloxone"),
        ("Campral 333 mg", "acamprosate"),
        ("nicotine patch 21 mg", "nicotine replacement"),
        ("buprenorfina", "buprenorphine"),
        ("suboxon", "buprenorphine"),
        ("Vitamin D 1000 IU", None),
        ("", None),
    ],
)
def test_medication_names_normalise_to_generic_names(
    articles_dir: Path, typed: str, generic: str | None
) -> None:
    """Brand names, doses, misspellings and Spanish names map to one generic name."""
    assert load(articles_dir).normalise_medication(typed) == generic


def test_bundled_lexicon_is_used_when_the_directory_has_none(articles_dir: Path) -> None:
    """Without a local lexicon.yaml the library falls back to the bundled lexicon."""
    assert not (articles_dir / "lexicon.yaml").exists()
    assert load(articles_dir).lexicon.normalise_medication("Antabuse") == "disulfiram"
