"""The embedded default store: one SQLite file, safe for many threads and processes.

* WAL journal, ``synchronous=NORMAL``: a batch survives the death of the process the moment its
  transaction commits; readers never block writers.
* One ``BEGIN IMMEDIATE`` transaction per batch, a busy timeout and a bounded retry, so many
  processes can write one file.
* Only bound parameters: no SQL is ever built from an id or a value.
* A normalised schema (nodes, transformations and their revisions with their inputs and outputs,
  narrow runs, and the derivation edges ``input -> transformation -> output``) with the indexes
  that upstream and downstream traversal need. The graph tables (``transformation_io``,
  ``edges``) hold what completed runs established; what only failed runs touched is kept apart
  (``failed_io``, ``failed_edges``) so that it is lineage only on request. Every row also keeps
  its record's JSON so that reading back is exact. The schema version lives in ``PRAGMA
  user_version`` and is migrated forward on open.
"""

from __future__ import annotations

import os
import random
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

from .._version import DISTRIBUTION
from ..pending import PendingRun, built
from ..records import Record, Run
from .base import BaseSink, check_file_path
from .sqlinserts import Statement, insert_run_sql
from .sqlite_files import (
    BUSY_TIMEOUT_MS,
    STORE_VERSION,
    StoreVersionError,
    check_sqlite_file,
    foreign_reason,
    is_sqlite_store,
    not_a_store_error,
    open_read_only,
)
from .sqlite_files import open_reader as _open_file_reader
from .sqlmodel import (
    ColumnRow,
    GraphRow,
    GraphRows,
    iter_records,
    merge_stored_declarations,
    plan_batch,
    plan_known_runs,
    stored_runs_query,
)
from .sqlrows import RunParts
from .sqlschema import RECORD_TABLES, SQLITE, migration

__all__ = [
    "STORE_VERSION",
    "SQLiteSink",
    "StoreVersionError",
    "check_sqlite_file",
    "connect",
    "open_read_only",
    "open_reader",
    "read_records",
]

_RETRY_FOR_S = 60.0


def _retrying(action: Callable[[], None]) -> None:
    """Run ``action``, retrying while another process holds the database beyond busy_timeout."""
    deadline = time.monotonic() + _RETRY_FOR_S
    delay = 0.01
    while True:
        try:
            action()
            return
        except sqlite3.OperationalError as exc:
            text = str(exc).lower()
            if ("locked" not in text and "busy" not in text) or time.monotonic() > deadline:
                raise
            time.sleep(delay * (1 + random.random()))  # noqa: S311 - jitter, not security
            delay = min(delay * 2, 0.5)


