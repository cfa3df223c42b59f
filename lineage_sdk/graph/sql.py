"""The SQL backend: lineage questions answered in the database, written once for every dialect.

Traversals run as recursive CTEs over the ``edges`` table, so a store with millions of edges
answers without being loaded into memory; whole-graph questions (ids, edges, cycles) read only
the small tables they need. The tables are those the SQLite sink writes (see
:mod:`lineage_sdk.sinks.sqlite`): ``nodes``, ``transformations``, ``runs``,
``transformation_io``, ``edges`` (with its ``whole`` flag), ``column_edges`` and the
``transformation_versions`` view. Column names in
statements come from constants here only; every id and value travels as a bound parameter.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterable, Iterator
from typing import Any, cast

from ..records import DataSource, Declaration, Feature, Record, Run, Transformation
from ..serde import from_dict
from . import algorithms
from .backend import Direction, RunQuery
from .changes.source import ChangeSource
from .changes.sql import SQLChangeSource, to_us
from .dialects import Connection, SQLDialect, rows
from .liveness import as_seen
from .model import (
    ColumnRow,
    DeclarationRevision,
    NodeKind,
    VersionInfo,
    declaration_revisions,
)

__all__ = ["SQLBackend"]

# A batch of ids per statement in path search: bounded so no database hits its parameter limit.
_BATCH = 500

# What an id names, in one statement (one round trip to a server, not five): a declared node's
# kind, else a transformation (declared, in the graph, or with runs), else an external node that
# some transformation reads or writes, else NULL. coalesce stops at the first answer.
_KIND = """
    SELECT coalesce(
        (SELECT kind FROM nodes WHERE id = :id),
        (SELECT 'Transformation' WHERE EXISTS (SELECT 1 FROM transformations WHERE id = :id)
            OR EXISTS (SELECT 1 FROM @io WHERE transformation_id = :id)
            OR EXISTS (SELECT 1 FROM runs WHERE transformation_id = :id)),
        (SELECT 'External' WHERE EXISTS (SELECT 1 FROM @io WHERE node_id = :id))
    )
"""

_REACH = """
    WITH RECURSIVE reach(id) AS (
        {seed}
        UNION
        SELECT e.{far} FROM @edges e JOIN reach r ON e.{near} = r.id
    )
    SELECT id, 0 FROM reach WHERE id != :start
    UNION
    SELECT io.transformation_id, 0 FROM @io io
        JOIN reach r ON io.node_id = r.id AND io.direction = :io_dir
    WHERE io.transformation_id != :start
"""

_BOUNDED = """
    WITH RECURSIVE reach(id, depth) AS (
        {seed}
        UNION
        SELECT e.{far}, r.depth + 2 FROM @edges e JOIN reach r ON e.{near} = r.id
        WHERE r.depth + 2 <= :depth
    ),
    best(id, depth) AS (SELECT id, MIN(depth) FROM reach GROUP BY id)
    SELECT id, depth FROM best WHERE id != :start AND depth <= :depth
    UNION ALL
    SELECT io.transformation_id, MIN(b.depth) + 1 FROM @io io
        JOIN best b ON io.node_id = b.id AND io.direction = :io_dir
    WHERE b.depth + 1 <= :depth AND io.transformation_id != :start
    GROUP BY io.transformation_id
"""


# The declared features among what _REACH finds, in the same statement: a store answers impact
# without sending every reached id back (10^6 rows for a root) to be filtered in Python. A
# transformation that shares its id with a feature counts when reached, as in a walk.
# - The walk starts only if the store declares a feature at all (the seed's EXISTS): a store
#   without features answers at once, whichever plan the database picks.
# - Both tests are uncorrelated IN lists, each built once and only when needed (SQLite: an
#   ephemeral index; PostgreSQL: a hashed SubPlan). The second used to be an EXISTS correlated
#   with n over the walk's result; no database indexes a CTE, so each feature the first test
#   missed scanned the whole walk again (SQLite: 335 s instead of 0.3 s for a node reaching
#   1.1 * 10^5 of 10^6 nodes on a store with 10^4 features).
# - CASE, not OR: with an OR of two IN lists SQLite drives both lists through the nodes index
#   (MULTI-INDEX OR), so it always builds the second one: +25% on a root reaching everything.
_IMPACT = """
    WITH RECURSIVE reach(id) AS (
        SELECT * FROM ({seed}) AS seed
        WHERE EXISTS (SELECT 1 FROM nodes WHERE kind = 'Feature')
        UNION
        SELECT e.dst FROM @edges e JOIN reach r ON e.src = r.id
    )
    SELECT n.id FROM nodes n
    WHERE n.kind = 'Feature' AND n.id != :start AND CASE
        WHEN n.id IN (SELECT id FROM reach) THEN TRUE
        ELSE n.id IN (
            SELECT io.transformation_id FROM @io io JOIN reach r ON io.node_id = r.id
            WHERE io.direction = 'in'
        )
    END
