"""What differs between SQL databases, for the one SQL backend (:mod:`.sql`).

The backend's statements are written once, with ``:name`` placeholders and ``{ids:NAME}`` for
"is one of a list of ids"; a dialect turns them into its driver's form, opens the connection and
reads the JSON column back. Adding a database means adding a dialect here, not copying statements.

Example::

    backend = SQLBackend(SQLiteDialect(), "lineage.db")
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

from ..sinks import sqlschema

__all__ = ["Connection", "PostgresDialect", "SQLDialect", "SQLiteDialect"]

_IDS = re.compile(r"\{ids:(\w+)\}")
_ID = re.compile(r"\{id:(\w+)\}")
_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


def _id_test(model: sqlschema.Dialect, text: str) -> str:
    """``{ids:NAME}`` and ``{id:NAME}`` as the model dialect writes them (named there, once).

    ``{ids:NAME}``: "is one of the list NAME"; ``{id:NAME}``: the id NAME as a text value with
    the id columns' collation.
    """
    text = _IDS.sub(lambda m: model.any_id.replace("?", f":{m.group(1)}"), text)
    return _ID.sub(lambda m: model.text_value.replace("?", f":{m.group(1)}"), text)


class Connection(Protocol):
    """The part of a DB-API connection the backend uses (sqlite3 and psycopg 3 both have it)."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Any:
        """Run one statement; the result iterates over row tuples."""

    def close(self) -> None:
        """Close the connection."""


class SQLDialect(Protocol):
    """One database's syntax, driver and JSON handling."""

    #: Short name, shown in errors and ``repr``.
    name: str

    def connect(self, location: str) -> Connection:
        """Open the store at ``location`` for reading; FileNotFoundError/ValueError if it is not."""

    def statement(self, text: str) -> str:
        """``text`` with ``:name`` placeholders and ``{ids:NAME}`` list tests in this dialect."""

    def id_list(self, ids: list[str]) -> object:
        """The parameter value for an ``{ids:NAME}`` list test."""

    def record(self, value: object) -> dict[str, Any]:
        """A record's JSON column, as a dict."""

    def json_text(self, column: str, path: tuple[str, ...]) -> str:
        """SQL for the JSON text at ``path`` (constant keys) of a JSON column."""

    def json_scalar(self, column: str, path: tuple[str, ...]) -> str:
        """SQL for the scalar at ``path`` (constant keys) of a JSON column, as text or NULL."""

    def snapshot(self, until_us: int) -> list[str]:
        """Statements that make this connection see the store as it stood at ``until_us``.

        Temporary objects named like the store's tables shadow them on this connection only:
        the runs that had ended by then, and the io, edges, versions and declarations those
        runs reach. Every statement of the backend then answers "as of" unchanged.
        """


def _sqlite_json_path(path: tuple[str, ...]) -> str:
    # Keys are constants of the caller, never user input; quoted for JSON path syntax.
    return "'$" + "".join(f'."{key}"' for key in path) + "'"


def _sqlite_io(table: str, status: str) -> tuple[str, ...]:
    # main.run_io: each run's inputs and outputs, whatever layout wrote the run.
    return (
        f"CREATE TEMP TABLE {table} AS "
        "SELECT DISTINCT transformation_id, direction, node_id FROM main.run_io "
        f"WHERE status {status} AND ended_us <= {{until_us}}",
        f"CREATE INDEX temp.{table}_by_node ON {table} (node_id, direction)",
        f"CREATE INDEX temp.{table}_by_t ON {table} (transformation_id, direction)",
    )


def _sqlite_edges(table: str, status: str) -> tuple[str, ...]:
    # From each distinct derivation (one per revision), not from every run.
    return (
        f"CREATE TEMP TABLE {table} AS "
        "WITH d AS (SELECT DISTINCT transformation_id, json_extract(record, '$.derivation') AS der "
        f"FROM main.run_records WHERE status {status} AND ended_us <= {{until_us}}) "
        "SELECT DISTINCT s.value AS src, d.transformation_id, json_extract(o.value, '$[0]') AS dst "
        "FROM d, json_each(d.der) o, json_each(o.value, '$[1]') s",
        f"CREATE INDEX temp.{table}_by_src ON {table} (src, transformation_id, dst)",
        f"CREATE INDEX temp.{table}_by_dst ON {table} (dst, transformation_id, src)",
    )