def _column_exists(conn: sqlite3.Connection, statement: str) -> bool:
    """Whether ``statement`` adds a column the table has already (SQLite has no IF NOT EXISTS
    for columns): a store some tool set back to an older version keeps its newer columns."""
    words = statement.split()
    if [w.upper() for w in words[:2]] + [w.upper() for w in words[3:5]] != [
        "ALTER", "TABLE", "ADD", "COLUMN"
    ]:  # fmt: skip
        return False
    table, column = words[2], words[5]  # from the migration scripts, never from input
    return any(row[1] == column for row in conn.execute(f"PRAGMA table_info({table})"))


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    reason = foreign_reason(conn)
    if reason is not None:
        raise not_a_store_error(path, reason)
    if version == STORE_VERSION:
        return
    if version > STORE_VERSION:
        raise StoreVersionError(
            f"{path} has store version {version}; this lineage-sdk reads up to {STORE_VERSION}: "
            f"pip install --upgrade {DISTRIBUTION}"
        )

    def upgrade() -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            current = conn.execute("PRAGMA user_version").fetchone()[0]  # another process won?
            while current < STORE_VERSION:
                for statement in migration(SQLITE, current):
                    if not _column_exists(conn, statement):
                        conn.execute(statement)
                current += 1
                conn.execute(f"PRAGMA user_version = {int(current)}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    _retrying(upgrade)


def _transaction(conn: sqlite3.Connection, statements: Sequence[Statement]) -> None:
    """Run ``statements`` in one write transaction (taken at once: no lock upgrade later)."""
    if len(statements) == 1 and not conn.in_transaction:
        # One statement is its own transaction in autocommit (see _insert_run), and then the
        # write lock is held inside that one call only. Between the calls of BEGIN ... COMMIT
        # this thread gives up the GIL and may wait up to a switch interval (5 ms) to get it
        # back from the application's threads, holding the store's write lock all the while:
        # four processes writing one store reached ~0.8x the throughput they reach this way.
        conn.execute(statements[0].sql, statements[0].params)
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in statements:
            conn.execute(statement.sql, statement.params)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


_INSERT_RUN = insert_run_sql(SQLITE)


def _insert_run(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> None:
    """One run row in its own write transaction: the INSERT alone, in autocommit. A writing
    statement takes the write lock before it reads anything (as BEGIN IMMEDIATE does: no lock
    upgrade later) and commits, or rolls back whole, when it ends; one call instead of three."""
    cursor.execute(_INSERT_RUN, row)


def connect(path: str | os.PathLike[str], *, create: bool = True) -> sqlite3.Connection:
    """Open (and create or migrate) a store; ``create=False`` raises FileNotFoundError instead."""
    path = Path(path)
    if not create and not path.exists():
        raise FileNotFoundError(f"no lineage store at {path}")
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    # Before SQLite opens it: reading a FIFO's header would block for ever.
    check_file_path(path, "sqlite", is_sqlite_store)
    check_sqlite_file(path)
    conn = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
    )
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")

        def set_wal() -> None:
            conn.execute("PRAGMA journal_mode = WAL")

        _retrying(set_wal)
        conn.execute("PRAGMA synchronous = NORMAL")
        _migrate(conn, path)
    except BaseException:
        conn.close()
        raise
    return conn


class SQLiteSink(BaseSink):
    """Writes records to an SQLite store (created on first use, with its folders).

    Example::

        lineage_sdk.configure(sinks=[SQLiteSink("lineage.db")])
    """

    #: A run of a revision this process wrote before is written without building its Run.
    accepts_pending: ClassVar[bool] = True

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        check_file_path(self.path, "sqlite", is_sqlite_store)
        check_sqlite_file(self.path)
        super().__init__(f"sqlite:{self.path}")
        self._conn: sqlite3.Connection | None = None
        # The lean path's own cursor on _conn (Connection.execute makes a cursor per call).
        self._cursor: sqlite3.Cursor | None = None
        # Graph rows (io, edges) this process has committed: a run repeating its lineage, the
        # common case, then writes only its own rows.
        self._known_io: set[GraphRow] = set()
        self._known_edges: set[GraphRow] = set()
        self._known_columns: set[ColumnRow] = set()
        self._parts = RunParts()  # revisions and processes: written once per store

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = connect(self.path)
            self._cursor = self._conn.cursor()
        return self._conn

    def _emit_run(self, run: PendingRun) -> None:
        # The common run's row, one INSERT on the kept cursor, straight away.
        cursor = self._cursor
        row = None if cursor is None else self._parts.known_pending_row(run)
        if cursor is not None and row is not None:
            try:
                _insert_run(cursor, row)
                return
            except sqlite3.Error:  # busy, or a repeat: the general path decides, once
                pass
        self._emit((run,))  # type: ignore[arg-type]  # accepts_pending: _emit takes it

    def _emit(self, records: Sequence[Record]) -> None:
        if not records:
            return
        conn = self._connection()
        known = (self._known_io, self._known_edges, self._known_columns)
        # The common batch: runs of revisions this process wrote before (one, or an async
        # batch of them), their rows in one statement, which _transaction runs on its own.
        plan = plan_known_runs(SQLITE, records, self._parts)
        if plan is None and all(type(r) is Run or isinstance(r, PendingRun) for r in records):
            # Runs only: the plan needs nothing from the store either.
            plan = plan_batch(SQLITE, records, known, (), self._parts)
        if plan is not None:  # made before the write lock is taken
            try:
                _retrying(lambda: _transaction(conn, plan.statements))
            except sqlite3.IntegrityError:  # rolled back; rare: a run emitted twice
                self._emit_checked(conn, records, dedupe=True)
                return
            self._committed(plan.graph_rows)
            return
        self._emit_checked(conn, records)

    def _emit_checked(
        self, conn: sqlite3.Connection, records: Sequence[Record], dedupe: bool = False
    ) -> None:
        """Write a batch planned inside its transaction (declarations merge over the stored)."""
        records = built(records)
        known = (self._known_io, self._known_edges, self._known_columns)
        written: list[GraphRows] = []

        def write(dedupe: bool = False) -> None:
            written.clear()
            conn.execute("BEGIN IMMEDIATE")
            try:
                skip: set[str] = set()
                if dedupe:  # a run stored already: keep it, skip the repeat
                    query = stored_runs_query(SQLITE, records)
                    skip = {row[0] for row in conn.execute(query.sql, query.params)}
                # Declarations merge over the stored ones inside this (write-locked) transaction.
                batch, revisions = merge_stored_declarations(SQLITE, records, conn.execute)
                plan = plan_batch(SQLITE, batch, known, skip, self._parts)
                for statement in [*plan.statements, *revisions]:
                    conn.execute(statement.sql, statement.params)
                conn.execute("COMMIT")
                written.append(plan.graph_rows)
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

        if dedupe:
            _retrying(lambda: write(dedupe=True))
        else:
            try:
                _retrying(write)
            except sqlite3.IntegrityError:  # rolled back; rare: a run emitted twice
                _retrying(lambda: write(dedupe=True))
        if written:
            self._committed(written[0])

    def _committed(self, graph_rows: GraphRows) -> None:
        """A batch committed: what it wrote no longer needs writing from this process."""
        self._parts.committed()
        io, edges, columns = graph_rows
        if io or edges or columns:
            self._known_io.update(io)
            self._known_edges.update(edges)
            self._known_columns.update(columns)

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = self._cursor = None

    def _after_fork(self) -> None:
        # An SQLite connection must never be used across fork; drop it without closing, since
        # closing would touch the parent's locks.
        self._conn = self._cursor = None

    def read(self) -> Iterator[Record]:
        """Every stored record: nodes, transformations, then runs oldest first."""
        return read_records(self.path)


def open_reader(path: str | os.PathLike[str]) -> sqlite3.Connection:
    """A read-only connection to a lineage store of this or any earlier version.

    The file is never changed: a store of an earlier version is copied into memory and the copy
    upgraded (a writer upgrades the file itself). Errors as in
    :func:`~lineage_sdk.sinks.sqlite_files.open_reader`.
    """
    conn = _open_file_reader(path)
    if conn.execute("PRAGMA user_version").fetchone()[0] == STORE_VERSION:
        return conn
    copy = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    try:
        conn.backup(copy)
        _migrate(copy, Path(path))
    except BaseException:
        copy.close()
        raise
    finally:
        conn.close()
    return copy


def read_records(path: str | os.PathLike[str]) -> Iterator[Record]:
    """Every record of a store: nodes, transformations, then runs oldest first."""
    path = Path(path)
    if not path.exists():
        return
    conn = open_reader(path)
    try:
        for table, order in RECORD_TABLES:
            yield from iter_records(conn.execute(f"SELECT record FROM {table} ORDER BY {order}"))
    finally:
        conn.close()
