"""Writing a lineage store: the batches of both SQL stores, planned once for SQLite and PostgreSQL.

The tables and their migrations are :mod:`~lineage_sdk.sinks.sqlschema`; retention is
:mod:`~lineage_sdk.sinks.sqlretention`. Upserts are ``INSERT ... ON CONFLICT`` in both databases
(SQLite >= 3.24). Every row also keeps its record's JSON as text, so reading back is exact in
both stores.

A batch is planned once (:func:`plan_batch`: statements with many rows each) and each store runs
the plan in one transaction. The common batch, one run of a revision this process wrote before,
is one row (:func:`known_run_row`) and one cached statement (:func:`insert_run_sql`); a pending
run (:mod:`lineage_sdk.pending`) becomes its row without its Run being built. Shared rows
(nodes, transformations, graph rows) are taken in one fixed order, sorted by key: two PostgreSQL
transactions upserting the same rows in different orders would deadlock.
"""

from __future__ import annotations

import datetime
import json
import json.encoder
import math
import operator
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from typing import Any, cast

import attrs

from ..pending import PendingRun, built, is_run
from ..records import DataSource, Declaration, Feature, Record, Run, Transformation
from ..revisions import Process, Revision, split_run
from ..serde import _encode, converter, dumps, from_dict, line_safe
from .declarations import declaration_key, take_declaration
from .sqlschema import GRAPH_TABLES, NARROW_RECORD_TAIL, Dialect

__all__ = [
    "ColumnRow",
    "GraphRow",
    "GraphRows",
    "Plan",
    "RunParts",
    "SharedParts",
    "Statement",
    "insert_run_sql",
    "iter_records",
    "known_run_row",
    "merge_stored_declarations",
    "pending_run_row",
    "plan_batch",
    "run_row",
    "split_records",
    "stored_runs_query",
]

#: A graph row with its table first: ``(table, transformation, direction, node)`` or
#: ``(table, src, transformation, dst)``.
GraphRow = tuple[str, str, str, str]
#: ``(src, column, transformation, dst, kind or '')`` of the column_edges table.
ColumnRow = tuple[str, str, str, str, str]
#: A batch's graph rows: the io rows, the edge rows and the column rows.
GraphRows = tuple[set[GraphRow], set[GraphRow], set[ColumnRow]]
#: run completed? -> (io table, edge table); table names come from here only.
#: The edges table's rows that a run derived from some columns only (``whole = 0``): a key of
#: their own in the cache, so that a later whole-source run of the same edge is still written.
_NARROWED = "edges (narrowed)"
# Columns that are not text, for typed arrays (PostgreSQL's unnest).
_COLUMN_TYPES = {"whole": "INTEGER"}


def _array_type(column: str) -> str:
    return "BIGINT" if column.endswith(("_us", "_ns")) else _COLUMN_TYPES.get(column, "TEXT")


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


def merge_stored_declarations(
    dialect: Dialect,
    records: Sequence[Record],
    query: Callable[[str, list[Any]], Iterable[Sequence[Any]]],
) -> tuple[Sequence[Record], list[Statement]]:
    """The batch with each declaration merged over what the store holds, and the statements
    that record the new revisions (none when no declaration is new or changed anything).

    ``query`` runs a statement in the writer's transaction. A change is logged at INFO here,
    once, by the writer that makes it. A batch without declarations costs nothing.
    """
    declared = [r for r in records if isinstance(r, (DataSource, Feature, Transformation))]
    if not declared:
        return records, []
    if dialect.declarations_lock is not None:
        list(query(dialect.declarations_lock, []))
    latest: dict[str, Declaration] = {}
    for table, kinds in (("nodes", (DataSource, Feature)), ("transformations", (Transformation,))):
        ids = sorted({r.id for r in declared if isinstance(r, kinds)})
        if ids:
            sql = dialect.sql(f"SELECT record FROM {table} WHERE id {dialect.any_id}")
            for (text,) in query(sql, [dialect.id_list(ids)]):
                stored = cast(Declaration, from_dict(json.loads(text)))
                latest[declaration_key(stored)] = stored
    revised: dict[str, Declaration] = {}
    for record in declared:
        key = declaration_key(record)
        first = key not in latest
        merged, changed = take_declaration(latest, record)
        if first or changed:  # a first declaration is a revision too
            revised[key] = merged
    out = [
        latest[declaration_key(r)] if isinstance(r, (DataSource, Feature, Transformation)) else r
        for r in records
    ]
    plan: list[Statement] = []
    if revised:
        now = time.time_ns() // 1000
        rows = sorted((d.id, d.kind, now, dumps(d)) for d in revised.values())
        head = "INSERT INTO declarations (id, kind, recorded_us, record)"
        _insert(plan, dialect, head, rows, tail=_IGNORE)
    return out, plan


