"""The in-memory backend: records (a memory sink's, a JSON file's) read once into dicts."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Iterator

from ..records import DataSource, Declaration, Feature, Record, Run, Transformation
from ..sinks.declarations import take_declaration
from . import algorithms
from .backend import Direction, RunQuery
from .changes.source import ChangeSource, RunsChangeSource
from .liveness import as_seen, latest_per_run
from .model import (
    ColumnRow,
    DeclarationRevision,
    NodeKind,
    VersionInfo,
    declaration_revisions,
)

__all__ = ["MemoryBackend"]


def _run_sort_key(run: Run) -> tuple[object, str]:
    return (run.started_at, run.run_id)


class MemoryBackend:
    """Lineage held in dicts; built from records in one pass, then read only.

    The graph's structure comes from completed runs; with ``include_failed`` from every run.
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
        # (src, transformation, dst) derivation triples, and the adjacency built from them
        self._triples: set[tuple[str, str, str]] = set()
        self._t_in: dict[str, set[str]] = {}
        self._t_out: dict[str, set[str]] = {}
        self._down: dict[str, set[tuple[str, str]]] = {}  # src -> {(transformation, dst)}
        self._up: dict[str, set[tuple[str, str]]] = {}  # dst -> {(transformation, src)}
        # node -> nodes derived from it / it derives from: what unbounded walks need
        self._succ: dict[str, set[str]] = {}
        self._pred: dict[str, set[str]] = {}
        self._reads: dict[str, set[str]] = {}  # node -> transformations reading it
        self._writes: dict[str, set[str]] = {}  # node -> transformations writing it
        # Column level: triples some run derived from the whole source, and the source columns
        # runs named instead.
        self._whole: set[tuple[str, str, str]] = set()
        self._column_rows: set[ColumnRow] = set()
        for record in latest_per_run(records):
            self._add(record)
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
            self._add_run(record)

    def _add_run(self, run: Run) -> None:
        self._runs.append(as_seen(run))
        self._ran.add(run.transformation)
        if run.status == "completed" or self.include_failed:
            self._add_structure(run)

    def _add_structure(self, run: Run) -> None:
        t = run.transformation
        self._t_in.setdefault(t, set()).update(run.inputs)
        self._t_out.setdefault(t, set()).update(run.outputs)
        for node in run.inputs:
            self._reads.setdefault(node, set()).add(t)
        for node in run.outputs:
            self._writes.setdefault(node, set()).add(t)
        # Columns narrow completed runs' edges; a failed run's edges (shown on request) count
        # as whole, as the SQL stores keep them.
        columns = run.column_derivation if run.status == "completed" else ()
        narrowed = {(c.source, c.output) for c in columns}
        for c in columns:
            self._column_rows.add((c.source, c.column, t, c.output, c.kind))
        for src, dst in run.edges():
            if (src, dst) not in narrowed:
                self._whole.add((src, t, dst))
            if (src, t, dst) not in self._triples:
                self._triples.add((src, t, dst))
                self._down.setdefault(src, set()).add((t, dst))
                self._up.setdefault(dst, set()).add((t, src))
                self._succ.setdefault(src, set()).add(dst)
                self._pred.setdefault(dst, set()).add(src)

    # --- vertices ------------------------------------------------------------------------------
    def kind(self, ident: str) -> NodeKind | None:
        if ident in self._nodes:
            return self._nodes[ident].kind  # type: ignore[return-value]
        if ident in self._ran or ident in self._transformations:
            return "Transformation"
        if ident in self._reads or ident in self._writes:
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
        return set(self._reads) | set(self._writes)

    def transformation_ids(self) -> set[str]:
        return set(self._transformations) | self._ran

    def edges(self) -> Iterable[tuple[str, str, str]]:
        return self._triples

    def io(self, transformation: str, direction: Direction) -> list[str]:
        return sorted((self._t_in if direction == "in" else self._t_out).get(transformation, ()))

    # --- columns -------------------------------------------------------------------------------
    def column_edges(self) -> Iterable[ColumnRow]:
        return self._column_rows

    def whole_edges(self) -> Iterable[tuple[str, str, str]]:
        return self._whole

    def columns_of(self, source: str) -> set[str]:
        return {r[1] for r in self._column_rows if r[0] == source}

    def columns_into(self, targets: list[str]) -> Iterable[tuple[str, str]]:
        wanted = set(targets)
        return {(r[0], r[1]) for r in self._column_rows if r[3] in wanted}

    def column_dependents(self, source: str, column: str) -> set[str]:
        direct = {dst for t, dst in self._down.get(source, ()) if (source, t, dst) in self._whole}
        direct.update(r[3] for r in self._column_rows if r[0] == source and r[1] == column)
        return direct

    # --- traversal -----------------------------------------------------------------------------
    def walk(self, start: str, kind: NodeKind, depth: int | None, forward: bool) -> dict[str, int]:
        if kind == "Transformation":
            seeds = dict.fromkeys((self._t_out if forward else self._t_in).get(start, ()), 1)
        else:
            seeds = {start: 0}
        touching = self._reads if forward else self._writes
        if depth is None:
            found = dict.fromkeys(
                algorithms.reach(seeds, self._succ if forward else self._pred, touching), 0
            )
        else:
            found = algorithms.bounded_walk(
                seeds, depth, self._down if forward else self._up, touching
            )
        found.pop(start, None)
        return found

    def steps(self, ids: list[str], forward: bool) -> Iterator[tuple[str, str]]:
        return algorithms.sorted_steps(ids, self._succ if forward else self._pred)

    def step_label(self, src: str, dst: str) -> str:
        pairs = self._down[src]
        if len(pairs) == 1:  # the common case, without building a generator
            for t, _ in pairs:
                return t
        return min(t for t, x in pairs if x == dst)

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
