"""The SQLite-to-PostgreSQL rewrites: each listed construct, placeholders and quoting."""

from __future__ import annotations

import pytest

from bot.storage.dialect import REWRITES, to_postgresql


@pytest.mark.parametrize(
    ("sqlite", "postgresql"),
    [
        ("SELECT * FROM t WHERE a = ? AND b = ?", "SELECT * FROM t WHERE a = %s AND b = %s"),
        (
            "SELECT * FROM t WHERE a = :a AND b = :b_2",
            "SELECT * FROM t WHERE a = %(a)s AND b = %(b_2)s",
        ),
        ("SELECT 'a?b:c%' || ? FROM t", "SELECT 'a?b:c%%' || %s FROM t"),
        (
            "SELECT 'it''s ?' FROM t WHERE x LIKE '%?%'",
            "SELECT 'it''s ?' FROM t WHERE x LIKE '%%?%%'",
        ),
        ('SELECT "odd?name" FROM t', 'SELECT "odd?name" FROM t'),
        ("SELECT 1 -- why? 100%\nFROM t", "SELECT 1 -- why? 100%%\nFROM t"),
        (
            "SELECT id FROM patients WHERE id IN (SELECT value FROM json_each(?))",
            "SELECT id FROM patients WHERE id IN (SELECT value FROM json_ids(%s::json))",
        ),
        (
            "SELECT * FROM c ORDER BY c.name COLLATE NOCASE",
            "SELECT * FROM c ORDER BY lower(c.name)",
        ),
        (
            "SELECT * FROM d WHERE (? IS NULL OR d.p = ?)",
            "SELECT * FROM d WHERE (%s::text IS NULL OR d.p = %s)",
        ),
        (
            "SELECT id FROM deliveries INDEXED BY by_due WHERE x",
            "SELECT id FROM deliveries WHERE x",
        ),
        (
            "INSERT OR IGNORE INTO care_team (patient_id, clinician_id) VALUES (?, ?)",
            "INSERT INTO care_team (patient_id, clinician_id) VALUES (%s, %s) "
            "ON CONFLICT DO NOTHING",
        ),
        (
            "INSERT OR IGNORE INTO audit_subjects (patient_id, ref) "
            "SELECT value, lower(hex(randomblob(16))) FROM json_each(?)",
            "INSERT INTO audit_subjects (patient_id, ref) SELECT value, "
            "replace(gen_random_uuid()::text, '-', '') FROM json_ids(%s::json) "
            "ON CONFLICT DO NOTHING",
        ),
    ],
)
def test_a_statement_is_rewritten_for_postgresql(sqlite: str, postgresql: str) -> None:
    """Each construct comes out in PostgreSQL's spelling; the rest is left as written."""
    assert to_postgresql(sqlite).sql == postgresql


def test_an_insert_into_a_table_with_ids_asks_for_the_new_id() -> None:
    """SQLite reports the new row's id by itself; PostgreSQL is asked for it."""
    plain = to_postgresql("INSERT INTO patients (label) VALUES (?)")
    assert plain.sql.endswith(" RETURNING id")
    assert plain.returns_id
    keyed = to_postgresql("INSERT INTO care_team (patient_id, clinician_id) VALUES (?, ?)")
    assert not keyed.returns_id
    asked = to_postgresql("INSERT INTO patients (label) VALUES (?) RETURNING *")
    assert not asked.returns_id
    assert asked.sql.count("RETURNING") == 1


def test_insert_or_ignore_goes_before_returning() -> None:
    """ON CONFLICT must come before RETURNING."""
    sql = to_postgresql("INSERT OR IGNORE INTO flows (user_id) VALUES (?) RETURNING user_id").sql
    assert sql == "INSERT INTO flows (user_id) VALUES (%s) ON CONFLICT DO NOTHING RETURNING user_id"


def test_every_rewrite_says_why() -> None:
    """The table of differences is documentation: each row gives its reason."""
    assert all(rewrite.why for rewrite in REWRITES)
