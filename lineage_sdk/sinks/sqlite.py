"""The embedded default store: one SQLite file, safe for many threads and processes.

* WAL journal, ``synchronous=NORMAL``: a batch survives the death of the process the moment its
  transaction commits; readers never block writers.
* One ``BEGIN IMMEDIATE`` transaction per batch, a busy timeout and a bounded retry, so many
  processes can write one file.
* Only bound parameters: no SQL is ever built from an id or a value.
* A normalised schema (nodes, transformations and their versions, runs, run inputs and outputs,
  and the derivation edges ``input -> transformation -> output``) with the indexes that upstream
  and downstream traversal need. The graph tables (``transformation_io``, ``edges``) hold what
  completed runs established; what only failed runs touched is kept apart (``failed_io``,
  ``failed_edges``) so that it is lineage only on request. Every row also keeps its record's
  JSON so that reading back is exact. The schema version lives in ``PRAGMA user_version`` and
  is migrated forward on open.
"""

from __future__ import annotations

import datetime
import json
import operator
import os
import random
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from .._version import DISTRIBUTION
from ..records import DataSource, Feature, Record, Run, Transformation
from ..revisions import Process, Revision, split_run
from ..serde import _encode, converter, dumps, from_dict, line_safe
from .base import BaseSink, check_file_path
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

_SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS nodes (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,             -- DataSource | Feature
    record      TEXT NOT NULL,             -- JSON of the latest declaration
    updated_us  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS transformations (
    id                 TEXT PRIMARY KEY,
    version            TEXT,
    description        TEXT,
    compute_framework  TEXT,
    code_reference     TEXT,
    record             TEXT NOT NULL,
    updated_us         INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    run_id             TEXT PRIMARY KEY,
    transformation_id  TEXT NOT NULL,
    parent_run_id      TEXT,
    status             TEXT NOT NULL,
    started_us         INTEGER NOT NULL,
    ended_us           INTEGER NOT NULL,
    version            TEXT,
    source_sha256      TEXT,
    git_commit         TEXT,
    git_tag            TEXT,
    record             TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_transformation ON runs (transformation_id, started_us);
CREATE INDEX IF NOT EXISTS runs_by_start ON runs (started_us);
-- A transformation's versions are derived from its runs (through runs_by_transformation) rather
-- than kept in a table of their own, which would cost every run's commit another page write.
CREATE VIEW IF NOT EXISTS transformation_versions AS
    SELECT transformation_id, version, source_sha256, git_commit, git_tag,
           min(started_us) AS first_run_us, max(started_us) AS last_run_us, count(*) AS runs
    FROM runs
    GROUP BY transformation_id, version, source_sha256, git_commit, git_tag;
-- Which runs read and wrote a node is answered through transformation_io and runs, and these two
-- keep each run's own lists, keyed by run (more indexes would cost every commit page writes).
CREATE TABLE IF NOT EXISTS run_inputs (
    run_id   TEXT NOT NULL,
    node_id  TEXT NOT NULL,
    PRIMARY KEY (run_id, node_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS run_outputs (
    run_id   TEXT NOT NULL,
    node_id  TEXT NOT NULL,
    PRIMARY KEY (run_id, node_id)
) WITHOUT ROWID;
-- Which nodes a transformation reads and writes (every run's, merged).
CREATE TABLE IF NOT EXISTS transformation_io (
    transformation_id  TEXT NOT NULL,
    direction          TEXT NOT NULL,      -- 'in' | 'out'
    node_id            TEXT NOT NULL,
    PRIMARY KEY (transformation_id, direction, node_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS transformation_io_by_node ON transformation_io (node_id, direction);
-- Per-output derivation: src was read to produce dst by transformation_id.
CREATE TABLE IF NOT EXISTS edges (
    src                TEXT NOT NULL,
    transformation_id  TEXT NOT NULL,
    dst                TEXT NOT NULL,
    PRIMARY KEY (src, transformation_id, dst)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS edges_by_dst ON edges (dst, transformation_id, src);
CREATE INDEX IF NOT EXISTS edges_by_transformation ON edges (transformation_id);
"""

# Version 2: what only failed runs read, wrote or derived is not lineage by default. Rows of a
# version-1 store that no completed run supports move to the failed tables; for edges "supports"
# means a completed run of the transformation read src and wrote dst (a version-1 store does not
# keep each run's per-output derivation in its own rows).
_SCHEMA_V2 = """
CREATE TABLE IF NOT EXISTS failed_io (
    transformation_id  TEXT NOT NULL,
    direction          TEXT NOT NULL,
    node_id            TEXT NOT NULL,
    PRIMARY KEY (transformation_id, direction, node_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS failed_io_by_node ON failed_io (node_id, direction);
CREATE TABLE IF NOT EXISTS failed_edges (
    src                TEXT NOT NULL,
    transformation_id  TEXT NOT NULL,
    dst                TEXT NOT NULL,
    PRIMARY KEY (src, transformation_id, dst)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS failed_edges_by_dst ON failed_edges (dst, transformation_id, src);
CREATE VIEW IF NOT EXISTS io_with_failed AS
    SELECT transformation_id, direction, node_id FROM transformation_io
    UNION SELECT transformation_id, direction, node_id FROM failed_io;
CREATE VIEW IF NOT EXISTS edges_with_failed AS
    SELECT src, transformation_id, dst FROM edges
    UNION SELECT src, transformation_id, dst FROM failed_edges;
INSERT OR IGNORE INTO failed_io
    SELECT io.transformation_id, io.direction, io.node_id FROM transformation_io io
    WHERE NOT EXISTS (
        SELECT 1 FROM runs r
        JOIN run_inputs ri ON ri.run_id = r.run_id AND io.direction = 'in'
        WHERE r.transformation_id = io.transformation_id AND r.status = 'completed'
          AND ri.node_id = io.node_id
    ) AND NOT EXISTS (
        SELECT 1 FROM runs r
        JOIN run_outputs ro ON ro.run_id = r.run_id AND io.direction = 'out'
        WHERE r.transformation_id = io.transformation_id AND r.status = 'completed'
          AND ro.node_id = io.node_id
    );
DELETE FROM transformation_io WHERE EXISTS (
    SELECT 1 FROM failed_io f WHERE f.transformation_id = transformation_io.transformation_id
      AND f.direction = transformation_io.direction AND f.node_id = transformation_io.node_id
);
INSERT OR IGNORE INTO failed_edges
    SELECT e.src, e.transformation_id, e.dst FROM edges e
    WHERE NOT EXISTS (
        SELECT 1 FROM runs r
        JOIN run_inputs ri ON ri.run_id = r.run_id AND ri.node_id = e.src
        JOIN run_outputs ro ON ro.run_id = r.run_id AND ro.node_id = e.dst
        WHERE r.transformation_id = e.transformation_id AND r.status = 'completed'
    );
DELETE FROM edges WHERE EXISTS (
    SELECT 1 FROM failed_edges f WHERE f.src = edges.src
      AND f.transformation_id = edges.transformation_id AND f.dst = edges.dst
);
"""

# Version 3: the narrow layout. What does not change from run to run is stored once, as a
# revision (declaration, code, git state, lineage; see lineage_sdk.revisions) and a process; a new
# run row points to both and its `record` keeps only the run's own fields. Rows written before
# (revision_id NULL) keep their whole record. Readers take full records from the run_records view,
# which merges the three JSON objects (none of them repeats a key of another; the narrow record
# leaves out null fields, which json_patch would read as deletions).
_SCHEMA_V3 = """
CREATE TABLE IF NOT EXISTS revisions (
    id                 TEXT PRIMARY KEY,   -- hash of the content: the same in every store
    transformation_id  TEXT NOT NULL,
    record             TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS revisions_by_transformation ON revisions (transformation_id);
CREATE TABLE IF NOT EXISTS processes (
    id      TEXT PRIMARY KEY,
    record  TEXT NOT NULL
) WITHOUT ROWID;
ALTER TABLE runs ADD COLUMN revision_id TEXT;
ALTER TABLE runs ADD COLUMN process_id TEXT;
CREATE VIEW IF NOT EXISTS run_records AS
    SELECT r.run_id, r.transformation_id, r.parent_run_id, r.status, r.started_us, r.ended_us,
           r.revision_id,
           CASE WHEN r.revision_id IS NULL THEN r.record
                ELSE json_patch(json_patch(v.record, p.record), r.record) END AS record
    FROM runs r
    LEFT JOIN revisions v ON v.id = r.revision_id
    LEFT JOIN processes p ON p.id = r.process_id;
"""

#: user_version N -> the script that brings a store from N to N + 1.
_MIGRATIONS: dict[int, str] = {0: _SCHEMA_V1, 1: _SCHEMA_V2, 2: _SCHEMA_V3}


_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_MICROSECOND = datetime.timedelta(microseconds=1)


def _us(record_time: datetime.datetime) -> int:
    # Exact integer arithmetic: a float timestamp can be one microsecond off.
    return (record_time - _EPOCH) // _MICROSECOND


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
    table, column = words[2], words[5]
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
                for statement in _MIGRATIONS[current].split(";"):
                    if statement.strip() and not _column_exists(conn, statement):
                        conn.execute(statement)
                current += 1
                conn.execute(f"PRAGMA user_version = {int(current)}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    _retrying(upgrade)


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

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        check_file_path(self.path, "sqlite", is_sqlite_store)
        check_sqlite_file(self.path)
        super().__init__(f"sqlite:{self.path}")
        self._conn: sqlite3.Connection | None = None
        # Graph rows (io, edges) this process has committed: a run repeating its lineage, the
        # common case, then writes only its own rows.
        self._known_io: set[GraphRow] = set()
        self._known_edges: set[GraphRow] = set()
        self._parts = _RunParts()

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = connect(self.path)
        return self._conn

    def _emit(self, records: Sequence[Record]) -> None:
        if not records:
            return
        conn = self._connection()
        nodes = [r for r in records if isinstance(r, (DataSource, Feature))]
        transformations = [r for r in records if isinstance(r, Transformation)]
        runs = [r for r in records if isinstance(r, Run)]
        graph_rows: list[set[GraphRow]] = []

        parts = self._parts
        for t in transformations:  # a revision carries its declaration's description and metadata
            parts.declarations[t.id] = t

        def write(dedupe: bool = False) -> None:
            graph_rows.clear()
            parts.pending_revisions.clear()
            parts.pending_processes.clear()
            conn.execute("BEGIN IMMEDIATE")
            try:
                if nodes:
                    _write_nodes(conn, nodes)
                if transformations:
                    _write_transformations(conn, transformations)
                if runs:
                    graph_rows.extend(
                        _write_runs(
                            conn,
                            runs,
                            self._known_io,
                            self._known_edges,
                            parts=parts,
                            dedupe=dedupe,
                        )
                    )
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

        try:
            _retrying(write)
        except sqlite3.IntegrityError:  # rolled back; rare: a run emitted twice
            _retrying(lambda: write(dedupe=True))
        parts.committed()
        if graph_rows:  # committed: these no longer need writing from this process
            self._known_io.update(graph_rows[0])
            self._known_edges.update(graph_rows[1])

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _after_fork(self) -> None:
        # An SQLite connection must never be used across fork; drop it without closing, since
        # closing would touch the parent's locks.
        self._conn = None

    def read(self) -> Iterator[Record]:
        """Every stored record: nodes, transformations, then runs oldest first."""
        return read_records(self.path)


def _write_nodes(conn: sqlite3.Connection, nodes: list[DataSource | Feature]) -> None:
    now = time.time_ns() // 1000
    conn.executemany(
        "INSERT INTO nodes (id, kind, record, updated_us) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, record = excluded.record, "
        "updated_us = excluded.updated_us",
        [(n.id, n.kind, dumps(n), now) for n in nodes],
    )


def _write_transformations(conn: sqlite3.Connection, items: list[Transformation]) -> None:
    now = time.time_ns() // 1000
    conn.executemany(
        "INSERT INTO transformations (id, version, description, compute_framework, "
        "code_reference, record, updated_us) VALUES (?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET version = excluded.version, "
        "description = excluded.description, compute_framework = excluded.compute_framework, "
        "code_reference = excluded.code_reference, record = excluded.record, "
        "updated_us = excluded.updated_us",
        [
            (t.id, t.version, t.description, t.compute_framework, t.code_reference, dumps(t), now)
            for t in items
        ],
    )


class _RunParts:
    """Splits runs into narrow rows plus their revisions and processes, written once per store.

    ``known_*`` hold ids committed to the store (by this process); ``pending_*`` those written
    by the transaction in progress, promoted by :meth:`committed`.
    """

    _CACHE_LIMIT = 4096

    def __init__(self) -> None:
        self.declarations: dict[str, Transformation] = {}
        self.known_revisions: set[str] = set()
        self.known_processes: set[str] = set()
        self.pending_revisions: set[str] = set()
        self.pending_processes: set[str] = set()
        # A run's shared fields -> its revision and process: split once, not per run.
        self._cache: dict[tuple[Any, ...], tuple[Revision, Process]] = {}
        self._last: tuple[tuple[Any, ...], tuple[Revision, Process] | None] = ((), None)

    def parts(self, run: Run) -> tuple[Revision, Process]:
        declaration = self.declarations.get(run.transformation)
        key = (
            run.transformation, run.version, run.inputs, run.outputs, run.derivation, run.code,
            run.git, run.code_reference, run.host, run.pid, run.python_version, run.sdk_version,
            run.namespace, declaration,
        )  # fmt: skip
        last_key, found = self._last
        # The decorator passes the same objects from one call to the next: compare identities
        # first, and hash the key only when they differ.
        if found is not None and all(map(operator.is_, key, last_key)):
            return found
        cached = self._cache.get(key)
        if cached is None:
            if len(self._cache) >= self._CACHE_LIMIT:
                self._cache.clear()
            revision, process, _ = split_run(run, declaration)
            cached = self._cache[key] = (revision, process)
        self._last = (key, cached)
        return cached

    def committed(self) -> None:
        self.known_revisions |= self.pending_revisions
        self.known_processes |= self.pending_processes
        self.pending_revisions.clear()
        self.pending_processes.clear()


def _json_without_nulls(record: Revision | Process) -> str:
    data = converter().unstructure(record)
    return line_safe(_encode({k: v for k, v in data.items() if v is not None}))


def _narrow_record(r: Run) -> str:
    """The run's own fields as JSON, null fields left out (the run_records view merges it)."""
    data: dict[str, Any] = {
        "run_id": r.run_id,
        "status": r.status,
        "started_at": r.started_at.isoformat(),
        "ended_at": r.ended_at.isoformat(),
        "duration_s": r.duration_s,
    }
    for name in ("parent_run_id", "parent_transformation", "error_type", "error_message"):
        value = getattr(r, name)
        if value is not None:
            data[name] = value
    if r.error_stack is not None:
        data["error_stack"] = r.error_stack
    data["schema_version"] = r.schema_version
    data["record_type"] = "run"
    return line_safe(_encode(data))


def _insert_runs(conn: sqlite3.Connection, runs: list[Run], parts: _RunParts) -> None:
    rows = []
    revisions: dict[str, Revision] = {}
    processes: dict[str, Process] = {}
    for r in runs:
        revision, process = parts.parts(r)
        if revision.id not in parts.known_revisions:
            revisions[revision.id] = revision
        if process.id not in parts.known_processes:
            processes[process.id] = process
        rows.append(
            (
                r.run_id,
                r.transformation,
                r.parent_run_id,
                r.status,
                _us(r.started_at),
                _us(r.ended_at),
                r.version,
                r.code.source_sha256 if r.code else None,
                r.git.commit if r.git else None,
                r.git.tag if r.git else None,
                _narrow_record(r),
                revision.id,
                process.id,
            )
        )
    if revisions:
        conn.executemany(
            "INSERT OR IGNORE INTO revisions (id, transformation_id, record) VALUES (?, ?, ?)",
            [(v.id, v.transformation, _json_without_nulls(v)) for v in revisions.values()],
        )
        parts.pending_revisions.update(revisions)
    if processes:
        conn.executemany(
            "INSERT OR IGNORE INTO processes (id, record) VALUES (?, ?)",
            [(p.id, _json_without_nulls(p)) for p in processes.values()],
        )
        parts.pending_processes.update(processes)
    conn.executemany(
        "INSERT INTO runs (run_id, transformation_id, parent_run_id, status, started_us, "
        "ended_us, version, source_sha256, git_commit, git_tag, record, revision_id, process_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        # A long run is written as 'running' first (and again as a heartbeat); its end record
        # replaces that row. A stored end is never replaced, whatever arrives late.
        "ON CONFLICT (run_id) DO UPDATE SET status = excluded.status, "
        "ended_us = excluded.ended_us, record = excluded.record, "
        "revision_id = excluded.revision_id, process_id = excluded.process_id "
        "WHERE runs.status = 'running'",
        rows,
    )


#: A graph row with its table first: ``(table, transformation, direction, node)`` or
#: ``(table, src, transformation, dst)``.
GraphRow = tuple[str, str, str, str]
#: run completed? -> (io table, edge table); table names come from here only.
_GRAPH_TABLES = {True: ("transformation_io", "edges"), False: ("failed_io", "failed_edges")}


def _write_runs(
    conn: sqlite3.Connection,
    runs: list[Run],
    known_io: set[GraphRow],
    known_edges: set[GraphRow],
    *,
    parts: _RunParts,
    dedupe: bool = False,
) -> tuple[set[GraphRow], set[GraphRow]]:
    """Write a batch of runs with one statement per table; return the graph rows written."""
    fresh = list({r.run_id: r for r in runs}.values())
    if dedupe:  # the batch holds runs stored already: keep the first, skip the repeats
        stored = {
            row[0]
            for row in conn.execute(
                "SELECT run_id FROM runs WHERE run_id IN (SELECT value FROM json_each(?))",
                (json.dumps([r.run_id for r in fresh]),),
            )
        }
        fresh = [r for r in fresh if r.run_id not in stored]
        if not fresh:
            return set(), set()
    _insert_runs(
        conn, fresh, parts
    )  # IntegrityError on a stored run: the caller retries with dedupe
    conn.executemany(
        "INSERT OR IGNORE INTO run_inputs (run_id, node_id) VALUES (?, ?)",
        [(r.run_id, n) for r in fresh for n in r.inputs],
    )
    conn.executemany(
        "INSERT OR IGNORE INTO run_outputs (run_id, node_id) VALUES (?, ?)",
        [(r.run_id, n) for r in fresh for n in r.outputs],
    )
    # Graph rows of completed runs are lineage; a failed run's go to the failed tables. The
    # caches key each row by its table, so a row seen failed is still written once completed.
    io_rows: set[GraphRow] = set()
    edge_rows: set[GraphRow] = set()
    for r in fresh:
        io_table, edge_table = _GRAPH_TABLES[r.status == "completed"]
        t = r.transformation
        io_rows.update((io_table, t, "in", n) for n in r.inputs)
        io_rows.update((io_table, t, "out", n) for n in r.outputs)
        edge_rows.update((edge_table, src, t, dst) for src, dst in r.edges())
    io_rows -= known_io
    edge_rows -= known_edges
    for table in sorted({row[0] for row in io_rows}):
        conn.executemany(
            f"INSERT OR IGNORE INTO {table} (transformation_id, direction, node_id) "
            "VALUES (?, ?, ?)",
            [row[1:] for row in io_rows if row[0] == table],
        )
    for table in sorted({row[0] for row in edge_rows}):
        conn.executemany(
            f"INSERT OR IGNORE INTO {table} (src, transformation_id, dst) VALUES (?, ?, ?)",
            [row[1:] for row in edge_rows if row[0] == table],
        )
    return io_rows, edge_rows


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
        for table, order in (
            ("nodes", "id"),
            ("transformations", "id"),
            ("run_records", "started_us, run_id"),
        ):
            for (text,) in conn.execute(f"SELECT record FROM {table} ORDER BY {order}"):
                yield from_dict(json.loads(text))
    finally:
        conn.close()
