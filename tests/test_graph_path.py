"""``LineageGraph.path``: a shortest path or None, checked against a plain breadth-first search.

The in-memory backend searches its integer rows; the SQL stores run the string search of
:func:`lineage_sdk.graph.algorithms.labelled_path`. Both must find the same path, so equally short
paths break ties the same way wherever the lineage is stored.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lineage_sdk import DataSource, Run
from lineage_sdk.graph import LineageGraph, UnknownNodeError, algorithms
from lineage_sdk.records import Record

from .helpers import make_run, store_graph

ORPHAN = "orphan_table"  # declared, never read or written: a vertex with no edges


@st.composite
def path_graphs(draw: Any) -> list[Run]:
    """Completed runs over up to 12 nodes: DAGs, or graphs with cycles and self-loops.

    Node names are shuffled against their first appearance (``n10`` sorts before ``n2``), so id
    order and the order nodes are numbered in differ; several transformations may make the
    same step, and runs may read nodes they derive nothing from.
    """
    acyclic = draw(st.booleans())
    n = draw(st.integers(1, 12))
    names = draw(st.permutations([f"n{i}" for i in range(n)]))
    runs = []
    for i in range(draw(st.integers(0, 10))):
        outputs = draw(st.lists(st.integers(0, n - 1), max_size=4, unique=True))
        derivation = []
        for o in outputs:
            pool = range(o) if acyclic else range(n)
            sources = draw(st.lists(st.sampled_from(pool), max_size=4, unique=True)) if pool else []
            derivation.append((names[o], [names[s] for s in sources]))
        read_only = draw(st.lists(st.sampled_from(names), max_size=2))
        inputs = sorted({s for _, sources in derivation for s in sources} | set(read_only))
        runs.append(
            make_run(draw(st.sampled_from(["t0", "t1", "t2", "t3"])), derivation, inputs, i)
        )
    return runs


def shortest_length(runs: list[Run], src: str, dst: str) -> int | None:
    """Vertices from ``src`` to ``dst`` along a shortest path (a transformation is reached by
    reading one of its inputs and leads to its outputs), by a plain breadth-first search."""
    if src == dst:
        return 0
    ts = {r.transformation for r in runs}
    successors: dict[str, set[str]] = {}
    for run in runs:
        for a, b in run.edges():
            successors.setdefault(a, set()).add(b)
    starts = {n for r in runs if r.transformation == src for n in r.outputs} if src in ts else {src}
    ends = {n for r in runs if r.transformation == dst for n in r.inputs} if dst in ts else {dst}
    dist = dict.fromkeys(starts, 0)
    queue = deque(starts)
    while queue:
        a = queue.popleft()
        for b in successors.get(a, ()):
            if b not in dist:
                dist[b] = dist[a] + 1
                queue.append(b)
    reached = [dist[n] for n in ends if n in dist]
    if not reached:
        return None
    return (src in ts) + 2 * min(reached) + (dst in ts)


def reference_path(graph: LineageGraph, src: str, dst: str) -> list[str] | None:
    """The path the string search over the backend's own steps finds (what SQL stores run)."""
    if src == dst:
        return [src]
    src_t = src in graph.transformation_ids()
    dst_t = dst in graph.transformation_ids()
    starts = graph.transformation_outputs(src) if src_t else [src]
    ends = graph.transformation_inputs(dst) if dst_t else [dst]
    backend = graph.backend
    found = algorithms.labelled_path(starts, ends, backend.steps, backend.step_label)
    if found is None:
        return None
    return [src] * src_t + found + [dst] * dst_t


def assert_is_a_step_by_step_path(runs: list[Run], path: list[str], src: str, dst: str) -> None:
    """``path`` runs from ``src`` to ``dst`` through real steps, each named by the first (by id)
    transformation that makes it."""
    ts = {r.transformation for r in runs}
    assert path[0] == src and path[-1] == dst
    nodes = path
    if src in ts and len(path) > 1:
        assert any(r.transformation == src and path[1] in r.outputs for r in runs)
        nodes = nodes[1:]
    if dst in ts and len(nodes) > 1:
        assert any(r.transformation == dst and nodes[-2] in r.inputs for r in runs)
        nodes = nodes[:-1]
    assert len(nodes) % 2 == 1
    for i in range(0, len(nodes) - 2, 2):
        a, t, b = nodes[i : i + 3]
        makers = {r.transformation for r in runs if (a, b) in r.edges()}
        assert t == min(makers)


