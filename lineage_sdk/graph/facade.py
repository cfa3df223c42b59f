"""The lineage graph read back from a store: nodes, transformations, derivation edges and runs.

Vertices are nodes (DataSource, Feature, or External for ids that no declaration reached a store
for) and transformations. Edges run input -> transformation -> output and honour per-output
derivation: ``downstream("raw_clicks_kafka_topic")`` reaches ``user_clicks_7d`` but not
``user_impressions_7d``, though both leave the same transformation.

Depth counts vertices: ``depth=1`` from a source is the transformations that read it, ``depth=2``
adds what they derived from it. Traversals terminate on cycles; :meth:`LineageGraph.cycles`
reports them. On an SQL store, traversals run in SQL (recursive CTEs over the edge table), so a
store with millions of edges answers without being loaded into memory.

Example::

    graph = load_graph("sqlite:lineage.db")
    graph.upstream("user_ctr_7d")          # nearest first
    graph.impact("raw_clicks_kafka_topic") # the features that would change
"""

from __future__ import annotations

import datetime as _dt
import difflib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..records import Record, Run, Transformation
from . import algorithms, changes
from .backend import GraphBackend, RunQuery
from .changes.moments import Moment, resolve_moment
from .memory import MemoryBackend
from .model import (
    ColumnRow,
    ExternalNode,
    GraphNode,
    NodeKind,
    UnknownNodeError,
    VersionInfo,
    aware,
)

__all__ = ["LineageGraph"]


