"""The /mydata export as a page a person can read: the JSON's content, one table per section.

The page is rendered from ``content/reports/<locale>/mydata.html.j2`` with autoescaping (a
stored value can never become markup) and ``StrictUndefined``. It is self-contained: styles are
inline and a Content-Security-Policy forbids loading anything, so it opens offline and tells no
server that it was opened.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateError

from bot.services.privacy import DataExport
from bot.services.reports import ReportTemplateError
from bot.texts import DEFAULT_LOCALE, LOCALES

TEMPLATE = "mydata.html.j2"


@dataclass(frozen=True, slots=True)
class Section:
    """One table of the page: a name, its column headings and its rows as text."""

    name: str
    columns: list[str]
    rows: list[list[str]]


class ExportPageRenderer:
    """Renders a ``DataExport`` as an HTML page in the patient's language."""

    def __init__(self, reports_root: Path, *, clinic_name: str) -> None:
        self._clinic = clinic_name
        self._env = Environment(
            loader=FileSystemLoader(str(reports_root)),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def check(self) -> None:
        """Load every locale's template (start-up fails on a broken one)."""
        for locale in LOCALES:
            name = f"{locale}/{TEMPLATE}"
            try:
                self._env.get_template(name)
            except TemplateError as exc:
                msg = f"{name}: {exc}"
                raise ReportTemplateError(msg) from exc

    @staticmethod
    def filename(export: DataExport) -> str:
        """Return the page's file name, beside the JSON file's."""
        return export.filename.removesuffix(".json") + ".html"

    def render(self, export: DataExport) -> bytes:
        """Return the page as UTF-8 HTML."""
        document = export.document
        locale = export.locale if export.locale in LOCALES else DEFAULT_LOCALE
        patient = document.get("patient", {})
        index_columns = ["table", "contents", "linked_by", "rows", "withheld", "encrypted"]
        index_rows = [
            [
                name,
                _text(entry.get("contents")),
                _text(entry.get("linked_by")),
                _text(entry.get("rows")),
                _text(entry.get("withheld_columns")),
                _text(entry.get("encrypted_columns")),
            ]
            for name, entry in document.get("tables", {}).items()
        ]
        page = self._env.get_template(f"{locale}/{TEMPLATE}").render(
            clinic=self._clinic,
            label=export.label,
            generated=_text(document.get("generated_at")),
            format=_text(document.get("format")),
            version=_text(document.get("version")),
            profile=[[key, _text(value)] for key, value in patient.items()],
            sections=[_section(name, rows) for name, rows in document.get("data", {}).items()],
            index=Section("tables", index_columns, index_rows),
        )
        return page.encode("utf-8")


def _section(name: str, rows: list[dict[str, Any]]) -> Section:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    return Section(name, columns, [[_text(row.get(c)) for c in columns] for row in rows])


def _text(value: Any) -> str:
    """Show a JSON value as text: nested values as compact JSON, nothing as empty."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
