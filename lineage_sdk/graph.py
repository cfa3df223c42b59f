"""The lineage graph read back from a store: nodes, transformations, derivation edges and runs.

Vertices are nodes (DataSource, Feature, or External for ids that no declaration reached a store
for) and transformations. Edges run input -> transformation -> output and honour per-output
derivation: ``downstream("raw_clicks_kafka_topic")`` reaches ``user_clicks_7d`` but not
``user_impressions_7d``, though both leave the same transformation.

Depth counts vertices: ``depth=1`` from a source is the transformations that read it, ``depth=2``
adds what they derived from it. Traversals terminate on cycles; :meth:`LineageGraph.cycles`
reports them. On an SQLite store, traversals run in SQL (recursive CTEs over the edge table), so a
store with millions of edges answers without being loaded into memory.

Example::

    graph = load_graph("sqlite:lineage.db")
    graph.upstream("user_ctr_7d")          # nearest first
    graph.impact("raw_clicks_kafka_topic") # the features that would change
"""

from __future__ import annotations

import datetime as _dt
import difflib
import json
import os
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

import attrs

from .config import SinkTarget, parse_sinks
from .records import DataSource, Feature, Record, Run, Transformation
from .serde import from_dict
from .sinks.base import ReadableSink, Sink
from .sinks.jsonfile import read_json_lines
from .sinks.memory import MemorySink
from .sinks.sqlite import connect

__all__ = [
    "ExternalNode",
    "LineageGraph",
    "UnknownNodeError",
    "VersionInfo",
    "load_graph",
]

NodeKind = Literal["DataSource", "Feature", "Transformation", "External"]
#: (source, column, transformation, output, kind): ``output`` derives from ``source.column``.
ColumnRow = tuple[str, str, str, str, str | None]


@attrs.frozen(slots=True)
class ExternalNode:
    """An id used as an input or output whose declaration never reached this store."""

    kind = "External"
    id: str


GraphNode = DataSource | Feature | Transformation | ExternalNode


@attrs.frozen(slots=True)
class VersionInfo:
    """One distinct code version of a transformation, as seen in its runs."""

    version: str | None
    source_sha256: str | None
    commit: str | None
    tag: str | None
    first_run: _dt.datetime
    last_run: _dt.datetime
    runs: int


class UnknownNodeError(KeyError):
    """No node or transformation has this id; ``suggestions`` holds close matches."""

    def __init__(self, node_id: str, suggestions: list[str]) -> None:
        super().__init__(node_id)
        self.node_id = node_id
        self.suggestions = suggestions

    def __str__(self) -> str:
        hint = (
            f"; did you mean {', '.join(map(repr, self.suggestions))}?" if self.suggestions else ""
        )
        return f"no node or transformation {self.node_id!r} in the lineage graph{hint}"


def _run_sort_key(run: Run) -> tuple[_dt.datetime, str]:
    return (run.started_at, run.run_id)


