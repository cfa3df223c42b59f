"""Writing a lineage store: the batches of both SQL stores, planned once for SQLite and PostgreSQL.

The tables and their migrations are :mod:`~lineage_sdk.sinks.sqlschema`, a run's rows
:mod:`~lineage_sdk.sinks.sqlrows`, the statements' texts :mod:`~lineage_sdk.sinks.sqlinserts`,
retention :mod:`~lineage_sdk.sinks.sqlretention`. Upserts are
``INSERT ... ON CONFLICT`` in both databases (SQLite >= 3.24). A declaration's row keeps its
record's JSON as text, a run's row what no column holds (the run_records view rebuilds the
rest), so reading back is exact in both stores.

A batch is planned once (:func:`plan_batch`: statements with many rows each) and each store runs
the plan in one transaction. The common batch, one run of a revision this process wrote before,
is one row (:func:`~lineage_sdk.sinks.sqlrows.known_run_row`) and one cached statement
(:func:`~lineage_sdk.sinks.sqlinserts.insert_run_sql`); many such runs are their rows alone
(:func:`plan_known_runs`). A pending run (:mod:`lineage_sdk.pending`) becomes its row without
its Run being built. Shared rows (nodes, transformations, graph rows) are taken in one fixed
order, sorted by key: two PostgreSQL transactions upserting the same rows in different orders
would deadlock.
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
from .sqlinserts import (
    IGNORE,
    INSERT_RUNS,
    REPLACE_RUNNING,
    Statement,
    insert_rows,
    insert_runs,
    values_sql,
)
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
        insert_rows(plan, dialect, head, rows, tail=IGNORE)
    return out, plan


@attrs.frozen(slots=True)
class Plan:
    """The statements that write a batch, in lock order, and the graph rows they write."""

    statements: list[Statement]
    graph_rows: GraphRows

    @property
    def private(self) -> bool:
        """True when no statement touches rows another writer may hold (only this run's)."""
        return not any(s.shared for s in self.statements)


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
    insert_runs(plan, dialect, rows)
    return Plan(plan, (set(), set(), set()))


def _known_run_statement(dialect: Dialect, record: Record, parts: RunParts) -> Statement | None:
    row = known_run_row(record, parts)
    if row is None:
        return None
    # One row: plain VALUES, one scalar parameter each (cheaper to adapt than 13 arrays).
    sql = values_sql(dialect, INSERT_RUNS, REPLACE_RUNNING, len(row), 1)
    return Statement(sql, list(row), False)


def _plan_declarations(
    plan: list[Statement],
    dialect: Dialect,
    nodes: Sequence[DataSource | Feature],
    transformations: Sequence[Transformation],
) -> None:
    now = time.time_ns() // 1000
    if nodes:
        insert_rows(
            plan,
            dialect,
            "INSERT INTO nodes (id, kind, record, updated_us)",
            [(n.id, n.kind, dumps(n), now) for n in nodes],
            tail="ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, "
            "record = excluded.record, updated_us = excluded.updated_us",
        )
    if transformations:
        insert_rows(
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
        insert_rows(
            plan,
            dialect,
            "INSERT INTO revisions (id, transformation_id, record, version, source_sha256, "
            "git_commit, git_tag)",
            sorted(revision_row(v) for v in revisions.values()),
            tail=IGNORE,
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
            insert_rows(plan, dialect, head, io_rows, tail=IGNORE)
        parts.pending_revisions.update(revisions)
    if processes:
        insert_rows(
            plan,
            dialect,
            "INSERT INTO processes (id, record)",
            sorted(process_row(p) for p in processes.values()),
            tail=IGNORE,
        )
        parts.pending_processes.update(processes)
    insert_runs(plan, dialect, run_rows)
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
        insert_rows(plan, dialect, head, io_rows, tail=IGNORE)
    for table in sorted({row[0] for row in edges}):
        edge_rows = sorted(row[1:] for row in edges if row[0] == table)
        if table == "failed_edges":
            head = "INSERT INTO failed_edges (src, transformation_id, dst)"
            insert_rows(plan, dialect, head, edge_rows, tail=IGNORE)
            continue
        # An edge once derived from the whole source stays whole: every column counts.
        head = "INSERT INTO edges (src, transformation_id, dst, whole)"
        tail = (
            "ON CONFLICT (src, transformation_id, dst) DO UPDATE SET whole = excluded.whole "
            "WHERE excluded.whole > edges.whole"
        )
        flag = 0 if table == _NARROWED else 1
        insert_rows(plan, dialect, head, [(*row, flag) for row in edge_rows], tail=tail)
    if columns:
        head = "INSERT INTO column_edges (src, column_name, transformation_id, dst, kind)"
        insert_rows(plan, dialect, head, sorted(columns), tail=IGNORE)