"""


# Every transformation with runs, one seek each through run_log's key order (a loose index scan,
# where SELECT DISTINCT would read every run): t(id), NULL last.
_TRANSFORMATIONS_WITH_RUNS = """
    WITH RECURSIVE t(id) AS (
        SELECT min(transformation_id) FROM runs
        UNION ALL
        SELECT (SELECT min(transformation_id) FROM runs WHERE transformation_id > t.id)
        FROM t WHERE t.id IS NOT NULL
    )"""

# The newest :limit runs over every transformation, through run_log's key order alone: the
# transformations are walked (_TRANSFORMATIONS_WITH_RUNS), each one's :limit-th
# newest start found by a short walk of its index range, and only runs at or after it are read
# and merged. ~1 ms at 10^6 runs, against ~0.6 s for sorting the whole table.
_NEWEST_RUNS = (
    _TRANSFORMATIONS_WITH_RUNS
    + """,
    cut(id, start_us) AS MATERIALIZED (
        SELECT t.id, coalesce(
            (SELECT x.started_us FROM runs x WHERE x.transformation_id = t.id{x_filters}
             ORDER BY x.started_us DESC LIMIT 1 OFFSET :offset),
            -9223372036854775807)  -- fewer runs than the limit: all of them
        FROM t WHERE t.id IS NOT NULL
    )
    SELECT r.record FROM cut JOIN run_records r ON r.transformation_id = cut.id
    WHERE r.started_us >= cut.start_us{r_filters}
    ORDER BY r.started_us DESC, r.run_id DESC LIMIT :limit
"""
)


# One run by id. run_log is kept in order of (transformation, start, id), not by id: an id this
# SDK made (a UUIDv7, whose first 48 bits are its start's millisecond) is found by seeks, that
# millisecond of each transformation's runs (_TRANSFORMATIONS_WITH_RUNS).
_RUN_BY_ID = (
    _TRANSFORMATIONS_WITH_RUNS
    + """
    SELECT r.record FROM t JOIN run_records r ON r.transformation_id = t.id
    WHERE r.started_us BETWEEN :from_us AND :to_us AND r.run_id = :id
"""
)
_UUID7 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def _uuid7_ms(run_id: str) -> int | None:
    """The millisecond a UUIDv7 names, None for any other id."""
    if _UUID7.fullmatch(run_id) is None:
        return None
    return int(run_id[:8] + run_id[9:13], 16)


def _utc(us: int) -> _dt.datetime:
    return _dt.datetime.fromtimestamp(us / 1_000_000, _dt.timezone.utc)


def _seed_ids(kind: NodeKind) -> str:
    """Where a walk from ``:start`` begins: a transformation's ``:end_dir`` nodes, or itself."""
    if kind == "Transformation":
        return "SELECT node_id FROM @io WHERE transformation_id = :start AND direction = :end_dir"
    # {id:start}: a parameter with the id columns' collation (the recursive CTE's seed).
    return "SELECT {id:start}"