_IGNORE = "ON CONFLICT DO NOTHING"
_ROWS_PER_STATEMENT = 500  # x 11 columns stays far below SQLite's 32766 parameters


@attrs.frozen(slots=True)
class Statement:
    """One statement of a batch, in its dialect; ``shared`` when other writers touch its rows."""

    sql: str
    params: list[Any]
    shared: bool


@attrs.frozen(slots=True)
class Plan:
    """The statements that write a batch, in lock order, and the graph rows they write."""

    statements: list[Statement]
    graph_rows: GraphRows

    @property
    def private(self) -> bool:
        """True when no statement touches rows another writer may hold (only this run's)."""
        return not any(s.shared for s in self.statements)


def _insert(
    plan: list[Statement],
    dialect: Dialect,
    head: str,
    rows: Sequence[Sequence[Any]],
    *,
    tail: str = "",
    shared: bool = True,
) -> None:
    """``head VALUES (...), (...) tail``: many rows per statement, one statement per table.

    A database pays per statement (a round trip, parsing), not per row. With ``array_rows`` the
    rows go as one array per column instead of one placeholder per value.
    """
    if dialect.array_rows:
        sql = _array_sql(dialect, head, tail)
        if len(rows) == 1:
            plan.append(Statement(sql, [[value] for value in rows[0]], shared))
        else:
            plan.append(
                Statement(sql, [list(column) for column in zip(*rows, strict=True)], shared)
            )
        return
    if len(rows) == 1:  # the common batch: one run
        plan.append(
            Statement(_values_sql(dialect, head, tail, len(rows[0]), 1), list(rows[0]), shared)
        )
        return
    for start in range(0, len(rows), _ROWS_PER_STATEMENT):
        chunk = rows[start : start + _ROWS_PER_STATEMENT]
        sql = _values_sql(dialect, head, tail, len(chunk[0]), len(chunk))
        plan.append(Statement(sql, [value for row in chunk for value in row], shared))


# Statement texts depend on the table, the dialect and the number of rows only: built once.
# (Keyed by the dialect's name: hashing a whole Dialect per statement costs more than a lookup.)
_SQL_TEXTS: dict[tuple[str, str, str, int, int], str] = {}


def _values_sql(dialect: Dialect, head: str, tail: str, width: int, count: int) -> str:
    key = (dialect.name, head, tail, width, count)
    sql = _SQL_TEXTS.get(key)
    if sql is None:
        group = "(" + ", ".join("?" * width) + ")"
        sql = dialect.sql(f"{head} VALUES {', '.join([group] * count)} {tail}".rstrip())
        if len(_SQL_TEXTS) < 1024:  # a bounded cache: batch sizes vary
            _SQL_TEXTS[key] = sql
    return sql


def _array_sql(dialect: Dialect, head: str, tail: str) -> str:
    key = (dialect.name, head, tail, -1, -1)
    sql = _SQL_TEXTS.get(key)
    if sql is None:
        columns = head[head.index("(") + 1 : head.rindex(")")].split(",")
        arrays = ", ".join(f"?::{_array_type(c.strip())}[]" for c in columns)
        sql = _SQL_TEXTS[key] = dialect.sql(
            f"{head} SELECT * FROM unnest({arrays}) {tail}".rstrip()
        )
    return sql


def _transformation_row(t: Transformation, now: int) -> tuple[Any, ...]:
    return (t.id, t.version, t.description, t.compute_framework, t.code_reference, dumps(t), now)


_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_MICROSECOND = datetime.timedelta(microseconds=1)


def _us(record_time: datetime.datetime) -> int:
    # Exact integer arithmetic: a float timestamp can be one microsecond off.
    return (record_time - _EPOCH) // _MICROSECOND