class LineageGraph:
    """Queries over recorded lineage. Build it with :func:`load_graph`."""

    def __init__(self, records: Iterable[Record]) -> None:
        self._nodes: dict[str, DataSource | Feature] = {}
        self._transformations: dict[str, Transformation] = {}
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
        # runs named instead, as (src, column, transformation, dst, kind).
        self._whole: set[tuple[str, str, str]] = set()
        self._column_rows: set[ColumnRow] = set()
        for record in records:
            self._add(record)
        self._runs.sort(key=_run_sort_key, reverse=True)

    def _add(self, record: Record) -> None:
        if isinstance(record, (DataSource, Feature)):
            self._nodes[record.id] = record
        elif isinstance(record, Transformation):
            self._transformations[record.id] = record
        elif isinstance(record, Run):
            self._runs.append(record)
            t = record.transformation
            self._t_in.setdefault(t, set()).update(record.inputs)
            self._t_out.setdefault(t, set()).update(record.outputs)
            for node in record.inputs:
                self._reads.setdefault(node, set()).add(t)
            for node in record.outputs:
                self._writes.setdefault(node, set()).add(t)
            narrowed = {(c.source, c.output) for c in record.column_derivation}
            for c in record.column_derivation:
                self._column_rows.add((c.source, c.column, t, c.output, c.kind))
            for src, dst in record.edges():
                if (src, dst) not in narrowed:
                    self._whole.add((src, t, dst))
                if (src, t, dst) not in self._triples:
                    self._triples.add((src, t, dst))
                    self._down.setdefault(src, set()).add((t, dst))
                    self._up.setdefault(dst, set()).add((t, src))
                    self._succ.setdefault(src, set()).add(dst)
                    self._pred.setdefault(dst, set()).add(src)

    # --- vertices ------------------------------------------------------------------------------
    def _referenced(self) -> set[str]:
        return set(self._reads) | set(self._writes)

    def node_ids(self) -> list[str]:
        """Every DataSource, Feature and External id, sorted."""
        return sorted(set(self._nodes) | self._referenced())

    def transformation_ids(self) -> list[str]:
        """Every transformation id (declared or seen in a run), sorted."""
        return sorted(set(self._transformations) | set(self._t_in) | set(self._t_out))

    def kind(self, node_id: str) -> NodeKind:
        """``DataSource``, ``Feature``, ``Transformation`` or ``External``; KeyError if unknown."""
        return self._require(node_id)  # type: ignore[return-value]

    def node(self, node_id: str) -> GraphNode:
        """The latest declaration of ``node_id``; :class:`UnknownNodeError` with suggestions."""
        if node_id in self._nodes:
            return self._nodes[node_id]
        if node_id in self._transformations:
            return self._transformations[node_id]
        if node_id in self._t_in or node_id in self._t_out:
            return Transformation(id=node_id)
        if node_id in self._reads or node_id in self._writes:
            return ExternalNode(node_id)
        raise self._unknown(node_id)

    def __contains__(self, node_id: object) -> bool:
        try:
            self.node(node_id)  # type: ignore[arg-type]
        except KeyError:
            return False
        return True

    def _unknown(self, node_id: str) -> UnknownNodeError:
        candidates = self.node_ids() + self.transformation_ids()
        return UnknownNodeError(node_id, difflib.get_close_matches(node_id, candidates, n=3))

    def edges(self) -> list[tuple[str, str, str]]:
        """Derivation triples ``(input, transformation, output)``, sorted."""
        return sorted(self._triples)

    def transformation_inputs(self, transformation: str) -> list[str]:
        """Every node the transformation has read, sorted."""
        return sorted(self._t_in.get(transformation, ()))

    def transformation_outputs(self, transformation: str) -> list[str]:
        """Every node the transformation has written, sorted."""
        return sorted(self._t_out.get(transformation, ()))

    # --- traversal -----------------------------------------------------------------------------
    def _walk(self, start: str, depth: int | None, forward: bool) -> list[str]:
        is_t = self._require(start) == "Transformation"
        if depth is None:
            return self._reach(start, is_t, forward)
        step = self._down if forward else self._up
        touching = self._reads if forward else self._writes
        limit = depth  # at least 1 (checked by the callers)
        seen_nodes: dict[str, int] = {}
        seen_ts: dict[str, int] = {}
        queue: deque[tuple[str, int]] = deque()
        if is_t:
            ends = self._t_out if forward else self._t_in
            for node in sorted(ends.get(start, ())):
                seen_nodes[node] = 1
                queue.append((node, 1))
        else:
            seen_nodes[start] = 0
            queue.append((start, 0))
        while queue:
            node, d = queue.popleft()
            if d + 1 > limit:
                continue
            for t in touching.get(node, ()):
                seen_ts.setdefault(t, d + 1)
            if d + 2 > limit:
                continue
            for _t, nxt in step.get(node, ()):
                if nxt not in seen_nodes:
                    seen_nodes[nxt] = d + 2
                    queue.append((nxt, d + 2))
        found = {**seen_nodes, **seen_ts}
        found.pop(start, None)
        return _ordered(found, depth)

    def _reach(self, start: str, is_t: bool, forward: bool) -> list[str]:
        """Unbounded walk: a plain depth-first search; distances are not needed."""
        nxt = self._succ if forward else self._pred
        touching = self._reads if forward else self._writes
        if is_t:
            ends = self._t_out if forward else self._t_in
            stack = list(ends.get(start, ()))
            seen = set(stack)
        else:
            stack, seen = [start], {start}
        transformations: set[str] = set()
        while stack:
            node = stack.pop()
            reached = touching.get(node)
            if reached:
                transformations |= reached
            for other in nxt.get(node, ()):
                if other not in seen:
                    seen.add(other)
                    stack.append(other)
        seen |= transformations
        seen.discard(start)
        return sorted(seen)

    def _require(self, node_id: str) -> str:
        """The kind of ``node_id``; UnknownNodeError when the graph has no such id."""
        if node_id in self._nodes:
            return self._nodes[node_id].kind
        if node_id in self._t_in or node_id in self._t_out or node_id in self._transformations:
            return "Transformation"
        if node_id in self._reads or node_id in self._writes:
            return "External"
        raise self._unknown(node_id)

    def upstream(
        self, node_id: str, depth: int | None = None, *, columns: bool = False
    ) -> list[str]:
        """Everything ``node_id`` derives from, transformations included.

        Sorted by id; with ``depth``, nearest first (ties by id). With ``columns``, each source
        is followed by the columns (``source.column``) that runs named in the derivation of what
        is upstream here.
        """
        _check_depth(depth)
        found = self._walk(node_id, depth, forward=False)
        if not columns:
            return found
        targets = [node_id, *found]
        by_source: dict[str, set[str]] = {}
        for src, column in self._columns_into(targets):
            by_source.setdefault(src, set()).add(column)
        out: list[str] = []
        for ident in found:
            out.append(ident)
            if ident in by_source:
                out.extend(f"{ident}.{c}" for c in sorted(by_source[ident]))
        return out

    def downstream(self, node_id: str, depth: int | None = None) -> list[str]:
        """Everything derived from ``node_id``, transformations included (ordered as upstream)."""
        _check_depth(depth)
        return self._walk(node_id, depth, forward=True)

    def impact(self, node_id: str) -> list[str]:
        """The features that change when ``node_id`` changes.

        ``node_id`` may name a column, ``source.column``: then only what derives from that
        column counts (an output derived from the whole source depends on every column). An id
        that is itself a node keeps meaning the node.
        """
        column = self.split_column(node_id)
        if column is None:
            return sorted(n for n in self.downstream(node_id) if self._require(n) == "Feature")
        reached: set[str] = set()
        for dst in self._column_dependents(*column):
            reached.add(dst)
            reached.update(self.downstream(dst))
        return sorted(n for n in reached if self._require(n) == "Feature")

    def split_column(self, ident: str) -> tuple[str, str] | None:
        """``(source, column)`` when ``ident`` names a column; None when it is a node's id.

        A dotted id that is a node id means the node. Otherwise the source is the longest prefix
        before a dot that is a node, preferring one whose schema or derivation has the column.
        UnknownNodeError (with suggestions) when no prefix is a node, or when the source declares
        a schema without the column.
        """
        if self._kind_or_none(ident) is not None:
            return None
        candidates = [
            (ident[:i], ident[i + 1 :])
            for i in range(len(ident) - 1, 0, -1)
            if ident[i] == "." and ident[i + 1 :] and self._kind_or_none(ident[:i]) is not None
        ]
        if not candidates:
            raise self._unknown(ident)
        for src, column in candidates:
            if column in self.known_columns(src):
                return src, column
        src, column = candidates[0]
        declared = getattr(self._node_or_none(src), "schema", ())
        if declared:  # a declared schema is the list of columns: anything else is a typo
            names = [f"{src}.{c}" for c in self.known_columns(src)]
            raise UnknownNodeError(ident, difflib.get_close_matches(ident, names, n=3))
        return src, column

    def known_columns(self, source: str) -> list[str]:
        """A source's declared schema, then any other columns runs named, in that order."""
        node = self._node_or_none(source)
        declared = list(getattr(node, "schema", ()) or ())
        used = sorted({c for s, c in self._columns_from(source)} - set(declared))
        return declared + used

    def column_edges(self) -> list[ColumnRow]:
        """Every ``(source, column, transformation, output, kind)`` runs declared, sorted."""
        return sorted(self._column_rows, key=_column_row_key)

    def whole_edges(self) -> list[tuple[str, str, str]]:
        """Derivation triples some run made from the whole input (every column counts)."""
        return sorted(self._whole)

    # Column-level lookups; the SQLite graph answers them in SQL.
    def _node_or_none(self, node_id: str) -> GraphNode | None:
        try:
            return self.node(node_id)
        except KeyError:
            return None

    def _kind_or_none(self, node_id: str) -> str | None:
        try:
            return self._require(node_id)
        except KeyError:
            return None

    def _columns_from(self, source: str) -> Iterator[tuple[str, str]]:
        return ((r[0], r[1]) for r in self._column_rows if r[0] == source)

    def _columns_into(self, targets: list[str]) -> Iterator[tuple[str, str]]:
        wanted = set(targets)
        return ((r[0], r[1]) for r in self._column_rows if r[3] in wanted)

    def _column_dependents(self, source: str, column: str) -> set[str]:
        """Nodes derived directly from ``source.column``: by that column or by the whole source."""
        direct = {dst for t, dst in self._down.get(source, ()) if (source, t, dst) in self._whole}
        direct.update(r[3] for r in self._column_rows if r[0] == source and r[1] == column)
        return direct

    def path(self, src: str, dst: str) -> list[str] | None:
        """The ids along one shortest path from ``src`` to ``dst`` (both included), or None.

        A bidirectional breadth-first search over the derivation edges: it meets in the middle
        instead of exploring everything downstream of ``src``.
        """
        src_kind, dst_kind = self._require(src), self._require(dst)
        if src == dst:
            return [src]
        # Search over nodes only (like networkx), then name the transformation of each step.
        fwd: dict[str, str | None] = {}
        bwd: dict[str, str | None] = {}
        if src_kind == "Transformation":
            fwd = dict.fromkeys(self.transformation_outputs(src))
        else:
            fwd[src] = None
        if dst_kind == "Transformation":  # reading a node is enough to reach it
            bwd = dict.fromkeys(self.transformation_inputs(dst))
        else:
            bwd[dst] = None
        ffront, bfront = sorted(fwd), sorted(bwd)
        meets = [n for n in ffront if n in bwd]
        while not meets and ffront and bfront:
            forward = len(ffront) <= len(bfront)
            here, there = (fwd, bwd) if forward else (bwd, fwd)
            nxt: list[str] = []
            for a, b in self._steps(ffront if forward else bfront, forward):
                if b not in here:
                    here[b] = a
                    nxt.append(b)
                    if b in there:
                        meets.append(b)
            if forward:
                ffront = nxt
            else:
                bfront = nxt
        if not meets:
            return None
        middle = min(meets, key=lambda n: (_hops(fwd, n) + _hops(bwd, n), n))
        nodes = _chain(fwd, middle)[::-1] + _chain(bwd, middle)[1:]
        out = [src] if src_kind == "Transformation" else []
        for i, node in enumerate(nodes):
            if i:
                out.append(self._label(nodes[i - 1], node))
            out.append(node)
        if dst_kind == "Transformation":
            out.append(dst)
        return out

    def _steps(self, ids: list[str], forward: bool) -> Iterator[tuple[str, str]]:
        """(node, neighbour) for each of ``ids``: derived nodes forward, sources backward."""
        step = self._succ if forward else self._pred
        for a in ids:
            others = step.get(a)
            if others:
                # Sorted so that equally short paths break ties the same way in every process.
                for b in sorted(others) if len(others) > 1 else others:
                    yield a, b

    def _label(self, a: str, b: str) -> str:
        """The transformation of the derivation step a -> b (the first by name if several)."""
        pairs = self._down[a]
        if len(pairs) == 1:  # the common case, without building a generator
            for t, _ in pairs:
                return t
        return min(t for t, x in pairs if x == b)

    def orphans(self) -> list[str]:
        """Declared nodes that no run reads or writes, e.g. a registered reference table."""
        referenced = self._referenced()
        return sorted(n for n in self._nodes if n not in referenced)

    def cycles(self) -> list[list[str]]:
        """Cycles among nodes (each as a list of node ids, first repeated last), if any."""
        graph = {src: sorted({dst for _, dst in outs}) for src, outs in self._down.items()}
        return _find_cycles(graph)

    # --- runs ----------------------------------------------------------------------------------
    def runs(
        self,
        transformation: str | None = None,
        status: str | None = None,
        since: _dt.datetime | None = None,
        limit: int | None = None,
    ) -> list[Run]:
        """Runs newest first, optionally of one transformation, one status, since a time."""
        result = []
        for run in self._runs:
            if transformation is not None and run.transformation != transformation:
                continue
            if status is not None and run.status != status:
                continue
            if since is not None and run.started_at < _aware(since):
                continue
            result.append(run)
            if limit is not None and len(result) >= limit:
                break
        return result

    def versions(self, transformation: str) -> list[VersionInfo]:
        """Distinct (version, code hash, commit, tag) of a transformation's runs, oldest first."""
        groups: dict[tuple[str | None, ...], list[Run]] = {}
        for run in self.runs(transformation=transformation):
            key = (
                run.version,
                run.code.source_sha256 if run.code else None,
                run.git.commit if run.git else None,
                run.git.tag if run.git else None,
            )
            groups.setdefault(key, []).append(run)
        infos = [
            VersionInfo(
                version=key[0],
                source_sha256=key[1],
                commit=key[2],
                tag=key[3],
                first_run=min(r.started_at for r in runs),
                last_run=max(r.started_at for r in runs),
                runs=len(runs),
            )
            for key, runs in groups.items()
        ]
        return sorted(infos, key=lambda v: v.first_run)

    def last_status(self, transformation: str) -> str | None:
        """Status of the transformation's newest run, or None if it never ran."""
        runs = self.runs(transformation=transformation, limit=1)
        return runs[0].status if runs else None

    # --- output --------------------------------------------------------------------------------
    def to_dot(
        self, focus: str | None = None, depth: int | None = None, *, columns: bool = False
    ) -> str:
        """DOT source in the seed's visual language; see :mod:`lineage_sdk.render`."""
        from .render import to_dot

        return to_dot(self, focus=focus, depth=depth, columns=columns)

    def render(
        self, path: str | os.PathLike[str], format: str | None = None, *, columns: bool = False
    ) -> Path:
        """Write the graph to ``path`` (svg, png, pdf or dot; from the suffix by default)."""
        from .render import render

        return render(self, path, format=format, columns=columns)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        from .render import mimebundle

        return mimebundle(self)

    def _repr_svg_(self) -> str | None:
        return self._repr_mimebundle_().get("image/svg+xml")

    def records(self) -> Iterator[Record]:
        """Every record: nodes, transformations, then runs oldest first."""
        yield from self._nodes.values()
        yield from self._transformations.values()
        yield from reversed(self._runs)


