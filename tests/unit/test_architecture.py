"""The layering rules of DESIGN.md, checked on the source so they cannot erode quietly."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def imported_modules(path: Path) -> set[str]:
    """Return every module a file imports (absolute names)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def sources(folder: str) -> list[Path]:
    """Return the Python files under a package folder."""
    return sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("folder", ["bot/services", "bot/storage"])
def test_services_and_storage_never_import_telegram(folder: str) -> None:
    """Use cases and SQL know nothing of Telegram."""
    offenders = [
        path.name
        for path in sources(folder)
        if any(m == "telegram" or m.startswith("telegram.") for m in imported_modules(path))
    ]
    assert offenders == []


def test_scheduler_never_imports_handlers() -> None:
    """Jobs call services, never the chat handlers."""
    offenders = [
        path.name
        for path in sources("scheduler")
        if any(m.startswith("bot.handlers") for m in imported_modules(path))
    ]
    assert offenders == []


def test_only_config_reads_the_environment() -> None:
    """Settings are read in one place; no module reaches for os.environ or getenv."""
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("bot", "scheduler")
        for path in sources(folder)
        if path.name != "config.py"
        and ("os.environ" in path.read_text() or "getenv(" in path.read_text())
    ]
    assert offenders == []


def test_sql_lives_in_storage() -> None:
    """Handlers and services hand SQL to repositories instead of writing it themselves."""
    keywords = ("SELECT ", "INSERT INTO", "UPDATE ", "DELETE FROM")
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("bot/handlers", "bot/services", "scheduler")
        for path in sources(folder)
        if any(f'"{keyword}' in path.read_text() for keyword in keywords)
    ]
    assert offenders == []
