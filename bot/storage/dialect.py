"""Where SQLite and PostgreSQL spell the same thing differently, side by side.

The repositories write SQL once, in SQLite's dialect, with ``?`` or ``:name`` parameters. Most
of it is standard SQL that PostgreSQL runs as it is; ``to_postgresql`` rewrites the rest, and
every construct it rewrites is in ``REWRITES`` below, the SQLite form beside its PostgreSQL
form. A construct that is neither standard nor listed here fails loudly on PostgreSQL in the
suite, which runs the storage and integration tests on both engines.

The catalog queries (which tables exist, their columns and foreign keys) differ too much to
rewrite and are given whole for each engine in ``CATALOG``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Final

from bot.storage.db import Engine


@dataclass(frozen=True, slots=True)
class Rewrite:
    """One SQLite construct and its PostgreSQL form."""

    why: str
    sqlite: re.Pattern[str]
    postgresql: str


REWRITES: Final[tuple[Rewrite, ...]] = (
    Rewrite(
        "a list of ids is one JSON array parameter; json_ids() is defined by migration 0001",
        re.compile(r"\bjson_each\(\?\)"),
        "json_ids(?::json)",
    ),
    Rewrite(
        "a parameter only tested for NULL has no type PostgreSQL can infer",
        re.compile(r"(?<![\w.)])\?( IS (?:NOT )?NULL\b)"),
        r"?::text\1",
    ),
    Rewrite(
        "an index named for SQLite's planner; PostgreSQL's planner picks its own",
        re.compile(r"\s+INDEXED BY \w+"),
        "",
    ),
    Rewrite(
        "case-insensitive ordering and comparison",
        re.compile(r"\b((?:\w+\.)?\w+) COLLATE NOCASE\b"),
        r"lower(\1)",
    ),
    Rewrite(
        "a random 128-bit key as 32 hex digits",
        re.compile(r"\blower\(hex\(randomblob\(16\)\)\)"),
        "replace(gen_random_uuid()::text, '-', '')",
    ),
)

# "INSERT OR IGNORE INTO t ..." is "INSERT INTO t ... ON CONFLICT DO NOTHING".
_INSERT_OR_IGNORE: Final = re.compile(r"^\s*INSERT OR IGNORE INTO\b", re.IGNORECASE)
_INSERT_INTO: Final = re.compile(r"^\s*INSERT\s+INTO\s+(\w+)", re.IGNORECASE)
_RETURNING: Final = re.compile(r"\bRETURNING\b", re.IGNORECASE)

# Tables whose rows have an ``id`` assigned on insert: SQLite reports it as ``lastrowid``,
# PostgreSQL returns it when asked (``RETURNING id``).
TABLES_WITH_ID: Final = frozenset(
    {
        "alerts",
        "appointments",
        "audit_log",
        "checkins",
        "clinicians",
        "consents",
        "deliveries",
        "invites",
        "medications",
        "patients",
        "tms_courses",
    }
)


@dataclass(frozen=True, slots=True)
class Translated:
    """A statement ready for PostgreSQL, and whether it was given ``RETURNING id``."""

    sql: str
    returns_id: bool


@functools.lru_cache(maxsize=4096)
def to_postgresql(sql: str) -> Translated:
    """Return SQLite-dialect SQL as PostgreSQL runs it (cached: the texts are constants)."""
    text = sql
    for rewrite in REWRITES:
        text = rewrite.sqlite.sub(rewrite.postgresql, text)
    ignore = _INSERT_OR_IGNORE.match(text) is not None
    if ignore:
        text = _INSERT_OR_IGNORE.sub("INSERT INTO", text, count=1)
        text = _before_returning(text, " ON CONFLICT DO NOTHING")
    returns_id = False
    insert = _INSERT_INTO.match(text)
    if insert and insert.group(1) in TABLES_WITH_ID and not _RETURNING.search(text):
        text = f"{text.rstrip().rstrip(';')} RETURNING id"
        returns_id = True
    return Translated(_placeholders(text), returns_id)


def _before_returning(text: str, clause: str) -> str:
    found = _RETURNING.search(text)
    if found is None:
        return text.rstrip().rstrip(";") + clause
    return text[: found.start()].rstrip() + clause + " " + text[found.start() :]


def _placeholders(text: str) -> str:
    """``?`` becomes ``%s``, ``:name`` becomes ``%(name)s`` and ``%`` becomes ``%%``, outside
    quoted strings, quoted names and comments; ``::type`` casts are left alone."""
    out: list[str] = []
    i = 0
    length = len(text)
    while i < length:
        char = text[i]
        if char in "'\"":
            end = text.find(char, i + 1)
            while end != -1 and end + 1 < length and text[end + 1] == char:
                end = text.find(char, end + 2)
            end = length - 1 if end == -1 else end
            out.append(text[i : end + 1].replace("%", "%%"))
            i = end + 1
        elif text.startswith("--", i):
            end = text.find("\n", i)
            end = length if end == -1 else end
            out.append(text[i:end].replace("%", "%%"))
            i = end
        elif char == "?":
            out.append("%s")
            i += 1
        elif char == "%":
            out.append("%%")
            i += 1
        elif char == ":" and text.startswith("::", i):
            out.append("::")
            i += 2
        elif char == ":" and i + 1 < length and (text[i + 1].isalpha() or text[i + 1] == "_"):
            j = i + 1
            while j < length and (text[j].isalnum() or text[j] == "_"):
                j += 1
            out.append(f"%({text[i + 1 : j]})s")
            i = j
        else:
            out.append(char)
            i += 1
    return "".join(out)


@dataclass(frozen=True, slots=True)
class Catalog:
    """The queries that list tables, a table's columns (``name``, ``pk``) and its foreign keys
    (``from``, ``table``, ``to``); the last two take ``:table``."""

    tables: str
    columns: str
    foreign_keys: str
    row_identity: str  # what names a row of a table without a one-column primary key


CATALOG: Final[dict[Engine, Catalog]] = {
    "sqlite": Catalog(
        tables="SELECT name FROM sqlite_master WHERE type = 'table' "
        "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
        columns="SELECT name, pk FROM pragma_table_info(:table)",
        foreign_keys='SELECT "from", "table", "to" FROM pragma_foreign_key_list(:table)',
        row_identity="rowid",
    ),
    "postgresql": Catalog(
        tables="SELECT table_name AS name FROM information_schema.tables "
        "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY name",
        columns="SELECT a.attname AS name, "
        "CASE WHEN a.attnum = ANY (i.indkey) THEN 1 ELSE 0 END AS pk "
        "FROM pg_attribute a "
        "LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary "
        "WHERE a.attrelid = to_regclass(:table) AND a.attnum > 0 AND NOT a.attisdropped "
        "ORDER BY a.attnum",
        foreign_keys='SELECT src.attname AS "from", ref.relname AS "table", '
        'dst.attname AS "to" '
        "FROM pg_constraint c "
        "CROSS JOIN LATERAL unnest(c.conkey, c.confkey) AS k(src_num, dst_num) "
        "JOIN pg_attribute src ON src.attrelid = c.conrelid AND src.attnum = k.src_num "
        "JOIN pg_attribute dst ON dst.attrelid = c.confrelid AND dst.attnum = k.dst_num "
        "JOIN pg_class ref ON ref.oid = c.confrelid "
        "WHERE c.contype = 'f' AND c.conrelid = to_regclass(:table) "
        "ORDER BY c.conname, src.attnum",
        row_identity="ctid",
    ),
}


# Claiming due deliveries. Both forms take, per chat, the most urgent due row of a chat that has
# no send of that urgency under way, and mark it 'sending' for this worker. PostgreSQL's also
# locks the rows it takes and skips rows another worker is taking at that moment (FOR UPDATE
# SKIP LOCKED), and checks the status again on the locked row: two workers claiming at once
# take different rows, never the same one. SQLite has one writer at a time, so its claim
# cannot race. Parameters: worker, now, most (the least urgent priority taken), limit.
CLAIM_DUE: Final[dict[Engine, str]] = {
    "sqlite": (
        "UPDATE deliveries SET status = 'sending', attempts = attempts + 1, "
        "claimed_by = :worker WHERE id IN (SELECT id FROM (SELECT id, chat_id, priority, "
        "due_at, ROW_NUMBER() OVER (PARTITION BY chat_id ORDER BY priority, due_at, id) AS rn "
        "FROM deliveries WHERE status = 'pending' AND due_at <= :now AND priority <= :most) "
        "AS due WHERE rn = 1 AND chat_id NOT IN "
        "(SELECT chat_id FROM deliveries WHERE status = 'sending' AND priority <= :most) "
        "ORDER BY priority, due_at, id LIMIT :limit) RETURNING *"
    ),
    # The rows are picked once, in a CTE: a LIMIT inside "WHERE id IN (...)" may be run
    # again per row by PostgreSQL's planner and take more than the limit.
    "postgresql": (
        "WITH picked AS (SELECT id FROM deliveries WHERE status = 'pending' AND id IN "
        "(SELECT id FROM (SELECT id, chat_id, priority, due_at, "
        "ROW_NUMBER() OVER (PARTITION BY chat_id ORDER BY priority, due_at, id) AS rn "
        "FROM deliveries WHERE status = 'pending' AND due_at <= :now AND priority <= :most) "
        "AS due WHERE rn = 1 AND chat_id NOT IN "
        "(SELECT chat_id FROM deliveries WHERE status = 'sending' AND priority <= :most)) "
        "ORDER BY priority, due_at, id LIMIT :limit FOR UPDATE SKIP LOCKED) "
        "UPDATE deliveries AS d SET status = 'sending', attempts = d.attempts + 1, "
        "claimed_by = :worker FROM picked WHERE d.id = picked.id AND d.status = 'pending' "
        "RETURNING d.*"
    ),
}

# Claiming due repeats: the row's next repeat is moved to the end of a lease, so another worker
# takes it only if this one dies before it is sent. Parameters: lease (its end), now, limit.
CLAIM_REPEATS: Final[dict[Engine, str]] = {
    "sqlite": (
        "UPDATE deliveries SET next_repeat_at = :lease WHERE id IN (SELECT id FROM deliveries "
        "WHERE status = 'sent' AND next_repeat_at IS NOT NULL AND next_repeat_at <= :now "
        "ORDER BY next_repeat_at, id LIMIT :limit) RETURNING *"
    ),
    "postgresql": (
        "WITH picked AS (SELECT id FROM deliveries WHERE status = 'sent' "
        "AND next_repeat_at IS NOT NULL AND next_repeat_at <= :now "
        "ORDER BY next_repeat_at, id LIMIT :limit FOR UPDATE SKIP LOCKED) "
        "UPDATE deliveries AS d SET next_repeat_at = :lease FROM picked "
        "WHERE d.id = picked.id AND d.status = 'sent' RETURNING d.*"
    ),
}