@settings(max_examples=300, deadline=None)
@given(runs=path_graphs())
def test_path_is_a_shortest_path_or_none_like_breadth_first_search(runs: list[Run]) -> None:
    records: list[Record] = [DataSource(ORPHAN, "table"), *runs]
    graph = LineageGraph(records)
    vertices = graph.node_ids() + graph.transformation_ids()
    for src in vertices:
        for dst in vertices:
            path = graph.path(src, dst)
            length = shortest_length(runs, src, dst)
            assert (path is None) == (length is None), (src, dst, path)
            if path is not None:
                assert len(path) - 1 == length
                assert_is_a_step_by_step_path(runs, path, src, dst)
            # The same tie-breaking as the string search the SQL stores use.
            assert path == reference_path(graph, src, dst)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(runs=path_graphs())
def test_memory_and_sqlite_find_the_same_path(runs: list[Run], tmp_path: Path) -> None:
    if not runs:
        return  # an empty store: nothing to compare
    memory = LineageGraph(runs)
    sqlite = store_graph("sqlite", list(runs), tmp_path)
    try:
        vertices = memory.node_ids() + memory.transformation_ids()
        assert vertices == sqlite.node_ids() + sqlite.transformation_ids()
        for src in vertices:
            for dst in vertices:
                assert memory.path(src, dst) == sqlite.path(src, dst), (src, dst)
    finally:
        sqlite.close()


def test_path_to_or_from_an_unknown_id_raises_with_the_id() -> None:
    graph = LineageGraph([make_run("t0", [("b", ["a"])], ["a"], 0)])
    for src, dst in (("missing", "b"), ("a", "missing")):
        with pytest.raises(UnknownNodeError, match="missing"):
            graph.path(src, dst)


def test_path_from_a_vertex_to_itself_is_that_vertex() -> None:
    graph = LineageGraph([DataSource(ORPHAN, "table"), make_run("t0", [("b", ["a"])], ["a"], 0)])
    for vertex in ("a", "b", "t0", ORPHAN):
        assert graph.path(vertex, vertex) == [vertex]
    assert graph.path(ORPHAN, "b") is None
    assert graph.path("b", "a") is None


def test_equally_short_paths_break_ties_by_id_not_by_recording_order() -> None:
    # "c" is recorded (and numbered) before "b"; both lead from "a" to "d" in two steps.
    runs = [
        make_run("t1", [("c", ["a"])], ["a"], 0),
        make_run("t2", [("d", ["c"])], ["c"], 1),
        make_run("t0", [("b", ["a"])], ["a"], 2),
        make_run("t3", [("d", ["b"])], ["b"], 3),
    ]
    graph = LineageGraph(runs)
    assert graph.path("a", "d") == ["a", "t0", "b", "t3", "d"]
    assert graph.path("t1", "d") == ["t1", "c", "t2", "d"]
    assert graph.path("a", "t3") == ["a", "t0", "b", "t3"]


def test_path_down_a_tree_and_along_a_chain() -> None:
    # The shapes of the benchmark, small: a tree with 3 children a node, and one long chain.
    tree = [(f"f{(i - 1) // 3}", f"f{i}") for i in range(1, 121)]
    chain = [(f"c{i}", f"c{i + 1}") for i in range(300)]
    runs = [
        make_run("tree", [(d, [s]) for s, d in tree], sorted({s for s, _ in tree}), 0),
        make_run("chain", [(d, [s]) for s, d in chain], [s for s, _ in chain], 1),
    ]
    graph = LineageGraph(runs)
    assert graph.path("f0", "f120") == [
        "f0",
        "tree",
        "f3",
        "tree",
        "f12",
        "tree",
        "f39",
        "tree",
        "f120",
    ]
    assert graph.path("f1", "f120") is None  # in another branch
    along = graph.path("c0", "c300")
    assert along is not None and along[::2] == [f"c{i}" for i in range(301)]
    assert set(along[1::2]) == {"chain"}
    assert graph.path("c300", "c0") is None
