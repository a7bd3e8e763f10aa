"""Reading the YAML of content/: libyaml's safe loader where PyYAML has it.

Start-up reads about sixty YAML files (message templates, articles' front matter, the crisis
and guardrail phrase lists); PyYAML's pure-Python scanner and parser made that most of a
second. The C parser builds the same values: the constructor, which decides what a scalar
becomes, is the same safe one either way.
"""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["LOADER", "safe_load"]

LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load(text: str) -> Any:
    """Parse one YAML document with the safe loader (no Python objects)."""
    return yaml.load(text, Loader=LOADER)  # noqa: S506 - a safe loader, C or Python
