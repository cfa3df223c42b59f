"""Writing a lineage store: the batches of both SQL stores, planned once for SQLite and PostgreSQL.

The tables and their migrations are :mod:`~lineage_sdk.sinks.sqlschema`, a run's rows
:mod:`~lineage_sdk.sinks.sqlrows`, retention :mod:`~lineage_sdk.sinks.sqlretention`. Upserts are
``INSERT ... ON CONFLICT`` in both databases (SQLite >= 3.24). A declaration's row keeps its
record's JSON as text, a run's row what no column holds (the run_records view rebuilds the
rest), so reading back is exact in both stores.

A batch is planned once (:func:`plan_batch`: statements with many rows each) and each store runs
the plan in one transaction. The common batch, one run of a revision this process wrote before,
is one row (:func:`~lineage_sdk.sinks.sqlrows.known_run_row`) and one cached statement
(:func:`insert_run_sql`); a pending run (:mod:`lineage_sdk.pending`) becomes its row without its
Run being built. Shared rows
(nodes, transformations, graph rows) are taken in one fixed order, sorted by key: two PostgreSQL
transactions upserting the same rows in different orders would deadlock.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from typing import Any, cast

import attrs

from ..pending import PendingRun, built, is_run
from ..records import DataSource, Declaration, Feature, Record, Run, Transformation
from ..revisions import Process, Revision
from ..serde import dumps, from_dict
from .declarations import declaration_key, take_declaration
from .sqlrows import (
    RunParts,
    known_run_row,
    micros,
    pending_run_row,
    process_row,
    revision_row,
    run_row,
)
from .sqlschema import GRAPH_TABLES, Dialect

__all__ = [
    "ColumnRow",
    "GraphRow",
    "GraphRows",
    "Plan",
    "Statement",
    "insert_run_sql",
    "iter_records",
    "merge_stored_declarations",
    "plan_batch",
    "plan_known_runs",
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


_ROWS_PER_STATEMENT = 500  # the statement texts of rarer batches: at most 500 sizes


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
    per_statement = max(1, min(_ROWS_PER_STATEMENT, dialect.max_parameters // len(rows[0])))
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        sql = _values_sql(dialect, head, tail, len(chunk[0]), len(chunk))
        plan.append(Statement(sql, [value for row in chunk for value in row], shared))


# Statement texts depend on the table, the dialect and the number of rows only: built once.
# (Keyed by the dialect's name: hashing a whole Dialect per statement costs more than a lookup.)
_SQL_TEXTS: dict[tuple[str, str, str, int, int], str] = {}


def _insert_runs(plan: list[Statement], dialect: Dialect, rows: Sequence[Sequence[Any]]) -> None:
    """Run rows (:func:`~lineage_sdk.sinks.sqlrows.run_row`): an async batch of runs (up to
    2,048) is one statement where the parameter limit allows, which SQLite runs as its own
    transaction (see ``sqlite._transaction``).

    The statement's rows are the next power of two, padded with rows of NULLs that it leaves
    out (a run id is never NULL): a few statement texts, so the driver's statement cache holds
    a few prepared statements (~1 MiB each at 1,024 rows), not one per batch size.
    """
    if dialect.array_rows:
        _insert(plan, dialect, _INSERT_RUNS, rows, tail=_REPLACE_RUNNING, shared=False)
        return
    width = len(rows[0])
    most = max(1, dialect.max_parameters // width)
    for start in range(0, len(rows), most):
        chunk = rows[start : start + most]
        size = min(1 << (len(chunk) - 1).bit_length(), most)
        params = [value for row in chunk for value in row]
        if size > len(chunk):
            params += [None] * (width * (size - len(chunk)))
        plan.append(Statement(_padded_runs_sql(dialect, width, size), params, False))


_PADDED_RUNS_SQL: dict[tuple[str, int, int], str] = {}


def _padded_runs_sql(dialect: Dialect, width: int, count: int) -> str:
    key = (dialect.name, width, count)
    sql = _PADDED_RUNS_SQL.get(key)
    if sql is None:
        group = "(" + ", ".join("?" * width) + ")"
        rows = ", ".join([group] * count)
        # SQLite names a VALUES list's columns column1, column2...; the WHERE also keeps the
        # upsert clause from parsing as part of the SELECT.
        sql = _PADDED_RUNS_SQL[key] = dialect.sql(
            f"{_INSERT_RUNS} SELECT * FROM (VALUES {rows}) WHERE column1 IS NOT NULL "
            f"{_REPLACE_RUNNING}"
        )
    return sql


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


def stored_runs_query(dialect: Dialect, records: Sequence[Record]) -> Statement:
    """The query of which of the batch's run ids a store holds already (found by their whole
    key, the one run_log is kept in order of: a few seeks, never a scan)."""
    runs = [cast(Run, r) for r in built([r for r in records if is_run(r)])]
    columns: list[list[Any]] = [
        [r.transformation for r in runs],
        [micros(r.started_at) for r in runs],
        [r.run_id for r in runs],
    ]
    sql = dialect.sql(f"SELECT run_id FROM run_log WHERE {dialect.run_keys_in()}")
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
    if not skip:
        known_runs = plan_known_runs(dialect, records, parts)
        if known_runs is not None:
            return known_runs
    parts.clear_pending()
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


def plan_known_runs(dialect: Dialect, records: Sequence[Record], parts: RunParts) -> Plan | None:
    """The plan of the common batch, or None for any other: runs of revisions whose revision,
    process and graph rows this process wrote before (the common batch: a function called
    again), each once. It writes their run rows and nothing else, and needs nothing from the
    store, so it can be made before the write lock is taken."""
    parts.clear_pending()  # a plan that did not commit must not be promoted by this one's commit
    if len(records) == 1:
        statement = _known_run_statement(dialect, records[0], parts)
        return None if statement is None else Plan([statement], (set(), set(), set()))
    rows = parts.known_pending_rows(records)
    if rows is None:
        return None
    plan: list[Statement] = []
    _insert_runs(plan, dialect, rows)
    return Plan(plan, (set(), set(), set()))


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
            sorted(revision_row(v) for v in revisions.values()),
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
            sorted(process_row(p) for p in processes.values()),
            tail=_IGNORE,
        )
        parts.pending_processes.update(processes)
    _insert_runs(plan, dialect, run_rows)
    return lineage_runs


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
