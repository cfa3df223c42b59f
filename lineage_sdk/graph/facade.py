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
from . import algorithms
from .backend import GraphBackend, RunQuery
from .memory import MemoryBackend
from .model import ExternalNode, GraphNode, NodeKind, UnknownNodeError, VersionInfo, aware

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
    def upstream(self, node_id: str, depth: int | None = None) -> list[str]:
        """Everything ``node_id`` derives from, transformations included.

        Sorted by id; with ``depth``, nearest first (ties by id).
        """
        algorithms.check_depth(depth)
        found = self._backend.walk(node_id, self.kind(node_id), depth, forward=False)
        return algorithms.ordered(found, depth)

    def downstream(self, node_id: str, depth: int | None = None) -> list[str]:
        """Everything derived from ``node_id``, transformations included (ordered as upstream)."""
        algorithms.check_depth(depth)
        found = self._backend.walk(node_id, self.kind(node_id), depth, forward=True)
        return algorithms.ordered(found, depth)

    def impact(self, node_id: str) -> list[str]:
        """The features that change when ``node_id`` changes."""
        # One query on SQL stores: the reached ids are filtered where they are, not sent back.
        return sorted(self._backend.impact(node_id, self.kind(node_id)))

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
        nodes = algorithms.shortest_node_path(starts, ends, self._backend.steps)
        if nodes is None:
            return None
        out = [src] if src_kind == "Transformation" else []
        for i, node in enumerate(nodes):
            if i:
                out.append(self._backend.step_label(nodes[i - 1], node))
            out.append(node)
        if dst_kind == "Transformation":
            out.append(dst)
        return out

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

    # --- output (render imports nothing from here: it reads the graph through these methods) --
    def to_dot(self, focus: str | None = None, depth: int | None = None) -> str:
        """DOT source in the seed's visual language; see :mod:`lineage_sdk.render`."""
        from ..render import to_dot

        return to_dot(self, focus=focus, depth=depth)

    def render(self, path: str | os.PathLike[str], format: str | None = None) -> Path:
        """Write the graph to ``path`` (svg, png, pdf or dot; from the suffix by default)."""
        from ..render import render

        return render(self, path, format=format)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        from ..render import mimebundle

        return mimebundle(self)

    def _repr_html_(self) -> str:
        """The interactive explorer in a notebook (the SVG stays in the bundle as the fallback)."""
        from ..ui import notebook_html

        return notebook_html(self)

    def _repr_svg_(self) -> str | None:
        return self._repr_mimebundle_().get("image/svg+xml")
