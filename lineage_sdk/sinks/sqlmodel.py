"""The one relational model of a lineage store, written once for SQLite and PostgreSQL.

Both SQL stores keep the same normalised tables (nodes, transformations, runs, run inputs and
outputs, the transformation's merged inputs and outputs, and the derivation edges
``input -> transformation -> output``) and write them with the same statements. Where the two
databases differ, the difference is a field of :class:`Dialect` and nowhere else:

* placeholders (``?`` or ``%s``),
* the integer type for microsecond timestamps (``INTEGER`` or ``BIGINT``),
* SQLite's ``WITHOUT ROWID`` clustering (PostgreSQL has no equivalent: plain tables),
* how a view is (re)created,
* how a list of ids is passed as one parameter (``json_each(?)`` or ``= ANY(%s)``).

Upserts are ``INSERT ... ON CONFLICT`` in both (SQLite >= 3.24). Every row also keeps its
record's JSON as text, so reading back is exact in both stores.

Writers take shared rows (nodes, transformations, graph rows) in one fixed order, sorted by key:
two PostgreSQL transactions upserting the same rows in different orders would deadlock.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol

import attrs

from ..records import DataSource, Feature, Record, Run, Transformation
from ..serde import dumps, from_dict

__all__ = [
    "POSTGRES",
    "SQLITE",
    "STORE_VERSION",
    "Cursor",
    "Dialect",
    "GraphRows",
    "StoreVersionError",
    "iter_records",
    "migration",
    "split_records",
    "write_batch",
]

#: Version of the table layout this release writes (and reads up to).
STORE_VERSION = 1


class StoreVersionError(RuntimeError):
    """The store was written by a newer lineage-sdk than this one."""


class Cursor(Protocol):
    """The part of a DB-API cursor the model uses (``sqlite3`` and ``psycopg`` both fit)."""

    def execute(self, sql: Any, params: Any = ..., /) -> Any: ...

    def executemany(self, sql: Any, params: Any, /) -> Any: ...

    def fetchall(self) -> list[Any]: ...


@attrs.frozen(slots=True)
class Dialect:
    """Everything that differs between the SQL stores, named in one place."""

    name: str
    placeholder: str
    bigint: str
    clustered: str  # suffix of a table whose primary key is its storage order
    create_view: str
    any_id: str  # ``<column> <any_id>`` is true when the column is in the list parameter
    id_list: Callable[[Sequence[str]], Any]

    def sql(self, statement: str) -> str:
        """``statement`` (written with ``?`` placeholders) in this dialect."""
        return statement if self.placeholder == "?" else statement.replace("?", self.placeholder)


SQLITE = Dialect(
    name="sqlite",
    placeholder="?",
    bigint="INTEGER",
    clustered=" WITHOUT ROWID",
    create_view="CREATE VIEW IF NOT EXISTS",
    any_id="IN (SELECT value FROM json_each(?))",
    id_list=lambda ids: json.dumps(list(ids)),
)

POSTGRES = Dialect(
    name="postgresql",
    placeholder="%s",
    bigint="BIGINT",
    clustered="",
    create_view="CREATE OR REPLACE VIEW",
    any_id="= ANY(?)",
    id_list=list,
)

_SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS nodes (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,             -- DataSource | Feature
    record      TEXT NOT NULL,             -- JSON of the latest declaration
    updated_us  {bigint} NOT NULL
);
CREATE TABLE IF NOT EXISTS transformations (
    id                 TEXT PRIMARY KEY,
    version            TEXT,
    description        TEXT,
    compute_framework  TEXT,
    code_reference     TEXT,
    record             TEXT NOT NULL,
    updated_us         {bigint} NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    run_id             TEXT PRIMARY KEY,
    transformation_id  TEXT NOT NULL,
    parent_run_id      TEXT,
    status             TEXT NOT NULL,
    started_us         {bigint} NOT NULL,
    ended_us           {bigint} NOT NULL,
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
{create_view} transformation_versions AS
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
){clustered};
CREATE TABLE IF NOT EXISTS run_outputs (
    run_id   TEXT NOT NULL,
    node_id  TEXT NOT NULL,
    PRIMARY KEY (run_id, node_id)
){clustered};
-- Which nodes a transformation reads and writes (every run's, merged).
CREATE TABLE IF NOT EXISTS transformation_io (
    transformation_id  TEXT NOT NULL,
    direction          TEXT NOT NULL,      -- 'in' | 'out'
    node_id            TEXT NOT NULL,
    PRIMARY KEY (transformation_id, direction, node_id)
){clustered};
CREATE INDEX IF NOT EXISTS transformation_io_by_node ON transformation_io (node_id, direction);
-- Per-output derivation: src was read to produce dst by transformation_id.
CREATE TABLE IF NOT EXISTS edges (
    src                TEXT NOT NULL,
    transformation_id  TEXT NOT NULL,
    dst                TEXT NOT NULL,
    PRIMARY KEY (src, transformation_id, dst)
){clustered};
CREATE INDEX IF NOT EXISTS edges_by_dst ON edges (dst, transformation_id, src);
CREATE INDEX IF NOT EXISTS edges_by_transformation ON edges (transformation_id);
"""

#: Store version N -> the script that brings a store from N to N + 1.
_MIGRATIONS: dict[int, str] = {0: _SCHEMA_V1}