class RunParts:
    """Splits runs into narrow rows plus their revisions and processes, written once per store.

    One per sink. ``known_*`` hold what this process committed to the store (revision and
    process ids, and the (revision, completed) pairs whose graph rows are written); ``pending_*``
    what the batch being planned writes, promoted by :meth:`committed` once its transaction
    commits. A run whose revision, process and graph rows are all known costs its row only.
    """

    _CACHE_LIMIT = 4096

    def __init__(self) -> None:
        self.declarations: dict[str, Transformation] = {}
        self.known_revisions: set[str] = set()
        self.known_processes: set[str] = set()
        self.known_graph: set[tuple[str, bool]] = set()
        self.pending_revisions: set[str] = set()
        self.pending_processes: set[str] = set()
        self.pending_graph: set[tuple[str, bool]] = set()
        # A run's shared fields -> its revision, process and the run row's shared columns:
        # split once, not per run.
        self._cache: dict[tuple[Any, ...], SharedParts] = {}
        self._last: tuple[tuple[Any, ...], SharedParts | None] = ((), None)
        # Pending runs: id()s of a revision key -> _PendingParts (which keeps the key alive,
        # so no id is reused while it is cached).
        self._pending: dict[tuple[int, ...], _PendingParts] = {}
        self._last_pending: _PendingParts | None = None

    def parts(self, run: Run) -> SharedParts:
        """The revision and process of ``run`` (with its declaration's descriptive fields)."""
        declaration = self.declarations.get(run.transformation)
        key = (
            run.transformation, run.version, run.inputs, run.outputs, run.derivation,
            run.column_derivation, run.code, run.git, run.code_reference, run.host, run.pid,
            run.python_version, run.sdk_version, run.namespace, declaration,
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
            cached = self._cache[key] = SharedParts(revision, process)
        self._last = (key, cached)
        return cached

    def pending_parts(self, run: PendingRun) -> tuple[SharedParts, str]:
        """The revision and process of a pending run, and its narrow record's tail (see
        _record_tail); its Run is built for the first run of each revision key only."""
        key = run.revision_key()
        last = self._last_pending
        if last is None or not last.matches(key, self.declarations):
            ids = tuple(map(id, key))
            last = self._pending.get(ids)
            if last is None or not last.matches(key, self.declarations):
                built_run = run.to_run()
                if len(self._pending) >= self._CACHE_LIMIT:
                    self._pending.clear()
                last = self._pending[ids] = _PendingParts(
                    key,
                    self.declarations.get(built_run.transformation),
                    self.parts(built_run),
                    _record_tail(built_run),
                )
            self._last_pending = last
        return last.shared, last.tail

    def known_pending_row(self, run: PendingRun) -> tuple[Any, ...] | None:
        """:func:`known_run_row` of a pending run: the common call's path, where everything
        but the run's own fields was decided for an earlier run of the same revision key."""
        last = self._last_pending
        if last is None or not last.matches(run.revision_key(), self.declarations):
            self.pending_parts(run)
            last = cast(_PendingParts, self._last_pending)
        completed = run.status == "completed"
        if completed not in last.stored:
            shared = last.shared
            revision_id = shared.revision.id
            if (
                revision_id not in self.known_revisions
                or shared.process.id not in self.known_processes
                or (revision_id, completed) not in self.known_graph
            ):
                return None
            last.stored.add(completed)
        return pending_run_row(run, last.shared.columns, last.tail)

    def clear_pending(self) -> None:
        """Forget what an earlier plan meant to write (its transaction did not commit)."""
        if not (self.pending_revisions or self.pending_processes or self.pending_graph):
            return
        self.pending_revisions.clear()
        self.pending_processes.clear()
        self.pending_graph.clear()

    def committed(self) -> None:
        """The planned batch committed: its revisions, processes and graph rows are stored."""
        if self.pending_revisions or self.pending_processes or self.pending_graph:
            self.known_revisions |= self.pending_revisions
            self.known_processes |= self.pending_processes
            self.known_graph |= self.pending_graph
            self.clear_pending()


class _PendingParts:
    """A cached revision key of pending runs, with what the runs that share it share."""

    __slots__ = ("declaration", "key", "shared", "stored", "tail")

    def __init__(
        self,
        key: tuple[object, ...],
        declaration: Transformation | None,
        shared: SharedParts,
        tail: str,
    ) -> None:
        self.key = key
        self.declaration = declaration
        self.shared = shared
        self.tail = tail
        #: Statuses (completed?) whose revision, process and graph rows the store is known to
        #: hold; what RunParts knows only grows, so a status once here stays.
        self.stored: set[bool] = set()

    def matches(self, key: tuple[object, ...], declarations: dict[str, Transformation]) -> bool:
        """Whether runs of ``key`` share these parts: the same objects, and the declaration
        the revision was built with is still the sink's latest."""
        mine = self.key
        if len(key) == 5 == len(mine):  # the decorator's keys: unrolled, ~4x cheaper than map
            same = (
                key[0] is mine[0]
                and key[1] is mine[1]
                and key[2] is mine[2]
                and key[3] is mine[3]
                and key[4] is mine[4]
            )
        else:
            same = len(key) == len(mine) and all(map(operator.is_, key, mine))
        return same and declarations.get(self.shared.revision.transformation) is self.declaration


class SharedParts:
    """What the runs of one revision in one process share: written once, referenced per run."""

    __slots__ = ("columns", "process", "revision")

    def __init__(self, revision: Revision, process: Process) -> None:
        self.revision = revision
        self.process = process
        #: The run row's columns that come from the revision and process (see _RUN_COLUMNS).
        self.columns: tuple[Any, ...] = (revision.transformation, revision.id, process.id)


def _record_without_id(record: Revision | Process) -> str:
    # The id is the row's key; null fields are left out (readers default them).
    data = converter().unstructure(record)
    return line_safe(_encode({k: v for k, v in data.items() if v is not None and k != "id"}))


def _own_record(duration_s: float, optional: tuple[str | None, ...], tail: str) -> str:
    """The record of a built Run's row: its duration (any float, so kept here, as ``repr``
    writes it, which json does too), then :func:`_extras_record`. The run_records view adds
    the id, status and (UTC: Run's rule) times from the row's columns, and the revision's and
    the process's fields."""
    duration = (
        float.__repr__(duration_s)
        if type(duration_s) is float and math.isfinite(duration_s)
        else _encode(duration_s)
    )
    return '{"duration_s":' + duration + "," + _extras_record(optional, tail)[1:]


def _record_tail(run: Run) -> str:
    """The end of a run's narrow record: its partitions (if any) and its schema version, made
    line-safe here (a record with nothing else to escape is used as it is)."""
    tail = f',"schema_version":{int(run.schema_version)},"record_type":"run"}}'
    if run.partitions:
        return line_safe(',"partitions":' + _encode(converter().unstructure(run.partitions)) + tail)
    return tail


# The json module's escaping of one string (its C version where present), as _encode does it.
_string: Callable[[str], str] = json.encoder.encode_basestring


_OPTIONAL_OWN_FIELDS = (
    "parent_run_id",
    "parent_transformation",
    "error_type",
    "error_message",
    "error_stack",
)


def stored_runs_query(dialect: Dialect, records: Sequence[Record]) -> Statement:
    """The query of which of the batch's run ids a store holds already (found by their whole
    key, the one run_log is kept in order of: a few seeks, never a scan)."""
    runs = [cast(Run, r) for r in built([r for r in records if is_run(r)])]
    columns: list[list[Any]] = [
        [r.transformation for r in runs],
        [_us(r.started_at) for r in runs],
        [r.run_id for r in runs],
    ]
    sql = dialect.sql(
        f"SELECT run_id FROM run_log WHERE transformation_id {dialect.any_id} "
        f"AND started_us {dialect.any_id} AND run_id {dialect.any_id}"
    )
    return Statement(sql, [dialect.id_list(c) for c in columns], shared=False)


def plan_batch(
    dialect: Dialect,
    records: Sequence[Record],
    known: GraphRows,
    skip: Collection[str] = (),
    parts: RunParts | None = None,
) -> Plan:
    """The statements that write one batch (to run in one transaction, in this order).

    ``known`` holds graph rows this process committed before (a run repeating its lineage, the
    common case, then writes only its own row: one statement). A run stored already makes the
    insert raise the driver's IntegrityError; the caller rolls back, asks
    :func:`stored_runs_query`, and plans again with those ids in ``skip``: the stored run is
    kept, the repeat skipped. Runs may be pending (lineage_sdk.pending): the common batch is
    written without building its Run.
    """
    parts = parts if parts is not None else RunParts()
    parts.clear_pending()
    if len(records) == 1 and not skip:
        statement = _known_run_statement(dialect, records[0], parts)
        if statement is not None:
            return Plan([statement], (set(), set(), set()))
    plan: list[Statement] = []
    runs: Sequence[Run | PendingRun]
    if all(map(is_run, records)):  # runs only, no declarations (async batches)
        runs = cast(Sequence[Run | PendingRun], records)
    else:
        nodes, transformations, runs = split_records(built(records))
        for declared in transformations:  # a revision carries its description and metadata
            parts.declarations[declared.id] = declared
        _plan_declarations(plan, dialect, nodes, transformations)
    # New runs take no shared locks (their keys are new), so they keep the batch's order.
    if len(runs) == 1 and not skip:
        fresh: Sequence[Run | PendingRun] = runs
    else:
        fresh = [r for r in {r.run_id: r for r in runs}.values() if r.run_id not in skip]
    if not fresh:
        return Plan(plan, (set(), set(), set()))
    lineage_runs = _plan_runs(plan, dialect, fresh, parts)
    if not lineage_runs:
        return Plan(plan, (set(), set(), set()))
    io, edges, columns = _graph_rows(lineage_runs)
    io -= known[0]
    edges -= known[1]
    columns -= known[2]
    _plan_graph_rows(plan, dialect, io, edges, columns)
    return Plan(plan, (io, edges, columns))


def known_run_row(record: Record, parts: RunParts) -> tuple[Any, ...] | None:
    """The row of the common batch's run, one (built or pending) whose revision, process and
    graph rows this process wrote before; None for anything else (a declaration, a new
    revision...). Its statement is :func:`insert_run_sql` alone: no other row to write."""
    if type(record) is not Run:
        if isinstance(record, PendingRun):
            return parts.known_pending_row(record)
        return None
    shared = parts.parts(record)
    revision_id = shared.revision.id
    if (
        revision_id not in parts.known_revisions
        or shared.process.id not in parts.known_processes
        or (revision_id, record.status == "completed") not in parts.known_graph
    ):
        return None
    return run_row(record, shared.columns)


def insert_run_sql(dialect: Dialect) -> str:
    """The statement that writes one run row (:func:`run_row`), in ``dialect``."""
    if dialect.array_rows:
        return _array_sql(dialect, _INSERT_RUNS, _REPLACE_RUNNING)
    return _values_sql(dialect, _INSERT_RUNS, _REPLACE_RUNNING, _RUN_COLUMNS.count(",") + 1, 1)


def _known_run_statement(dialect: Dialect, record: Record, parts: RunParts) -> Statement | None:
    row = known_run_row(record, parts)
    if row is None:
        return None
    # One row: plain VALUES, one scalar parameter each (cheaper to adapt than 13 arrays).
    sql = _values_sql(dialect, _INSERT_RUNS, _REPLACE_RUNNING, len(row), 1)
    return Statement(sql, list(row), False)


def _plan_declarations(
    plan: list[Statement],
    dialect: Dialect,
    nodes: Sequence[DataSource | Feature],
    transformations: Sequence[Transformation],
) -> None:
    now = time.time_ns() // 1000
    if nodes:
        _insert(
            plan,
            dialect,
            "INSERT INTO nodes (id, kind, record, updated_us)",
            [(n.id, n.kind, dumps(n), now) for n in nodes],
            tail="ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, "
            "record = excluded.record, updated_us = excluded.updated_us",
        )
    if transformations:
        _insert(
            plan,
            dialect,
            "INSERT INTO transformations (id, version, description, compute_framework, "
            "code_reference, record, updated_us)",
            [_transformation_row(t, now) for t in transformations],
            tail="ON CONFLICT (id) DO UPDATE SET version = excluded.version, "
            "description = excluded.description, compute_framework = excluded.compute_framework, "
            "code_reference = excluded.code_reference, record = excluded.record, "
            "updated_us = excluded.updated_us",
        )


#: The runs table's columns as run_row fills them: the run's own, then SharedParts.columns.
_RUN_COLUMNS = (
    "run_id, parent_run_id, status, started_us, ended_us, duration_ns, record, "
    "transformation_id, revision_id, process_id"
)
_INSERT_RUNS = f"INSERT INTO run_log ({_RUN_COLUMNS})"
# A long run is written as 'running' first (and again as a heartbeat); its end record replaces
# that row. A stored end is never replaced, whatever arrives late.
_REPLACE_RUNNING = (
    "ON CONFLICT (transformation_id, started_us, run_id) DO UPDATE SET "
    "status = excluded.status, ended_us = excluded.ended_us, "
    "duration_ns = excluded.duration_ns, record = excluded.record, "
    "revision_id = excluded.revision_id, process_id = excluded.process_id "
    "WHERE run_log.status = 'running'"
)


def _plan_runs(
    plan: list[Statement], dialect: Dialect, fresh: Sequence[Run | PendingRun], parts: RunParts
) -> list[Run]:
    """The runs' own rows and their new revisions (with their inputs and outputs) and processes.

    Returns the runs whose graph rows this process has not written yet (by revision and status),
    built. A pending run is built only for that, or for the first run of its revision key.
    """
    run_rows = []
    revisions: dict[str, Revision] = {}
    processes: dict[str, Process] = {}
    lineage_runs: list[Run] = []
    for r in fresh:
        if type(r) is not Run:
            known = parts.known_pending_row(cast(PendingRun, r))
            if known is not None:  # the common run: its revision, process and graph rows stored
                run_rows.append(known)
                continue
        if type(r) is Run:
            shared = parts.parts(r)
            row = run_row(r, shared.columns)
        else:
            pending = cast(PendingRun, r)
            shared, tail = parts.pending_parts(pending)
            row = pending_run_row(pending, shared.columns, tail)
        revision_id = shared.revision.id
        if revision_id not in parts.known_revisions:
            revisions[revision_id] = shared.revision
        if shared.process.id not in parts.known_processes:
            processes[shared.process.id] = shared.process
        graph_key = (revision_id, r.status == "completed")
        if graph_key not in parts.known_graph:
            lineage_runs.append(r if type(r) is Run else cast(PendingRun, r).to_run())
            parts.pending_graph.add(graph_key)
        run_rows.append(row)
    # Revisions and processes are shared rows (other writers insert the same ids): key order.
    if revisions:
        _insert(
            plan,
            dialect,
            "INSERT INTO revisions (id, transformation_id, record, version, source_sha256, "
            "git_commit, git_tag)",
            sorted(_revision_row(v) for v in revisions.values()),
            tail=_IGNORE,
        )
        io_rows = sorted(
            {
                (v.id, direction, node)
                for v in revisions.values()
                for direction, nodes in (("in", v.inputs), ("out", v.outputs))
                for node in nodes
            }
        )
        if io_rows:
            head = "INSERT INTO revision_io (revision_id, direction, node_id)"
            _insert(plan, dialect, head, io_rows, tail=_IGNORE)
        parts.pending_revisions.update(revisions)
    if processes:
        _insert(
            plan,
            dialect,
            "INSERT INTO processes (id, record)",
            sorted((p.id, _record_without_id(p)) for p in processes.values()),
            tail=_IGNORE,
        )
        parts.pending_processes.update(processes)
    _insert(plan, dialect, _INSERT_RUNS, run_rows, tail=_REPLACE_RUNNING, shared=False)
    return lineage_runs


def _revision_row(v: Revision) -> tuple[str | None, ...]:
    # The columns readers group and filter runs by (the runs view takes them from here).
    return (
        v.id,
        v.transformation,
        _record_without_id(v),
        v.version,
        v.code.source_sha256 if v.code else None,
        v.git.commit if v.git else None,
        v.git.tag if v.git else None,
    )


def run_row(r: Run, shared: tuple[Any, ...]) -> tuple[Any, ...]:
    """A run's row of run_log: its own fields, then ``shared`` (SharedParts.columns)."""
    started_us = _us(r.started_at)
    ended_us = _us(r.ended_at)
    optional = (r.parent_run_id, r.parent_transformation, r.error_type, r.error_message)
    text = _own_record(r.duration_s, (*optional, r.error_stack), _record_tail(r))
    # A built Run's duration is any float: it stays in the record, exactly.
    return (r.run_id, r.parent_run_id, r.status, started_us, ended_us, None, text, *shared)


def pending_run_row(r: PendingRun, shared: tuple[Any, ...], tail: str) -> tuple[Any, ...]:
    """:func:`run_row` of ``r.to_run()``, the same values, without building the Run: its own
    fields come from the pending run, everything else from its revision's ``shared`` columns
    and ``tail`` (see :meth:`RunParts.pending_parts`). The duration goes in its integer column
    (no float to format); a plain run's record is NULL (NARROW_RECORD_TAIL)."""
    started_ns = r.started_ns
    duration_ns = r.duration_ns
    parent_run_id, parent_transformation = r.parent_ids()
    errors = r.error_fields()
    text = None
    if parent_run_id is not None or parent_transformation is not None or errors != _NO_ERROR:
        text = _extras_record((parent_run_id, parent_transformation, *errors), tail)
    elif tail != NARROW_RECORD_TAIL:
        text = "{" + tail[1:]
    return (
        r.run_id,
        parent_run_id,
        r.status,
        started_ns // 1000,
        (started_ns + duration_ns) // 1000,
        duration_ns,
        text,
        *shared,
    )


def _extras_record(optional: tuple[str | None, ...], tail: str) -> str:
    """A run's own fields that no column holds, null ones left out: ``optional`` (the values
    of _OPTIONAL_OWN_FIELDS) and ``tail`` (:func:`_record_tail`), as JSON. Filled in as text,
    every value a JSON string escaped by the json module's own string encoder: several times
    faster than encoding a dict, and the same JSON value."""
    parts: list[str] = []
    for name, value in zip(_OPTIONAL_OWN_FIELDS, optional, strict=True):
        if value is not None:
            parts += (',"', name, '":', _string(value))
    parts.append(tail)
    return line_safe("{" + "".join(parts)[1:])


_NO_ERROR = (None, None, None)


def _graph_rows(fresh: list[Run]) -> GraphRows:
    """The graph rows the runs make, each keyed by its table.

    Graph rows of completed runs are lineage; a failed run's go to the failed tables. The caches
    key each row by its table, so a row seen failed is still written once completed.
    """
    io: set[GraphRow] = set()
    edges: set[GraphRow] = set()
    columns: set[ColumnRow] = set()
    for r in fresh:
        completed = r.status == "completed"
        io_table, edge_table = GRAPH_TABLES[completed]
        t = r.transformation
        io.update((io_table, t, "in", n) for n in r.inputs)
        io.update((io_table, t, "out", n) for n in r.outputs)
        # Columns narrow completed runs' edges; a failed run's edges count as whole.
        narrowed = {(c.source, c.output) for c in r.column_derivation} if completed else set()
        edges.update(
            (_NARROWED if (src, dst) in narrowed else edge_table, src, t, dst)
            for src, dst in r.edges()
        )
        if completed:
            columns.update(
                (c.source, c.column, t, c.output, c.kind or "") for c in r.column_derivation
            )
    return io, edges, columns


def _plan_graph_rows(
    plan: list[Statement],
    dialect: Dialect,
    io: set[GraphRow],
    edges: set[GraphRow],
    columns: set[ColumnRow],
) -> None:
    for table in sorted({row[0] for row in io}):
        head = f"INSERT INTO {table} (transformation_id, direction, node_id)"
        io_rows = sorted(row[1:] for row in io if row[0] == table)
        _insert(plan, dialect, head, io_rows, tail=_IGNORE)
    for table in sorted({row[0] for row in edges}):
        edge_rows = sorted(row[1:] for row in edges if row[0] == table)
        if table == "failed_edges":
            head = "INSERT INTO failed_edges (src, transformation_id, dst)"
            _insert(plan, dialect, head, edge_rows, tail=_IGNORE)
            continue
        # An edge once derived from the whole source stays whole: every column counts.
        head = "INSERT INTO edges (src, transformation_id, dst, whole)"
        tail = (
            "ON CONFLICT (src, transformation_id, dst) DO UPDATE SET whole = excluded.whole "
            "WHERE excluded.whole > edges.whole"
        )
        flag = 0 if table == _NARROWED else 1
        _insert(plan, dialect, head, [(*row, flag) for row in edge_rows], tail=tail)
    if columns:
        head = "INSERT INTO column_edges (src, column_name, transformation_id, dst, kind)"
        _insert(plan, dialect, head, sorted(columns), tail=_IGNORE)
