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

__all__ = ["Connection", "SQLDialect", "SQLiteDialect"]

_IDS = re.compile(r"\{ids:(\w+)\}")


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
        return _IDS.sub(r"IN (SELECT value FROM json_each(:\1))", text)

    def id_list(self, ids: list[str]) -> object:
        return json.dumps(ids)

    def record(self, value: object) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(value)  # type: ignore[arg-type]
        return loaded


def rows(
    conn: Connection, dialect: SQLDialect, text: str, params: Mapping[str, Any]
) -> Iterable[Any]:
    """Execute one statement written in the backend's neutral form; the rows as tuples."""
    result: Iterable[Any] = conn.execute(dialect.statement(text), dict(params))
    return result