# SQLite looks unqualified names up in temp first, then main: these shadow the stored tables and
# views on the one connection that creates them.
_SQLITE_SNAPSHOT = (
    # A reader's connection is query-only over a file opened read-only (mode=ro): the temporary
    # objects live in the connection's own temp store, so queries may write there while they are
    # built; the file stays untouchable all along.
    "PRAGMA query_only = 0",
    "CREATE TEMP VIEW runs AS SELECT * FROM main.runs WHERE ended_us <= {until_us}",
    # Whole run records (lineage_sdk.sinks.sqlschema): a view of main reads main.runs only.
    "CREATE TEMP VIEW run_records AS SELECT * FROM main.run_records WHERE ended_us <= {until_us}",
    *_sqlite_io("transformation_io", "= 'completed'"),
    *_sqlite_io("failed_io", "!= 'completed'"),
    *_sqlite_edges("edges", "= 'completed'"),
    *_sqlite_edges("failed_edges", "!= 'completed'"),
    "CREATE TEMP VIEW io_with_failed AS "
    "SELECT transformation_id, direction, node_id FROM temp.transformation_io "
    "UNION SELECT transformation_id, direction, node_id FROM temp.failed_io",
    "CREATE TEMP VIEW edges_with_failed AS SELECT src, transformation_id, dst FROM temp.edges "
    "UNION SELECT src, transformation_id, dst FROM temp.failed_edges",
    "CREATE TEMP VIEW transformation_versions AS "
    "SELECT transformation_id, version, source_sha256, git_commit, git_tag, "
    "min(started_us) AS first_run_us, max(started_us) AS last_run_us, count(*) AS runs "
    "FROM temp.runs GROUP BY transformation_id, version, source_sha256, git_commit, git_tag",
    # Declarations carry no time: those of what the runs by then reached.
    "CREATE TEMP VIEW nodes AS SELECT * FROM main.nodes "
    "WHERE id IN (SELECT node_id FROM temp.io_with_failed)",
    "CREATE TEMP VIEW transformations AS SELECT * FROM main.transformations "
    "WHERE id IN (SELECT DISTINCT transformation_id FROM temp.runs)",
    "PRAGMA query_only = 1",
)


def _postgres_io(table: str, status: str) -> tuple[str, ...]:
    return (
        f"CREATE TEMP TABLE {table} AS "
        "SELECT DISTINCT transformation_id, direction, node_id FROM run_io "
        f"WHERE status {status} AND ended_us <= {{until_us}}",
        f"CREATE INDEX ON {table} (node_id, direction)",
        f"CREATE INDEX ON {table} (transformation_id, direction)",
    )


def _postgres_edges(table: str, status: str) -> tuple[str, ...]:
    return (
        f"CREATE TEMP TABLE {table} AS "
        "WITH d AS (SELECT DISTINCT transformation_id, record::jsonb -> 'derivation' AS der "
        f"FROM run_records WHERE status {status}) "
        'SELECT DISTINCT s.value COLLATE "C" AS src, d.transformation_id, '
        '(o.value ->> 0) COLLATE "C" AS dst '
        "FROM d, jsonb_array_elements(d.der) o, jsonb_array_elements_text(o.value -> 1) s(value)",
        f"CREATE INDEX ON {table} (src, transformation_id, dst)",
        f"CREATE INDEX ON {table} (dst, transformation_id, src)",
    )


# PostgreSQL binds a view's names when it is created, and looks pg_temp up first: the temporary
# runs view reads the stored runs, and everything after it reads that view.
_POSTGRES_SNAPSHOT = (
    "CREATE TEMP VIEW run_records AS SELECT * FROM run_records WHERE ended_us <= {until_us}",
    "CREATE TEMP VIEW runs AS SELECT * FROM runs WHERE ended_us <= {until_us}",
    *_postgres_io("transformation_io", "= 'completed'"),
    *_postgres_io("failed_io", "<> 'completed'"),
    *_postgres_edges("edges", "= 'completed'"),
    *_postgres_edges("failed_edges", "<> 'completed'"),
    "CREATE TEMP VIEW io_with_failed AS "
    "SELECT transformation_id, direction, node_id FROM transformation_io "
    "UNION SELECT transformation_id, direction, node_id FROM failed_io",
    "CREATE TEMP VIEW edges_with_failed AS SELECT src, transformation_id, dst FROM edges "
    "UNION SELECT src, transformation_id, dst FROM failed_edges",
    "CREATE TEMP VIEW transformation_versions AS "
    "SELECT transformation_id, version, source_sha256, git_commit, git_tag, "
    "min(started_us) AS first_run_us, max(started_us) AS last_run_us, count(*) AS runs "
    "FROM runs GROUP BY transformation_id, version, source_sha256, git_commit, git_tag",
    "CREATE TEMP VIEW nodes AS SELECT * FROM nodes "
    "WHERE id IN (SELECT node_id FROM io_with_failed)",
    "CREATE TEMP VIEW transformations AS SELECT * FROM transformations "
    "WHERE id IN (SELECT DISTINCT transformation_id FROM runs)",
)