def migration(dialect: Dialect, version: int) -> list[str]:
    """The statements that bring a store of ``version`` to ``version + 1``, in ``dialect``."""
    script = _MIGRATIONS[version].format(
        bigint=dialect.bigint, clustered=dialect.clustered, create_view=dialect.create_view
    )
    return [s.strip() for s in script.split(";") if s.strip()]


#: Tables of records and the order they are read back in: nodes, transformations, then runs.
RECORD_TABLES = (("nodes", "id"), ("transformations", "id"), ("runs", "started_us, run_id"))

#: A batch's graph rows: (transformation, direction, node) and (src, transformation, dst).
GraphRows = tuple[set[tuple[str, str, str]], set[tuple[str, str, str]]]


def iter_records(rows: Iterable[tuple[str]]) -> Iterator[Record]:
    """Records from ``record`` column rows."""
    for (text,) in rows:
        yield from_dict(json.loads(text))


def split_records(
    records: Sequence[Record],
) -> tuple[list[DataSource | Feature], list[Transformation], list[Run]]:
    """A batch split by table, each part in key order (the fixed lock order)."""
    nodes = sorted({r.id: r for r in records if isinstance(r, (DataSource, Feature))}.items())
    items = sorted({r.id: r for r in records if isinstance(r, Transformation)}.items())
    return (
        [n for _, n in nodes],
        [t for _, t in items],
        [r for r in records if isinstance(r, Run)],
    )


def _transformation_row(t: Transformation, now: int) -> tuple[Any, ...]:
    return (t.id, t.version, t.description, t.compute_framework, t.code_reference, dumps(t), now)


def _us(record_time: Any) -> int:
    return int(record_time.timestamp() * 1_000_000)


def write_batch(
    cur: Cursor,
    dialect: Dialect,
    records: Sequence[Record],
    known: GraphRows,
    dedupe: bool = False,
) -> GraphRows:
    """Write one batch inside the caller's transaction; return the graph rows it wrote.

    ``known`` holds graph rows this process committed before (a run repeating its lineage, the
    common case, then writes only its own rows). A run stored already raises the driver's
    IntegrityError; the caller rolls back and calls again with ``dedupe=True``, which keeps the
    stored run and skips the repeat.
    """
    nodes, transformations, runs = split_records(records)
    now = time.time_ns() // 1000
    if nodes:
        cur.executemany(
            dialect.sql(
                "INSERT INTO nodes (id, kind, record, updated_us) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, record = excluded.record, "
                "updated_us = excluded.updated_us"
            ),
            [(n.id, n.kind, dumps(n), now) for n in nodes],
        )
    if transformations:
        cur.executemany(
            dialect.sql(
                "INSERT INTO transformations (id, version, description, compute_framework, "
                "code_reference, record, updated_us) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET version = excluded.version, "
                "description = excluded.description, "
                "compute_framework = excluded.compute_framework, "
                "code_reference = excluded.code_reference, record = excluded.record, "
                "updated_us = excluded.updated_us"
            ),
            [_transformation_row(t, now) for t in transformations],
        )
    if not runs:
        return set(), set()
    return _write_runs(cur, dialect, runs, known, dedupe)


def _write_runs(
    cur: Cursor, dialect: Dialect, runs: list[Run], known: GraphRows, dedupe: bool
) -> GraphRows:
    # New runs take no shared locks (their keys are new), so they keep the batch's order.
    fresh = list({r.run_id: r for r in runs}.values())
    if dedupe:  # the batch holds runs stored already: keep the stored ones, skip the repeats
        cur.execute(
            dialect.sql(f"SELECT run_id FROM runs WHERE run_id {dialect.any_id}"),
            (dialect.id_list([r.run_id for r in fresh]),),
        )
        stored = {row[0] for row in cur.fetchall()}
        fresh = [r for r in fresh if r.run_id not in stored]
        if not fresh:
            return set(), set()
    cur.executemany(
        dialect.sql(
            "INSERT INTO runs (run_id, transformation_id, parent_run_id, status, started_us, "
            "ended_us, version, source_sha256, git_commit, git_tag, record) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ),
        [
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
                dumps(r),
            )
            for r in fresh
        ],
    )
    for table, attr in (("run_inputs", "inputs"), ("run_outputs", "outputs")):
        rows = sorted({(r.run_id, n) for r in fresh for n in getattr(r, attr)})
        if rows:
            cur.executemany(
                dialect.sql(
                    f"INSERT INTO {table} (run_id, node_id) VALUES (?, ?) ON CONFLICT DO NOTHING"
                ),
                rows,
            )
    known_io, known_edges = known
    io = {(r.transformation, "in", n) for r in fresh for n in r.inputs}
    io |= {(r.transformation, "out", n) for r in fresh for n in r.outputs}
    io -= known_io
    if io:
        cur.executemany(
            dialect.sql(
                "INSERT INTO transformation_io (transformation_id, direction, node_id) "
                "VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
            ),
            sorted(io),
        )
    edges = {(src, r.transformation, dst) for r in fresh for src, dst in r.edges()} - known_edges
    if edges:
        cur.executemany(
            dialect.sql(
                "INSERT INTO edges (src, transformation_id, dst) VALUES (?, ?, ?) "
                "ON CONFLICT DO NOTHING"
            ),
            sorted(edges),
        )
    return io, edges
