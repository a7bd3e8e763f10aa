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


def _module_names() -> dict[str, Path]:
    names: dict[str, Path] = {}
    for folder in ("bot", "scheduler"):
        for path in sources(folder):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            names[name] = path
    return names


def _project_imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """Return the project modules a file imports, type-only imports included.

    ``from bot.handlers import settings`` imports the module ``bot.handlers.settings``.
    """
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in modules else node.module)
    return {name for name in found if name in modules}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Return every strongly connected group of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_no_circle_of_imports_type_only_ones_included() -> None:
    """The modules form layers: no module reaches, even for a type, back to one above it."""
    modules = _module_names()
    graph = {name: _project_imports(path, modules) - {name} for name, path in modules.items()}
    assert _cycles(graph) == []


@pytest.mark.parametrize(
    ("folder", "forbidden"),
    [
        ("bot/services", ("bot.app", "bot.handlers", "bot.container", "scheduler")),
        ("bot/storage", ("bot.app", "bot.handlers", "bot.container", "bot.services", "scheduler")),
        ("bot/handlers", ("bot.app",)),
        ("scheduler", ("bot.app", "bot.handlers")),
    ],
)
def test_a_lower_layer_never_imports_a_higher_one(folder: str, forbidden: tuple[str, ...]) -> None:
    """Services and storage know nothing of the wiring; handlers and jobs get the container."""
    offenders = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in sources(folder)
        for module in sorted(imported_modules(path))
        if any(module == f or module.startswith(f + ".") for f in forbidden)
    ]
    assert offenders == []


def test_the_container_is_below_the_handlers_and_the_scheduler() -> None:
    """``bot.container`` builds the services; only ``bot.app`` puts handlers and jobs together."""
    container = imported_modules(ROOT / "bot" / "container.py")
    assert not [m for m in container if m.startswith(("bot.handlers", "scheduler", "bot.app"))]


MAX_MODULE_LINES = 550
# Modules allowed to be longer, each with its reason.
LONG_MODULES: dict[str, str] = {}


def test_no_module_is_over_550_lines() -> None:
    """A module stays small enough to read whole; what is data lives in content/ as data."""
    lengths = {
        str(path.relative_to(ROOT)): len(path.read_text(encoding="utf-8").splitlines())
        for folder in ("bot", "scheduler")
        for path in sources(folder)
    }
    too_long = {
        name: lines
        for name, lines in sorted(lengths.items())
        if lines > MAX_MODULE_LINES and name not in LONG_MODULES
    }
    assert too_long == {}
    assert set(LONG_MODULES) <= set(lengths), "an exception names a module that is gone"
