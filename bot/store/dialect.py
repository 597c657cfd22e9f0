"""The few ways SQLite and PostgreSQL differ, in one place.

Migrations and queries are written once, in the SQL both databases share, with SQLite's
spelling where the two differ only in spelling. `PostgresDialect` rewrites that spelling:

- placeholders: `?` becomes `$1, $2, ...` (outside string literals);
- SQLite's index hint `INDEXED BY name` goes (PostgreSQL's planner picks the index);
- `ifnull(a, b)` becomes `coalesce(a, b)`; the scalar `max(a, b)` / `min(a, b)` (two plain
  arguments) become `greatest` / `least`;
- DDL types: `INTEGER PRIMARY KEY` becomes an identity column, `INTEGER` `BIGINT`, `BLOB`
  `BYTEA`, `REAL` (SQLite's is 8 bytes) `DOUBLE PRECISION`, and `WITHOUT ROWID` goes;
- a trigger `CREATE TRIGGER name AFTER|BEFORE INSERT|UPDATE|DELETE ON table BEGIN ... END;`
  becomes a plpgsql function `name_fn()` running the same statements (NEW and OLD are the
  same names) and a `FOR EACH ROW` trigger calling it.

What the rewrite cannot do, the SQL says explicitly for both: an upsert names its conflict
target and qualifies the existing row's columns with the table name (PostgreSQL finds a bare
column ambiguous with `excluded`); a subquery in FROM has an alias; "true" is `TRUE`. A
migration whose SQL must differ more is a function of the dialect (see `Migration`).

Writing a migration (one entry in a feature module's MIGRATIONS list, run once per database,
in order, by both backends):

    ("notes-1", '''
        CREATE TABLE example_notes (
            id INTEGER PRIMARY KEY,               -- an identity column on PostgreSQL
            position_id INTEGER NOT NULL REFERENCES positions (id) ON DELETE CASCADE,
            team_id TEXT NOT NULL,
            stance TEXT NOT NULL,
            added_at TEXT NOT NULL                -- UTC ISO text, as every timestamp here
        );
        CREATE TABLE example_note_counts (team_id TEXT PRIMARY KEY, n INTEGER NOT NULL);
        CREATE TRIGGER example_notes_count AFTER INSERT ON example_notes
        BEGIN
            INSERT INTO example_note_counts VALUES (new.team_id, 1)
            ON CONFLICT (team_id) DO UPDATE SET n = example_note_counts.n + 1;
        END;
    '''),

Queries follow the same rules; `cells` and `window_cells` in position_queries.py show where a
query branches on `self.dialect.postgres` (SQLite's bare columns beside max()). PostgreSQL runs row
triggers once the whole statement is done, not row by row: a trigger that looks up sibling
rows must not assume they are still there (see the EXISTS guard in positions-1). Tables whose
writes change what cards show also belong in `bot.store.replicas.CONTENT_TABLES` (PostgreSQL
bumps the store version for them, so every replica's card cache is refreshed).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

# A migration is (name, SQL script) or (name, function of the dialect returning the script).
# Names are applied once each, in the order given, on either database.
MigrationScript = str | Callable[["Dialect"], str]
Migration = tuple[str, MigrationScript]


class Dialect:
    """SQLite: the SQL as written."""

    name = "sqlite"
    postgres = False

    def query(self, sql: str) -> str:
        """A query as this database reads it."""
        return sql

    def statements(self, script: str) -> list[str]:
        """A migration script as statements to run one by one."""
        return split_script(script)

    def script(self, migration: MigrationScript) -> str:
        return migration(self) if callable(migration) else migration

    def string_agg(self, expression: str) -> str:
        """The comma-joined text of `expression` over a group."""
        return f"group_concat({expression})"


class PostgresDialect(Dialect):
    name = "postgresql"
    postgres = True

    def query(self, sql: str) -> str:
        return _pg_query(sql)

    def statements(self, script: str) -> list[str]:
        out: list[str] = []
        for statement in split_script(script):
            trigger = _TRIGGER.match(statement.strip())
            if trigger:
                out += _pg_trigger(*trigger.groups())
            else:
                out.append(_pg_ddl(_pg_functions(statement)))
        return out

    def string_agg(self, expression: str) -> str:
        return f"string_agg(({expression})::text, ',')"


SQLITE = Dialect()
POSTGRES = PostgresDialect()

_TRIGGER = re.compile(
    r"CREATE\s+TRIGGER\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)\s+(AFTER|BEFORE)\s+(INSERT|UPDATE|DELETE)"
    r"(?:\s+OF\s+[\w\s,]+?)?\s+ON\s+(\w+)\s+(?:FOR\s+EACH\s+ROW\s+)?(?:WHEN\s+(.+?)\s+)?"
    r"BEGIN\s+(.*)\bEND;?$",
    re.IGNORECASE | re.DOTALL,
)
_SCALAR = re.compile(r"\b(max|min)\(\s*([^(),]+?)\s*,\s*([^(),]+?)\s*\)", re.IGNORECASE)
_IFNULL = re.compile(r"\bifnull\(", re.IGNORECASE)
# A string literal (kept as is), a placeholder, or SQLite's index hint (dropped).
_LITERAL_OR_MARK = re.compile(r"'(?:[^']|'')*'|\?|\s+INDEXED\s+BY\s+\w+", re.IGNORECASE)


def _pg_functions(sql: str) -> str:
    sql = _IFNULL.sub("coalesce(", sql)
    return _SCALAR.sub(
        lambda m: f"{'greatest' if m[1].lower() == 'max' else 'least'}({m[2]}, {m[3]})", sql
    )


@lru_cache(maxsize=2048)
def _pg_query(sql: str) -> str:
    counter = 0

    def mark(match: re.Match[str]) -> str:
        nonlocal counter
        if match[0].startswith("'"):
            return match[0]
        if match[0] != "?":
            return ""
        counter += 1
        return f"${counter}"

    return _LITERAL_OR_MARK.sub(mark, _pg_functions(sql))


def _pg_ddl(statement: str) -> str:
    statement = re.sub(
        r"\bINTEGER\s+PRIMARY\s+KEY\b",
        "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
        statement,
        flags=re.IGNORECASE,
    )
    if re.match(r"\s*(CREATE|ALTER)\s+TABLE", statement, re.IGNORECASE):
        statement = re.sub(r"\bINTEGER\b", "BIGINT", statement, flags=re.IGNORECASE)
        statement = re.sub(r"\bBLOB\b", "BYTEA", statement, flags=re.IGNORECASE)
        statement = re.sub(r"\bREAL\b", "DOUBLE PRECISION", statement, flags=re.IGNORECASE)
        statement = re.sub(r"\)\s*WITHOUT\s+ROWID", ")", statement, flags=re.IGNORECASE)
    return statement


def _pg_trigger(
    name: str, when: str, event: str, table: str, condition: str | None, body: str
) -> list[str]:
    body = _pg_functions(body.strip())
    if condition:
        body = f"IF {_pg_functions(condition)} THEN\n{body}\nEND IF;"
    return [
        f"CREATE OR REPLACE FUNCTION {name}_fn() RETURNS trigger LANGUAGE plpgsql AS $fn$\n"
        f"BEGIN\n{body}\nRETURN NULL;\nEND\n$fn$",
        f"CREATE TRIGGER {name} {when} {event} ON {table} FOR EACH ROW"
        f" EXECUTE FUNCTION {name}_fn()",
    ]


def split_script(script: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies (BEGIN ... END;) and
    dollar-quoted function bodies whole."""
    statements: list[str] = []
    current: list[str] = []
    in_trigger = in_dollar = False
    for line in script.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("--")):
            continue
        if stripped.startswith("--"):
            continue
        current.append(line)
        upper = stripped.upper()
        if upper.startswith("CREATE TRIGGER") and " EXECUTE " not in f" {upper} ":
            in_trigger = True
        if line.count("$$") % 2:
            in_dollar = not in_dollar
        if in_dollar:
            continue
        if in_trigger:
            if upper == "END;":
                statements.append("\n".join(current))
                current, in_trigger = [], False
        elif stripped.endswith(";"):
            statements.append("\n".join(current))
            current = []
    if any(line.strip() for line in current):
        statements.append("\n".join(current))
    return statements
