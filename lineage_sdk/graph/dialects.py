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

from ..sinks import sqlmodel

__all__ = ["Connection", "PostgresDialect", "SQLDialect", "SQLiteDialect"]

_IDS = re.compile(r"\{ids:(\w+)\}")
_ID = re.compile(r"\{id:(\w+)\}")
_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


def _id_test(model: sqlmodel.Dialect, text: str) -> str:
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


class SQLiteDialect:
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
        return _id_test(sqlmodel.SQLITE, text)

    def id_list(self, ids: list[str]) -> object:
        return sqlmodel.SQLITE.id_list(ids)

    def record(self, value: object) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(value)  # type: ignore[arg-type]
        return loaded


class PostgresDialect:
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
        return conn

    def statement(self, text: str) -> str:
        return _NAMED.sub(r"%(\1)s", _id_test(sqlmodel.POSTGRES, text))

    def id_list(self, ids: list[str]) -> object:
        return sqlmodel.POSTGRES.id_list(ids)

    def record(self, value: object) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(value)  # type: ignore[arg-type]
        return loaded


def rows(
    conn: Connection, dialect: SQLDialect, text: str, params: Mapping[str, Any]
) -> Iterable[Any]:
    """Execute one statement written in the backend's neutral form; the rows as tuples."""
    result: Iterable[Any] = conn.execute(dialect.statement(text), dict(params))
    return result
