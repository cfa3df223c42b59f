"""Retention for the SQL stores: remove old runs, never the newest of a transformation.

``lineage prune --older-than 90d`` comes here (through :func:`lineage_sdk.stores.prune_store`),
inside the caller's transaction, for SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from typing import Any

import attrs

from .sqlschema import GRAPH_TABLES, Dialect

__all__ = ["Pruned", "prune"]

# Runs older than the cut-off, except the newest run of each transformation.
_OLD_RUNS = """
    SELECT run_id, transformation_id, started_us FROM runs r
    WHERE started_us < ? AND started_us < (
        SELECT max(started_us) FROM runs n WHERE n.transformation_id = r.transformation_id
    )
    ORDER BY transformation_id, started_us, run_id
"""
# Nodes those runs read or wrote that no other (kept) run references (run_io: both layouts).
_ORPHANED_NODES = """
    SELECT DISTINCT io.node_id FROM run_io io
    WHERE io.transformation_id {any_id} AND io.run_id {any_id}
      AND NOT EXISTS (SELECT 1 FROM run_io k WHERE k.node_id = io.node_id
                      AND NOT (k.run_id {any_id}))
    ORDER BY io.node_id
"""
# Graph rows no kept run supports any more (a transformation's merged inputs and outputs, and
# the derivation edges between a kept run's inputs and outputs).
_STALE_IO = """DELETE FROM {table} WHERE NOT EXISTS (
        SELECT 1 FROM run_io i
        WHERE i.transformation_id = {table}.transformation_id AND i.status {status}
          AND i.direction = {table}.direction AND i.node_id = {table}.node_id)"""
_STALE_EDGES = """DELETE FROM {table} WHERE NOT EXISTS (
        SELECT 1 FROM run_io i
        JOIN run_io o ON o.transformation_id = i.transformation_id
                     AND o.started_us = i.started_us AND o.run_id = i.run_id
                     AND o.direction = 'out' AND o.node_id = {table}.dst
        WHERE i.transformation_id = {table}.transformation_id AND i.status {status}
          AND i.direction = 'in' AND i.node_id = {table}.src)"""
# The graph tables of completed runs, then those of failed runs (see GRAPH_TABLES).
_STALE_GRAPH_ROWS = [
    template.format(table=table, status=status)
    for completed, status in ((True, "= 'completed'"), (False, "<> 'completed'"))
    for template, table in zip((_STALE_IO, _STALE_EDGES), GRAPH_TABLES[completed], strict=True)
]
# Column rows go with their edge. (An edge's columns and whole flag are the union over the runs
# that made it; a kept edge keeps them: an over-approximation, never a lost column.)
_STALE_GRAPH_ROWS.append(
    """DELETE FROM column_edges WHERE NOT EXISTS (
        SELECT 1 FROM edges e WHERE e.src = column_edges.src AND e.dst = column_edges.dst
        AND e.transformation_id = column_edges.transformation_id)"""
)


@attrs.frozen(slots=True)
class Pruned:
    """What a prune removed (or, in a dry run, would remove)."""

    runs: list[tuple[str, str]]  # (run id, transformation id)
    nodes: list[str]


def prune(conn: Any, dialect: Dialect, cutoff_us: int, *, dry_run: bool) -> Pruned:
    """Remove runs started before ``cutoff_us`` inside the caller's transaction.

    The newest run of each transformation always stays, and so does every node a kept run
    references; graph rows only removed runs supported go with them.
    """
    old = [tuple(row) for row in conn.execute(dialect.sql(_OLD_RUNS), [cutoff_us]).fetchall()]
    if not old:
        return Pruned([], [])
    ids = dialect.id_list([run_id for run_id, _, _ in old])
    transformations = dialect.id_list(sorted({t for _, t, _ in old}))
    orphaned = dialect.sql(_ORPHANED_NODES.format(any_id=dialect.any_id))
    nodes = [row[0] for row in conn.execute(orphaned, [transformations, ids, ids]).fetchall()]
    if not dry_run:
        starts = dialect.id_list(sorted({s for _, _, s in old}))
        for table in ("legacy_run_io", "run_log"):  # legacy_run_io: runs of older layouts
            conn.execute(
                dialect.sql(f"DELETE FROM {table} WHERE {dialect.run_keys_in()}"),
                [transformations, starts, ids],
            )
        if nodes:
            node_ids = dialect.id_list(nodes)
            conn.execute(dialect.sql(f"DELETE FROM nodes WHERE id {dialect.any_id}"), [node_ids])
        for statement in _STALE_GRAPH_ROWS:
            conn.execute(statement)
    return Pruned([(str(a), str(b)) for a, b, _ in old], nodes)