def _column_row_key(row: ColumnRow) -> tuple[str, str, str, str, str]:
    return (*row[:4], row[4] or "")


def _ordered(found: dict[str, int], depth: int | None) -> list[str]:
    # Nearest first when a depth bounds the walk; by id otherwise, because an unbounded walk in
    # SQL is a set (de-duplicating ids is what makes it end on cycles) and both stores agree.
    if depth is None:
        return sorted(found)
    return sorted(found, key=lambda k: (found[k], k))


def _check_depth(depth: int | None) -> None:
    if depth is not None and (not isinstance(depth, int) or depth < 1):
        raise ValueError(f"depth must be a positive integer or None, got {depth!r}")


def _aware(when: _dt.datetime) -> _dt.datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=_dt.timezone.utc)


def _chain(prev: dict[str, str | None], end: str) -> list[str]:
    """``end`` and the nodes back to the search's endpoint, following ``prev`` links."""
    out = [end]
    node = prev[end]
    while node is not None:
        out.append(node)
        node = prev[node]
    return out


def _hops(prev: dict[str, str | None], end: str) -> int:
    return len(_chain(prev, end))


def _find_cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """One cycle per strongly connected component that has one (iterative Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    cycles: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(graph.get(root, ())))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            advanced = False
            for w in children:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(graph.get(w, ()))))
                    advanced = True
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                members = set(component)
                if len(component) > 1 or v in graph.get(v, ()):
                    cycles.append(_cycle_in(graph, sorted(members)[0], members))
    return sorted(cycles)


def _cycle_in(graph: dict[str, list[str]], start: str, members: set[str]) -> list[str]:
    """A concrete cycle through ``start`` inside one strongly connected component."""
    prev: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in graph.get(v, ()):
                if w not in members:
                    continue
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(prev[path[-1]])
                    return [*reversed(path), start]
                if w not in prev:
                    prev[w] = v
                    nxt.append(w)
        frontier = nxt
    return [start, start]  # pragma: no cover - a component with a cycle always closes


class SQLiteLineageGraph(LineageGraph):
    """A graph over an SQLite store: traversals and run queries run in SQL.

    Declarations (nodes, transformations, the edge table) are loaded only when a method needs the
    whole graph (rendering, orphans, cycles); upstream, downstream, path, runs and versions never
    load it.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.store_path = Path(path)
        self._conn = connect(self.store_path, create=False)
        self._loaded = False

    def __del__(self) -> None:
        conn = getattr(self, "_conn", None)
        if conn is not None:
            conn.close()

    def close(self) -> None:
        """Close the connection to the store."""
        self._conn.close()

    def _load(self) -> None:
        if self._loaded:
            return
        records: list[Record] = []
        for table in ("nodes", "transformations"):
            for (text,) in self._conn.execute(f"SELECT record FROM {table} ORDER BY id"):
                records.append(from_dict(json.loads(text)))
        LineageGraph.__init__(self, records)
        # Edges and io come from their tables, not from re-reading every run.
        for t, direction, node in self._conn.execute(
            "SELECT transformation_id, direction, node_id FROM transformation_io"
        ):
            (self._t_in if direction == "in" else self._t_out).setdefault(t, set()).add(node)
            (self._reads if direction == "in" else self._writes).setdefault(node, set()).add(t)
        for (t,) in self._conn.execute("SELECT DISTINCT transformation_id FROM runs"):
            self._t_in.setdefault(t, set())  # a run that read and wrote nothing still counts
            self._t_out.setdefault(t, set())
        for src, t, dst, whole in self._conn.execute(
            "SELECT src, transformation_id, dst, whole FROM edges"
        ):
            if whole:
                self._whole.add((src, t, dst))
            self._triples.add((src, t, dst))
            self._down.setdefault(src, set()).add((t, dst))
            self._up.setdefault(dst, set()).add((t, src))
            self._succ.setdefault(src, set()).add(dst)
            self._pred.setdefault(dst, set()).add(src)
        for src, column, t, dst, kind in self._conn.execute(
            "SELECT src, column_name, transformation_id, dst, kind FROM column_edges"
        ):
            self._column_rows.add((src, column, t, dst, kind or None))
        self._loaded = True

    # Whole-graph questions need the declarations and edge table in memory.
    def node_ids(self) -> list[str]:
        self._load()
        return super().node_ids()

    def transformation_ids(self) -> list[str]:
        self._load()
        return super().transformation_ids()

    def edges(self) -> list[tuple[str, str, str]]:
        self._load()
        return super().edges()

    def orphans(self) -> list[str]:
        self._load()
        return super().orphans()

    def column_edges(self) -> list[ColumnRow]:
        self._load()
        return super().column_edges()

    def whole_edges(self) -> list[tuple[str, str, str]]:
        self._load()
        return super().whole_edges()

    def _columns_from(self, source: str) -> Iterator[tuple[str, str]]:
        sql = "SELECT DISTINCT src, column_name FROM column_edges WHERE src = ?"
        yield from self._conn.execute(sql, (source,))

    def _columns_into(self, targets: list[str]) -> Iterator[tuple[str, str]]:
        sql = (
            "SELECT DISTINCT src, column_name FROM column_edges "
            "WHERE dst IN (SELECT value FROM json_each(?))"
        )
        for i in range(0, len(targets), 500):
            yield from self._conn.execute(sql, (json.dumps(targets[i : i + 500]),))

    def _column_dependents(self, source: str, column: str) -> set[str]:
        rows = self._conn.execute(
            "SELECT dst FROM edges WHERE src = :src AND whole = 1 UNION "
            "SELECT dst FROM column_edges WHERE src = :src AND column_name = :column",
            {"src": source, "column": column},
        )
        return {row[0] for row in rows}

    def cycles(self) -> list[list[str]]:
        self._load()
        return super().cycles()

    def _unknown(self, node_id: str) -> UnknownNodeError:
        self._load()
        return super()._unknown(node_id)

    # --- SQL-side lookups ------------------------------------------------------------------------
    def _sql_kind(self, node_id: str) -> str | None:
        row = self._conn.execute("SELECT kind FROM nodes WHERE id = ?", (node_id,)).fetchone()
        if row:
            return str(row[0])
        for query in (
            "SELECT 1 FROM transformations WHERE id = ?",
            "SELECT 1 FROM transformation_io WHERE transformation_id = ? LIMIT 1",
            "SELECT 1 FROM runs WHERE transformation_id = ? LIMIT 1",
        ):
            if self._conn.execute(query, (node_id,)).fetchone():
                return "Transformation"
        if self._conn.execute(
            "SELECT 1 FROM transformation_io WHERE node_id = ? LIMIT 1", (node_id,)
        ).fetchone():
            return "External"
        return None

    def node(self, node_id: str) -> GraphNode:
        kind = self._require(node_id)
        if kind in ("DataSource", "Feature"):
            (text,) = self._conn.execute(
                "SELECT record FROM nodes WHERE id = ?", (node_id,)
            ).fetchone()
            return from_dict(json.loads(text))  # type: ignore[return-value]
        if kind == "Transformation":
            row = self._conn.execute(
                "SELECT record FROM transformations WHERE id = ?", (node_id,)
            ).fetchone()
            return from_dict(json.loads(row[0])) if row else Transformation(id=node_id)  # type: ignore[return-value]
        return ExternalNode(node_id)

    def _require(self, node_id: str) -> str:
        kind = self._sql_kind(node_id)
        if kind is None:
            raise self._unknown(node_id)
        return kind

    def _walk(self, start: str, depth: int | None, forward: bool) -> list[str]:
        kind = self._require(start)
        near, far = ("src", "dst") if forward else ("dst", "src")
        io_dir = "in" if forward else "out"
        end_dir = "out" if forward else "in"
        if kind == "Transformation":
            seed_ids = (
                "SELECT node_id FROM transformation_io "
                "WHERE transformation_id = :start AND direction = :end_dir"
            )
            seed = seed_ids.replace("SELECT node_id", "SELECT node_id, 1")
        else:
            seed_ids, seed = "SELECT :start", "SELECT :start, 0"
        params: dict[str, Any] = {"start": start, "io_dir": io_dir, "end_dir": end_dir}
        if depth is None:
            # Rows of just the id: UNION de-duplicates them, so cycles end the recursion.
            sql = f"""
                WITH RECURSIVE reach(id) AS (
                    {seed_ids}
                    UNION
                    SELECT e.{far} FROM edges e JOIN reach r ON e.{near} = r.id
                )
                SELECT id, 0 FROM reach WHERE id != :start
                UNION
                SELECT io.transformation_id, 0 FROM transformation_io io
                    JOIN reach r ON io.node_id = r.id AND io.direction = :io_dir
                WHERE io.transformation_id != :start
            """
        else:
            params["depth"] = depth
            sql = f"""
                WITH RECURSIVE reach(id, depth) AS (
                    {seed}
                    UNION
                    SELECT e.{far}, r.depth + 2 FROM edges e JOIN reach r ON e.{near} = r.id
                    WHERE r.depth + 2 <= :depth
                ),
                best(id, depth) AS (SELECT id, MIN(depth) FROM reach GROUP BY id)
                SELECT id, depth FROM best WHERE id != :start AND depth <= :depth
                UNION ALL
                SELECT io.transformation_id, MIN(b.depth) + 1 FROM transformation_io io
                    JOIN best b ON io.node_id = b.id AND io.direction = :io_dir
                WHERE b.depth + 1 <= :depth AND io.transformation_id != :start
                GROUP BY io.transformation_id
            """
        found: dict[str, int] = {}
        for ident, d in self._conn.execute(sql, params):
            if ident not in found or d < found[ident]:
                found[ident] = d
        return _ordered(found, depth)

    def _steps(self, ids: list[str], forward: bool) -> Iterator[tuple[str, str]]:
        # Column names come from these two constants only; the ids travel as a bound parameter.
        near, far = ("src", "dst") if forward else ("dst", "src")
        sql = (
            f"SELECT DISTINCT {near}, {far} FROM edges WHERE {near} IN "
            f"(SELECT value FROM json_each(?)) ORDER BY {near}, {far}"
        )
        for i in range(0, len(ids), 500):
            yield from self._conn.execute(sql, (json.dumps(ids[i : i + 500]),))

    def _label(self, a: str, b: str) -> str:
        (t,) = self._conn.execute(
            "SELECT min(transformation_id) FROM edges WHERE src = ? AND dst = ?", (a, b)
        ).fetchone()
        return str(t)

    def transformation_inputs(self, transformation: str) -> list[str]:
        return self._io(transformation, "in")

    def transformation_outputs(self, transformation: str) -> list[str]:
        return self._io(transformation, "out")

    def _io(self, transformation: str, direction: str) -> list[str]:
        return [
            row[0]
            for row in self._conn.execute(
                "SELECT node_id FROM transformation_io WHERE transformation_id = ? "
                "AND direction = ? ORDER BY node_id",
                (transformation, direction),
            )
        ]

    def runs(
        self,
        transformation: str | None = None,
        status: str | None = None,
        since: _dt.datetime | None = None,
        limit: int | None = None,
    ) -> list[Run]:
        clauses: list[str] = []
        params: list[Any] = []
        if transformation is not None:
            clauses.append("transformation_id = ?")
            params.append(transformation)
        if status is not None:
            clauses.append("status = ?")
            params.append(status)
        if since is not None:
            clauses.append("started_us >= ?")
            params.append(int(_aware(since).timestamp() * 1_000_000))
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = f"SELECT record FROM runs {where} ORDER BY started_us DESC, run_id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [from_dict(json.loads(text)) for (text,) in self._conn.execute(sql, params)]  # type: ignore[misc]

    def versions(self, transformation: str) -> list[VersionInfo]:
        def when(us: int) -> _dt.datetime:
            return _dt.datetime.fromtimestamp(us / 1_000_000, _dt.timezone.utc)

        rows = self._conn.execute(
            "SELECT version, source_sha256, git_commit, git_tag, first_run_us, last_run_us, runs "
            "FROM transformation_versions WHERE transformation_id = ? ORDER BY first_run_us",
            (transformation,),
        )
        return [
            VersionInfo(
                version=v,
                source_sha256=h,
                commit=c,
                tag=t,
                first_run=when(first),
                last_run=when(last),
                runs=n,
            )
            for v, h, c, t, first, last, n in rows
        ]

    def records(self) -> Iterator[Record]:
        self._load()
        yield from self._nodes.values()
        yield from self._transformations.values()
        for (text,) in self._conn.execute("SELECT record FROM runs ORDER BY started_us, run_id"):
            yield from_dict(json.loads(text))


