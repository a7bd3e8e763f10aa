"""The bot works when installed from its wheel, where content/ ships inside the package."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
from bot.app import build_application
from bot.config import load_settings
from bot.services.safety import assess
from bot.texts import content_root

assert content_root().name == "_content", content_root()
build_application(load_settings(telegram_bot_token="1:x", database_path="db.sqlite3"))
signal = assess("my friend isnt breathing and his lips are blue").signal
assert signal is not None and signal.category == "overdose", signal
print("ok")
"""


def test_an_installed_bot_finds_its_content_inside_the_package(tmp_path: Path) -> None:
    """Lay the package out as the wheel does (``content`` as ``bot/_content``) and use it."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    mapping = config["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    site = tmp_path / "site-packages"
    shutil.copytree(ROOT / "bot", site / "bot", ignore=shutil.ignore_patterns("__pycache__"))
    for source, target in mapping.items():
        shutil.copytree(ROOT / source, site / target)
    result = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(site)!r})\n{PROBE}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")
