"""The in-memory backend: records (a memory sink's, a JSON file's) read once, kept compact."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Iterator

from ..records import DataSource, Declaration, Feature, Record, Run, Transformation
from ..sinks.declarations import take_declaration
from . import algorithms
from .backend import Direction, RunQuery
from .changes.source import ChangeSource, RunsChangeSource
from .compact import CompactGraph
from .liveness import as_seen, latest_per_run
from .model import (
    ColumnRow,
    DeclarationRevision,
    NodeKind,
    VersionInfo,
    declaration_revisions,
)
from .paths import shortest_path

__all__ = ["MemoryBackend"]


def _run_sort_key(run: Run) -> tuple[object, str]:
    return (run.started_at, run.run_id)


class MemoryBackend:
    """Lineage held in memory; built from records in one pass, then read only.

    The graph's structure comes from completed runs; with ``include_failed`` from every run. It
    is kept compact (:class:`~lineage_sdk.graph.compact.CompactGraph`: interned ids and integer
    adjacency), so a whole graph of 10^6 edges takes less memory than networkx's.
    """

    def __init__(self, records: Iterable[Record], *, include_failed: bool = False) -> None:
        self.include_failed = include_failed
        self._ran: set[str] = set()  # transformations with any run, failed ones included
        self._nodes: dict[str, DataSource | Feature] = {}
        self._transformations: dict[str, Transformation] = {}
        # kind:id -> merged declaration, and per id every merged state in order (no times kept)
        self._declared: dict[str, Declaration] = {}
        self._declared_states: dict[str, list[tuple[Declaration, _dt.datetime | None]]] = {}
        self._runs: list[Run] = []
        # Column level, kept sparse (most runs name no columns): the column rows runs named, and
        # the derivation triples no run made from the whole source (every other triple is whole).
        self._column_rows: set[ColumnRow] = set()
        self._narrowed: set[tuple[str, str, str]] = set()
        for record in latest_per_run(records):
            self._add(record)
        self._graph = CompactGraph.build(self._structure_runs())
        self._add_columns()
        self._runs.sort(key=_run_sort_key, reverse=True)

    def _add(self, record: Record) -> None:
        if isinstance(record, (DataSource, Feature, Transformation)):
            merged, _ = take_declaration(self._declared, record, log=False)
            self._declared_states.setdefault(record.id, []).append((merged, None))
            if isinstance(merged, Transformation):
                self._transformations[record.id] = merged
            else:
                self._nodes[record.id] = merged
        elif isinstance(record, Run):
            self._runs.append(as_seen(record))
            self._ran.add(record.transformation)

    def _structure_runs(self) -> Iterator[Run]:
        """The runs whose inputs, outputs and derivation make the graph."""
        for run in self._runs:
            if run.status == "completed" or self.include_failed:
                yield run

    def _add_columns(self) -> None:
        """The column rows, and the triples that count only for the columns runs named."""
        # Columns narrow completed runs' edges; a failed run's edges (shown on request) count
        # as whole, as the SQL stores keep them.
        narrowing = [
            r for r in self._structure_runs() if r.status == "completed" and r.column_derivation
        ]
        if not narrowing:
            return
        for run in narrowing:
            t = run.transformation
            narrowed = {(c.source, c.output) for c in run.column_derivation}
            for c in run.column_derivation:
                self._column_rows.add((c.source, c.column, t, c.output, c.kind))
            self._narrowed.update(
                (src, t, dst) for src, dst in run.edges() if (src, dst) in narrowed
            )
        # A triple some run (of the same transformation) made from the whole source is whole.
        candidates = {t for _, t, _ in self._narrowed}
        for run in self._structure_runs():
            t = run.transformation
            if t not in candidates:
                continue
            columns = run.column_derivation if run.status == "completed" else ()
            narrowed = {(c.source, c.output) for c in columns}
            for src, dst in run.edges():
                if (src, dst) not in narrowed:
                    self._narrowed.discard((src, t, dst))

    # --- vertices ------------------------------------------------------------------------------
    def kind(self, ident: str) -> NodeKind | None:
        if ident in self._nodes:
            return self._nodes[ident].kind  # type: ignore[return-value]
        if ident in self._ran or ident in self._transformations:
            return "Transformation"
        i = self._graph.index.get(ident)
        if i is not None and self._graph.referenced(i):
            return "External"
        return None

    def declaration(self, ident: str) -> DataSource | Feature | Transformation | None:
        node = self._nodes.get(ident)
        return node if node is not None else self._transformations.get(ident)

    def declaration_revisions(self, ident: str) -> list[DeclarationRevision]:
        return declaration_revisions(self._declared_states.get(ident, []))

    def declared_node_ids(self, kind: NodeKind | None = None) -> set[str]:
        if kind is None:
            return set(self._nodes)
        return {ident for ident, node in self._nodes.items() if node.kind == kind}

    def referenced_node_ids(self) -> set[str]:
        return self._graph.referenced_ids()

    def transformation_ids(self) -> set[str]:
        return set(self._transformations) | self._ran

    def edges(self) -> Iterable[tuple[str, str, str]]:
        return self._graph.triples()

    def io(self, transformation: str, direction: Direction) -> list[str]:
        return sorted(self._graph.node_io(transformation, 0 if direction == "in" else 1))

    # --- columns -------------------------------------------------------------------------------
    def column_edges(self) -> Iterable[ColumnRow]:
        return self._column_rows

    def whole_edges(self) -> Iterable[tuple[str, str, str]]:
        triples = self._graph.triples()
        triples -= self._narrowed
        return triples

    def columns_of(self, source: str) -> set[str]:
        return {r[1] for r in self._column_rows if r[0] == source}

    def columns_into(self, targets: list[str]) -> Iterable[tuple[str, str]]:
        wanted = set(targets)
        return {(r[0], r[1]) for r in self._column_rows if r[3] in wanted}

    def column_dependents(self, source: str, column: str) -> set[str]:
        graph = self._graph
        i = graph.index.get(source)
        direct: set[str] = set()
        if i is not None:
            down = graph.down
            labels = down.labels
            assert labels is not None
            for k in range(down.offsets[i], down.offsets[i + 1]):
                dst = graph.ids[down.values[k]]
                if (source, graph.t_ids[labels[k]], dst) not in self._narrowed:
                    direct.add(dst)
        direct.update(r[3] for r in self._column_rows if r[0] == source and r[1] == column)
        return direct

    # --- traversal -----------------------------------------------------------------------------
    def walk(self, start: str, kind: NodeKind, depth: int | None, forward: bool) -> dict[str, int]:
        graph = self._graph
        if kind == "Transformation":
            ends = graph.node_io(start, 1 if forward else 0)
            seeds = dict.fromkeys(map(graph.index.__getitem__, ends), 1)
        else:
            i = graph.index.get(start)
            seeds = {} if i is None else {i: 0}
        found = graph.reach(seeds, depth, forward)
        found.pop(start, None)
        return found

    def impact(self, start: str, kind: NodeKind) -> set[str]:
        features = self.declared_node_ids("Feature")
        if not features:
            return features
        found = self.walk(start, kind, None, forward=True)
        smaller, larger = (features, found) if len(features) < len(found) else (found, features)
        return {ident for ident in smaller if ident in larger}

    def steps(self, ids: list[str], forward: bool) -> Iterator[tuple[str, str]]:
        return self._graph.steps(ids, forward)

    def step_label(self, src: str, dst: str) -> str:
        return self._graph.label(src, dst)

    def path(self, starts: list[str], ends: list[str]) -> list[str] | None:
        return shortest_path(self._graph, starts, ends)

    # --- runs ----------------------------------------------------------------------------------
    def runs(self, query: RunQuery) -> list[Run]:
        result = []
        for run in self._runs:
            if query.matches(run):
                result.append(run)
                if query.limit is not None and len(result) >= query.limit:
                    break
        return result

    def run(self, run_id: str) -> Run | None:
        return next((r for r in self._runs if r.run_id == run_id), None)

    def versions(self, transformation: str) -> list[VersionInfo]:
        return algorithms.group_versions(self.runs(RunQuery(transformation=transformation)))

    def records(self) -> Iterator[Record]:
        yield from self._nodes.values()
        yield from self._transformations.values()
        yield from reversed(self._runs)

    # --- history ---------------------------------------------------------------------------------
    def changes(self) -> ChangeSource:
        return RunsChangeSource(self._runs)

    def as_of(self, until: _dt.datetime) -> MemoryBackend:
        """The runs that had ended by ``until``, and the declarations of what they reached
        (declarations carry no time of their own)."""
        runs = [r for r in reversed(self._runs) if r.ended_at <= until]
        reached = {n for r in runs for n in (*r.inputs, *r.outputs)}
        ran = {r.transformation for r in runs}
        kept: list[Record] = [n for n in self._nodes.values() if n.id in reached]
        kept += [t for t in self._transformations.values() if t.id in ran]
        return MemoryBackend([*kept, *runs], include_failed=self.include_failed)

    def close(self) -> None:
        """Nothing to release."""