def _records_of(target: SinkTarget) -> Iterator[Record]:
    if target.scheme == "json":
        return read_json_lines(target.value or "")
    raise ValueError(f"cannot read lineage back from {target}")


def load_graph(target: Sink | str | None = None) -> LineageGraph:
    """Read recorded lineage back as a :class:`LineageGraph`.

    ``target``: a sink object, a store string as in ``LINEAGE_SINK`` (``sqlite:PATH``,
    ``json:PATH``, ``memory`` for the configured memory sink), or None for the configured store
    (the first readable one).
    """
    from . import _runtime

    if target is None:
        for sink in _runtime.current().sinks:
            if isinstance(sink, ReadableSink):
                return load_graph(sink)
        settings = _runtime.current().settings
        raise ValueError(f"none of the configured sinks can be read back: {settings.sinks}")
    if isinstance(target, str):
        if target.strip().lower() == "memory":
            _runtime.current().delivery.flush()
            return LineageGraph(_runtime.current().memory_sink().read())
        parsed = parse_sinks(target, Path.cwd(), "store")
        if len(parsed) != 1:
            raise ValueError(f"load_graph takes one store, got {target!r}")
        (store,) = parsed
        if store.scheme == "sqlite":
            if not Path(store.value or "").exists():
                raise FileNotFoundError(f"no lineage store at {store.value}")
            return SQLiteLineageGraph(store.value or "")
        if store.scheme == "json":
            if not Path(store.value or "").exists():
                raise FileNotFoundError(f"no lineage store at {store.value}")
            return LineageGraph(_records_of(store))
        raise ValueError(
            f"cannot read lineage back from {target!r}; use sqlite:PATH, json:PATH or memory"
        )
    rt = _runtime.current()
    if any(s is target for s in rt.sinks):
        rt.delivery.flush()
    if isinstance(target, MemorySink):
        return LineageGraph(target.read())
    path = getattr(target, "path", None)
    if type(target).__name__ == "SQLiteSink" and path is not None:
        target.flush()
        return SQLiteLineageGraph(path)
    if isinstance(target, ReadableSink):
        return LineageGraph(target.read())
    raise TypeError(f"{type(target).__name__} cannot be read back (it has no read())")