class _JSONRecords:
    """Both stores keep a record as JSON text in its ``record`` column."""

    def record(self, value: object) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(value)  # type: ignore[arg-type]
        return loaded


class SQLiteDialect(_JSONRecords):
    """SQLite (the embedded default store), through the standard library's ``sqlite3``.

    sqlite3 takes ``:name`` placeholders as they are; a list of ids travels as one JSON text
    parameter, unpacked by ``json_each`` (no SQL is ever built from an id).
    """

    name = "sqlite"

    def connect(self, location: str | os.PathLike[str]) -> Connection:
        # Read-only: never creates, migrates or converts the file (an older store is upgraded
        # in a copy in memory).
        from ..sinks.sqlite import open_reader

        return open_reader(Path(location))

    def statement(self, text: str) -> str:
        return _id_test(sqlschema.SQLITE, text)

    def id_list(self, ids: list[str]) -> object:
        return sqlschema.SQLITE.id_list(ids)

    def json_text(self, column: str, path: tuple[str, ...]) -> str:
        return f"json_extract({column}, {_sqlite_json_path(path)})"

    def json_scalar(self, column: str, path: tuple[str, ...]) -> str:
        return f"json_extract({column}, {_sqlite_json_path(path)})"

    def snapshot(self, until_us: int) -> list[str]:
        return [text.format(until_us=int(until_us)) for text in _SQLITE_SNAPSHOT]


class PostgresDialect(_JSONRecords):
    """PostgreSQL (the shared store), through psycopg 3.

    Statements get psycopg's ``%(name)s`` placeholders; a list of ids travels as one array
    parameter (``= ANY(...)``). Text columns use the "C" collation, so ids sort and compare
    byte-wise exactly as in SQLite. ``schema`` applies when the DSN has no ``?schema=``.
    """

    name = "postgresql"

    def __init__(self, schema: str | None = None, connect_timeout_s: float = 5.0) -> None:
        self.schema = schema
        self.connect_timeout_s = connect_timeout_s

    def connect(self, location: str | os.PathLike[str]) -> Connection:
        from ..sinks.postgres import connect_reader, parse_dsn

        conn: Connection = connect_reader(
            parse_dsn(str(location), self.schema), self.connect_timeout_s
        )
        # Traversals are recursive joins that follow a few edges per step. PostgreSQL plans the
        # recursive part for a large work table and, on a store not yet analysed, picks a hash
        # join that scans every edge on every step (seconds instead of milliseconds on 10^4
        # edges). Index nested loops are the right plan for every query this backend sends.
        conn.execute("SET enable_hashjoin = off")
        conn.execute("SET enable_mergejoin = off")
        # No JIT: these statements follow indexes, but on a store of 10^6 edges their cost
        # estimates (a recursive walk, subplans over it) pass jit_above_cost, and compiling a
        # plan with LLVM costs ~25 ms per statement. EXPLAIN ANALYZE of impact() on a store
        # without features: its only scan took 0.02 ms, "Execution Time" 27.7 ms with 26 JIT
        # functions, 0.1 ms without - ~150x SQLite's answer before, in the benchmark.
        conn.execute("SET jit = off")
        return conn

    def statement(self, text: str) -> str:
        return _NAMED.sub(r"%(\1)s", _id_test(sqlschema.POSTGRES, text))

    def id_list(self, ids: list[str]) -> object:
        return sqlschema.POSTGRES.id_list(ids)

    def json_text(self, column: str, path: tuple[str, ...]) -> str:
        # jsonb text is normalised (key order, spacing): equal values compare equal.
        return f"(({column})::jsonb #> '{{{','.join(path)}}}')::text"

    def json_scalar(self, column: str, path: tuple[str, ...]) -> str:
        return f"(({column})::jsonb #>> '{{{','.join(path)}}}')"

    def snapshot(self, until_us: int) -> list[str]:
        return [text.format(until_us=int(until_us)) for text in _POSTGRES_SNAPSHOT]


def rows(
    conn: Connection, dialect: SQLDialect, text: str, params: Mapping[str, Any]
) -> Iterable[Any]:
    """Execute one statement written in the backend's neutral form; the rows as tuples."""
    result: Iterable[Any] = conn.execute(dialect.statement(text), dict(params))
    return result
