"""The C loader reads every content file exactly as the pure-Python safe loader does."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot import yamlfile

CONTENT = Path(__file__).resolve().parents[2] / "content"
FILES = sorted(CONTENT.rglob("*.yaml"))


def front_matter(path: Path) -> list[str]:
    """Return the front matter of every article, as the library reads it."""
    texts = []
    for article in sorted(path.rglob("*.md")):
        lines = article.read_text(encoding="utf-8").splitlines()
        if lines and lines[0] == "---":
            end = lines.index("---", 1)
            texts.append("\n".join(lines[1:end]))
    return texts


def test_the_fast_loader_is_used_where_pyyaml_has_it() -> None:
    assert yamlfile.LOADER is getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(CONTENT)))
def test_each_content_file_reads_the_same(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert yamlfile.safe_load(text) == yaml.load(text, Loader=yaml.SafeLoader)


def test_each_articles_front_matter_reads_the_same() -> None:
    texts = front_matter(CONTENT / "articles")
    assert len(texts) > 20
    for text in texts:
        assert yamlfile.safe_load(text) == yaml.load(text, Loader=yaml.SafeLoader)


def test_a_broken_file_still_names_its_line() -> None:
    with pytest.raises(yaml.MarkedYAMLError) as caught:
        yamlfile.safe_load("a: 1\nb: [2, 3\nc: 4\n")
    assert caught.value.problem_mark is not None