class LineageGraph:
    """Queries over recorded lineage. Build it with :func:`~lineage_sdk.load_graph`.

    ``LineageGraph(records)`` holds the records in memory; ``LineageGraph(backend=...)`` asks a
    store (see :mod:`lineage_sdk.graph.backend`). Every method works the same on every backend.

    Edges, inputs and outputs come from completed runs (and declarations): a failed run's inputs
    are not lineage, though the run itself stays in :meth:`runs` and :meth:`last_status`. With
    ``include_failed=True`` failed runs add their edges too.
    """

    def __init__(
        self,
        records: Iterable[Record] = (),
        *,
        backend: GraphBackend | None = None,
        include_failed: bool = False,
    ) -> None:
        self._backend: GraphBackend = (
            backend
            if backend is not None
            else MemoryBackend(records, include_failed=include_failed)
        )

    @property
    def backend(self) -> GraphBackend:
        """Where the answers come from (the in-memory backend, or an SQL store)."""
        return self._backend

    def close(self) -> None:
        """Release the store's connection, if the backend holds one."""
        self._backend.close()

    # --- vertices ------------------------------------------------------------------------------
    def node_ids(self) -> list[str]:
        """Every DataSource, Feature and External id, sorted."""
        return sorted(self._backend.declared_node_ids() | self._backend.referenced_node_ids())

    def transformation_ids(self) -> list[str]:
        """Every transformation id (declared or seen in a run), sorted."""
        return sorted(self._backend.transformation_ids())

    def kind(self, node_id: str) -> NodeKind:
        """``DataSource``, ``Feature``, ``Transformation`` or ``External``; KeyError if unknown."""
        kind = self._backend.kind(node_id)
        if kind is None:
            raise self._unknown(node_id)
        return kind

    def node(self, node_id: str) -> GraphNode:
        """The latest declaration of ``node_id``; :class:`UnknownNodeError` with suggestions."""
        kind = self.kind(node_id)
        if kind == "External":
            return ExternalNode(node_id)
        declared = self._backend.declaration(node_id)
        if declared is not None and declared.kind == kind:
            return declared
        return Transformation(id=node_id)  # seen in runs, never declared

    def __contains__(self, node_id: object) -> bool:
        return isinstance(node_id, str) and self._backend.kind(node_id) is not None

    def _unknown(self, node_id: str) -> UnknownNodeError:
        # Compared without case, so "User_CTR_7d" suggests "user_ctr_7d"; an id differing only
        # in case comes first.
        by_folded: dict[str, list[str]] = {}
        for candidate in self.node_ids() + self.transformation_ids():
            by_folded.setdefault(candidate.casefold(), []).append(candidate)
        folded = node_id.casefold()
        close = difflib.get_close_matches(folded, list(by_folded), n=3)
        suggestions = [c for key in close for c in by_folded[key]][:3]
        return UnknownNodeError(node_id, suggestions)

    def edges(self) -> list[tuple[str, str, str]]:
        """Derivation triples ``(input, transformation, output)``, sorted."""
        return sorted(self._backend.edges())

    def transformation_inputs(self, transformation: str) -> list[str]:
        """Every node the transformation has read, sorted."""
        return self._backend.io(transformation, "in")

    def transformation_outputs(self, transformation: str) -> list[str]:
        """Every node the transformation has written, sorted."""
        return self._backend.io(transformation, "out")

    # --- traversal -----------------------------------------------------------------------------
    def upstream(
        self, node_id: str, depth: int | None = None, *, columns: bool = False
    ) -> list[str]:
        """Everything ``node_id`` derives from, transformations included.

        Sorted by id; with ``depth``, nearest first (ties by id). With ``columns``, each source
        is followed by the columns (``source.column``) runs named in the derivation of what is
        upstream here.
        """
        algorithms.check_depth(depth)
        found = self._backend.walk(node_id, self.kind(node_id), depth, forward=False)
        ordered = algorithms.ordered(found, depth)
        if not columns:
            return ordered
        by_source: dict[str, set[str]] = {}
        for src, column in self._backend.columns_into([node_id, *ordered]):
            by_source.setdefault(src, set()).add(column)
        out: list[str] = []
        for ident in ordered:
            out.append(ident)
            out.extend(f"{ident}.{c}" for c in sorted(by_source.get(ident, ())))
        return out

    def downstream(self, node_id: str, depth: int | None = None) -> list[str]:
        """Everything derived from ``node_id``, transformations included (ordered as upstream)."""
        algorithms.check_depth(depth)
        found = self._backend.walk(node_id, self.kind(node_id), depth, forward=True)
        return algorithms.ordered(found, depth)

    def impact(self, node_id: str) -> list[str]:
        """The features that change when ``node_id`` changes.

        ``node_id`` may name a column, ``source.column``: then only what derives from that
        column counts (an output derived from the whole source depends on every column). An id
        that is itself a node keeps meaning the node.
        """
        kind = self._backend.kind(node_id)
        if kind is not None:  # a node's id (split_column's first test, asked once here)
            # One query on SQL stores: the reached ids are filtered where they are, not sent back.
            return sorted(self._backend.impact(node_id, kind))
        column = self.split_column(node_id)
        if column is None:  # became a node since the test above
            return self.impact(node_id)
        # One query for the features, not one kind lookup per node reached.
        features = self._backend.declared_node_ids("Feature")
        reached: set[str] = set()
        for dst in self._backend.column_dependents(*column):
            reached.add(dst)
            reached.update(self.downstream(dst))
        return sorted(n for n in reached if n in features)

    # --- columns -------------------------------------------------------------------------------
    def split_column(self, ident: str) -> tuple[str, str] | None:
        """``(source, column)`` when ``ident`` names a column; None when it is a node's id.

        A dotted id that is a node id means the node. Otherwise the source is the longest prefix
        before a dot that is a node, preferring one whose schema or derivation has the column.
        UnknownNodeError (with suggestions) when no prefix is a node, or when the source declares
        a schema without the column.
        """
        if self._backend.kind(ident) is not None:
            return None
        candidates = [
            (ident[:i], ident[i + 1 :])
            for i in range(len(ident) - 1, 0, -1)
            if ident[i] == "." and self._backend.kind(ident[:i]) is not None
        ]
        if not candidates:
            raise self._unknown(ident)
        for src, column in candidates:
            if column in self.known_columns(src):
                return src, column
        src, column = candidates[0]
        if getattr(self._backend.declaration(src), "schema", ()):
            # A declared schema is the list of columns: anything else is a typo.
            names = [f"{src}.{c}" for c in self.known_columns(src)]
            raise UnknownNodeError(ident, difflib.get_close_matches(ident, names, n=3))
        return src, column

    def known_columns(self, source: str) -> list[str]:
        """A source's declared schema, then any other column runs named, sorted."""
        declared = list(getattr(self._backend.declaration(source), "schema", ()) or ())
        return declared + sorted(self._backend.columns_of(source) - set(declared))

    def column_edges(self) -> list[ColumnRow]:
        """Every ``(source, column, transformation, output, kind)`` runs declared, sorted."""
        return sorted(self._backend.column_edges(), key=lambda r: (*r[:4], r[4] or ""))

    def whole_edges(self) -> list[tuple[str, str, str]]:
        """Derivation triples some run made from the whole input (every column counts)."""
        return sorted(self._backend.whole_edges())

    def path(self, src: str, dst: str) -> list[str] | None:
        """The ids along one shortest path from ``src`` to ``dst`` (both included), or None.

        Searches over nodes (like networkx), then names the transformation of each step; from a
        transformation the path starts at its outputs, and reading a node is enough to reach a
        transformation.
        """
        src_kind, dst_kind = self.kind(src), self.kind(dst)
        if src == dst:
            return [src]
        starts = self.transformation_outputs(src) if src_kind == "Transformation" else [src]
        ends = self.transformation_inputs(dst) if dst_kind == "Transformation" else [dst]
        steps = self._backend.path(starts, ends)
        if steps is None:
            return None
        if src_kind == "Transformation":
            steps.insert(0, src)
        if dst_kind == "Transformation":
            steps.append(dst)
        return steps

    def orphans(self) -> list[str]:
        """Declared nodes that no run reads or writes, e.g. a registered reference table."""
        referenced = self._backend.referenced_node_ids()
        return sorted(n for n in self._backend.declared_node_ids() if n not in referenced)

    def cycles(self) -> list[list[str]]:
        """Cycles among nodes (each as a list of node ids, first repeated last), if any."""
        successors: dict[str, set[str]] = {}
        for src, _t, dst in self._backend.edges():
            successors.setdefault(src, set()).add(dst)
        return algorithms.find_cycles({src: sorted(d) for src, d in successors.items()})

    # --- runs ----------------------------------------------------------------------------------
    def runs(
        self,
        transformation: str | None = None,
        status: str | None = None,
        since: _dt.datetime | None = None,
        limit: int | None = None,
    ) -> list[Run]:
        """Runs newest first, optionally of one transformation, one status, since a time."""
        query = RunQuery(
            transformation=transformation,
            status=status,
            since=aware(since) if since is not None else None,
            limit=limit,
        )
        return self._backend.runs(query)

    def run(self, run_id: str) -> Run | None:
        """The run with this id (failed runs included), or None."""
        return self._backend.run(run_id)

    def versions(self, transformation: str) -> list[VersionInfo]:
        """Distinct (version, code hash, commit, tag) of a transformation's runs, oldest first."""
        return self._backend.versions(transformation)

    def last_status(self, transformation: str) -> str | None:
        """Status of the transformation's newest run, or None if it never ran."""
        runs = self.runs(transformation=transformation, limit=1)
        return runs[0].status if runs else None

    def records(self) -> Iterator[Record]:
        """Every record: nodes, transformations, then runs oldest first."""
        return self._backend.records()

    # --- history (see lineage_sdk.graph.changes) ----------------------------------------------
    def moment(self, when: _dt.datetime | str) -> Moment:
        """The instant ``when`` names: a datetime, ISO-8601 text, a run id, or a git tag, branch
        or commit (the end of the last run recorded at that commit); MomentError otherwise."""
        return resolve_moment(when, self._backend.changes())

    def as_of(self, when: _dt.datetime | str) -> LineageGraph:
        """The graph as it stood at ``when`` (see :meth:`moment`): the runs that had ended by
        then, the nodes, edges and transformations they reached. On an SQL store the result
        holds a connection of its own (close it when done)."""
        return LineageGraph(backend=self._backend.as_of(self.moment(when).at))

    def history(self, node_id: str) -> changes.History:
        """A transformation's revisions, oldest first, each with its first and last run and what
        changed from the one before; for a node, the runs that produced it, newest first, and its
        declaration revisions (each distinct declaration, merged, oldest first)."""
        kind = self.kind(node_id)
        declared = self._backend.declaration_revisions(node_id) if kind != "Transformation" else []
        return changes.history(self._backend.changes(), node_id, kind, None, declared)

    def diff(self, start: _dt.datetime | str, end: _dt.datetime | str) -> changes.Diff:
        """Transformations added, removed and changed between two moments (anything
        :meth:`moment` takes), derivation edges added and removed, and the features downstream."""
        source = self._backend.changes()
        a, b = resolve_moment(start, source), resolve_moment(end, source)
        return changes.diff(source, a, b, self._backend.kind)

    def stale(self, check_code: str | os.PathLike[str] | None = None) -> list[changes.Stale]:
        """Every produced node that is out of date, with each reason (``upstream_newer``,
        ``code_changed``, ``last_run_failed``, ``upstream_stale``).

        ``check_code``: a working tree (repository root) whose current function sources are
        compared with the sources that produced each node.
        """
        root = Path(check_code) if check_code is not None else None
        return changes.stale(self._backend.changes(), check_code=root)

    def impact_of_patch(
        self,
        patch: str,
        *,
        root: str | os.PathLike[str] | None = None,
        ref: str | None = None,
    ) -> changes.Impact:
        """The transformations a unified diff touches and the features downstream of them.

        ``root``: the repository the patch applies to (for code recorded with absolute paths and
        for ``ref``); ``ref``: the git ref the patch's old side is (then each function's lines
        are read at that ref, not taken from where it last ran).
        """
        base = Path(root) if root is not None else None
        locate = changes.lines_at_ref(ref, base or Path.cwd()) if ref is not None else None
        return changes.impact_of_patch(
            changes.parse_patch(patch), self._backend.changes(), self._backend.kind, base, locate
        )

    def impact_of_git_diff(
        self, ref: str, root: str | os.PathLike[str] | None = None
    ) -> changes.Impact:
        """:meth:`impact_of_patch` of ``git diff REF`` in the working tree at ``root`` (or the
        current directory): what committing the working tree on top of ``ref`` would change."""
        where = Path(root) if root is not None else Path.cwd()
        return self.impact_of_patch(changes.git_diff(ref, where), root=where, ref=ref)

    # --- output (render imports nothing from here: it reads the graph through these methods) --
    def to_dot(
        self, focus: str | None = None, depth: int | None = None, *, columns: bool = False
    ) -> str:
        """DOT source in the seed's visual language; see :mod:`lineage_sdk.render`."""
        from ..render import to_dot

        return to_dot(self, focus=focus, depth=depth, columns=columns)

    def render(
        self, path: str | os.PathLike[str], format: str | None = None, *, columns: bool = False
    ) -> Path:
        """Write the graph to ``path`` (svg, png, pdf or dot; from the suffix by default).

        ``columns`` draws sources as tables of their columns.
        """
        from ..render import render

        return render(self, path, format=format, columns=columns)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        from ..render import mimebundle

        return mimebundle(self)

    def _repr_html_(self) -> str:
        """The interactive explorer in a notebook (the SVG stays in the bundle as the fallback)."""
        from ..ui import notebook_html

        return notebook_html(self)

    def _repr_svg_(self) -> str | None:
        return self._repr_mimebundle_().get("image/svg+xml")