class SQLBackend:
    """A lineage store in an SQL database, read through ``dialect``.

    The graph comes from completed runs (tables ``transformation_io`` and ``edges``); with
    ``include_failed`` from every run (the ``*_with_failed`` views, which add the failed tables).
    With ``until``, the backend sees the store as it stood then (see ``SQLDialect.snapshot``).
    """

    def __init__(
        self,
        dialect: SQLDialect,
        location: str,
        *,
        include_failed: bool = False,
        until: _dt.datetime | None = None,
    ) -> None:
        self.dialect = dialect
        self.location = location
        self.include_failed = include_failed
        #: The moment this backend sees the store as of (None: everything recorded).
        self.until = until
        self._tables = (
            {"@io": "io_with_failed", "@edges": "edges_with_failed"}
            if include_failed
            else {"@io": "transformation_io", "@edges": "edges"}
        )
        self._conn: Connection | None = dialect.connect(location)
        if until is not None:
            try:
                for statement in dialect.snapshot(to_us(until)):
                    self._conn.execute(statement)
            except BaseException:
                self.close()
                raise

    def __repr__(self) -> str:
        when = f", as of {self.until.isoformat()}" if self.until is not None else ""
        return f"SQLBackend({self.dialect.name}:{self.location}{when})"

    def __del__(self) -> None:
        self.close()

    def close(self) -> None:
        conn, self._conn = getattr(self, "_conn", None), None
        if conn is not None:
            conn.close()

    def _rows(self, text: str, **params: Any) -> Iterable[Any]:
        if self._conn is None:
            raise ValueError(f"the lineage store {self.location} is closed")
        # @io and @edges name the graph tables; their names come from the constants above only.
        for token, table in self._tables.items():
            text = text.replace(token, table)
        return rows(self._conn, self.dialect, text, params)

    def _one(self, text: str, **params: Any) -> Any:
        for row in self._rows(text, **params):
            return row
        return None

    def _column(self, text: str, **params: Any) -> list[Any]:
        return [row[0] for row in self._rows(text, **params)]

    # --- history ---------------------------------------------------------------------------------
    def changes(self) -> ChangeSource:
        return SQLChangeSource(lambda text, params: self._rows(text, **params), self.dialect)

    def as_of(self, until: _dt.datetime) -> SQLBackend:
        """The same store on a connection of its own that sees it as it stood at ``until``."""
        return SQLBackend(
            self.dialect, self.location, include_failed=self.include_failed, until=until
        )

    def _record(self, value: object) -> Record:
        record = from_dict(self.dialect.record(value))
        return as_seen(record) if isinstance(record, Run) else record

    # --- vertices ------------------------------------------------------------------------------
    def kind(self, ident: str) -> NodeKind | None:
        row = self._one(_KIND, id=ident)
        return None if row is None or row[0] is None else str(row[0])  # type: ignore[return-value]

    def declaration(self, ident: str) -> DataSource | Feature | Transformation | None:
        for table in ("nodes", "transformations"):
            row = self._one(f"SELECT record FROM {table} WHERE id = :id", id=ident)
            if row:
                return self._record(row[0])  # type: ignore[return-value]
        return None

    def declaration_revisions(self, ident: str) -> list[DeclarationRevision]:
        sql = "SELECT record, recorded_us FROM declarations WHERE id = :id ORDER BY recorded_us"
        states = [
            (cast(Declaration, self._record(record)), _utc(int(us)))
            for record, us in self._rows(sql, id=ident)
        ]
        if self.until is not None:  # as of a moment: the revisions recorded by then
            states = [(r, when) for r, when in states if when <= self.until]
        return declaration_revisions(states)

    def declared_node_ids(self, kind: NodeKind | None = None) -> set[str]:
        if kind is None:
            return set(self._column("SELECT id FROM nodes"))
        return set(self._column("SELECT id FROM nodes WHERE kind = :kind", kind=kind))

    def referenced_node_ids(self) -> set[str]:
        return set(self._column("SELECT DISTINCT node_id FROM @io"))

    def transformation_ids(self) -> set[str]:
        return set(
            self._column(
                "SELECT id FROM transformations UNION SELECT transformation_id FROM "
                "@io UNION SELECT transformation_id FROM runs"
            )
        )

    def edges(self) -> Iterable[tuple[str, str, str]]:
        return [tuple(r) for r in self._rows("SELECT src, transformation_id, dst FROM @edges")]

    def io(self, transformation: str, direction: Direction) -> list[str]:
        return self._column(
            "SELECT node_id FROM @io WHERE transformation_id = :t "
            "AND direction = :direction ORDER BY node_id",
            t=transformation,
            direction=direction,
        )

    # --- columns -------------------------------------------------------------------------------
    def column_edges(self) -> Iterable[ColumnRow]:
        sql = "SELECT src, column_name, transformation_id, dst, kind FROM column_edges"
        return [(s, c, t, d, k or None) for s, c, t, d, k in self._rows(sql)]

    def whole_edges(self) -> Iterable[tuple[str, str, str]]:
        sql = "SELECT src, transformation_id, dst FROM edges WHERE whole = 1"
        if self.include_failed:  # failed runs' edges count as whole
            sql += " UNION SELECT src, transformation_id, dst FROM failed_edges"
        return [tuple(r) for r in self._rows(sql)]

    def columns_of(self, source: str) -> set[str]:
        sql = "SELECT DISTINCT column_name FROM column_edges WHERE src = :src"
        return set(self._column(sql, src=source))

    def columns_into(self, targets: list[str]) -> Iterable[tuple[str, str]]:
        sql = "SELECT DISTINCT src, column_name FROM column_edges WHERE dst {ids:ids}"
        found: set[tuple[str, str]] = set()
        for i in range(0, len(targets), _BATCH):
            batch = self.dialect.id_list(targets[i : i + _BATCH])
            found.update((s, c) for s, c in self._rows(sql, ids=batch))
        return found

    def column_dependents(self, source: str, column: str) -> set[str]:
        sql = (
            "SELECT dst FROM edges WHERE src = :src AND whole = 1 UNION "
            "SELECT dst FROM column_edges WHERE src = :src AND column_name = :column"
        )
        if self.include_failed:  # failed runs' edges count as whole
            sql += " UNION SELECT dst FROM failed_edges WHERE src = :src"
        return set(self._column(sql, src=source, column=column))

    # --- traversal -----------------------------------------------------------------------------
    def walk(self, start: str, kind: NodeKind, depth: int | None, forward: bool) -> dict[str, int]:
        near, far = ("src", "dst") if forward else ("dst", "src")
        params: dict[str, Any] = {
            "start": start,
            "io_dir": "in" if forward else "out",
            "end_dir": "out" if forward else "in",
        }
        seed_ids = _seed_ids(kind)
        seed = seed_ids.replace("SELECT node_id", "SELECT node_id, 1").replace(
            "SELECT {id:start}", "SELECT {id:start}, 0"
        )
        if depth is None:
            # Rows of just the id: UNION de-duplicates them, so cycles end the recursion.
            sql = _REACH.format(seed=seed_ids, near=near, far=far)
        else:
            params["depth"] = depth
            sql = _BOUNDED.format(seed=seed, near=near, far=far)
        found: dict[str, int] = {}
        for ident, d in self._rows(sql, **params):
            if ident not in found or d < found[ident]:
                found[ident] = d
        return found

    def impact(self, start: str, kind: NodeKind) -> set[str]:
        sql = _IMPACT.format(seed=_seed_ids(kind))
        return set(self._column(sql, start=start, end_dir="out"))

    def steps(self, ids: list[str], forward: bool) -> Iterator[tuple[str, str]]:
        near, far = ("src", "dst") if forward else ("dst", "src")
        sql = (
            f"SELECT DISTINCT {near}, {far} FROM @edges WHERE {near} {{ids:ids}} "
            f"ORDER BY {near}, {far}"
        )
        for i in range(0, len(ids), _BATCH):
            batch = self.dialect.id_list(ids[i : i + _BATCH])
            yield from (tuple(row) for row in self._rows(sql, ids=batch))

    def step_label(self, src: str, dst: str) -> str:
        (t,) = self._one(
            "SELECT min(transformation_id) FROM @edges WHERE src = :src AND dst = :dst",
            src=src,
            dst=dst,
        )
        return str(t)

    def path(self, starts: list[str], ends: list[str]) -> list[str] | None:
        return algorithms.labelled_path(starts, ends, self.steps, self.step_label)

    # --- runs ----------------------------------------------------------------------------------
    def runs(self, query: RunQuery) -> list[Run]:
        clauses: list[str] = []
        params: dict[str, Any] = {}
        if query.transformation is not None:
            clauses.append("transformation_id = :transformation")
            params["transformation"] = query.transformation
        if query.status is not None:
            clauses.append("status = :status")
            params["status"] = query.status
        if query.since is not None:
            clauses.append("started_us >= :since_us")
            params["since_us"] = int(query.since.timestamp() * 1_000_000)
        if query.transformation is None and query.limit is not None:
            # No index orders every run by start (it would cost each run's commit a page):
            # the newest runs of each transformation, merged (see _NEWEST_RUNS).
            filters = "".join(f" AND x.{c}" for c in clauses)
            sql = _NEWEST_RUNS.format(x_filters=filters, r_filters=filters.replace("x.", "r."))
            params |= {"limit": query.limit, "offset": max(query.limit - 1, 0)}
            return [self._record(value) for (value,) in self._rows(sql, **params)]  # type: ignore[misc]
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = f"SELECT record FROM run_records {where} ORDER BY started_us DESC, run_id DESC"
        if query.limit is not None:
            sql += " LIMIT :limit"
            params["limit"] = query.limit
        return [self._record(value) for (value,) in self._rows(sql, **params)]  # type: ignore[misc]

    def run(self, run_id: str) -> Run | None:
        ms = _uuid7_ms(run_id)
        row = None
        if ms is not None:
            row = self._one(_RUN_BY_ID, id=run_id, from_us=ms * 1000, to_us=ms * 1000 + 999)
        if row is None:  # another producer's id, or a start its id does not name: every row
            row = self._one("SELECT record FROM run_records WHERE run_id = :id", id=run_id)
        return self._record(row[0]) if row else None  # type: ignore[return-value]

    def versions(self, transformation: str) -> list[VersionInfo]:
        found = self._rows(
            "SELECT version, source_sha256, git_commit, git_tag, first_run_us, last_run_us, runs "
            "FROM transformation_versions WHERE transformation_id = :t ORDER BY first_run_us",
            t=transformation,
        )
        return [
            VersionInfo(
                version=v,
                source_sha256=h,
                commit=c,
                tag=tag,
                first_run=_utc(first),
                last_run=_utc(last),
                runs=n,
            )
            for v, h, c, tag, first, last, n in found
        ]

    def records(self) -> Iterator[Record]:
        for sql in (
            "SELECT record FROM nodes ORDER BY id",
            "SELECT record FROM transformations ORDER BY id",
            "SELECT record FROM run_records ORDER BY started_us, run_id",
        ):
            for (value,) in self._rows(sql):
                yield self._record(value)
