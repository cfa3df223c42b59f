"""The in-memory backend's compact graph (interned ids, integer rows) against plain sets; impact.

The property tests in test_graph.py cover DAGs; here the graphs have cycles, self-loops,
transformations run many times with overlapping derivations, failed runs, repeated records and
derivations naming nodes outside their run's inputs and outputs.
"""

from __future__ import annotations

import datetime as dt
from array import array
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from lineage_sdk import DataSource, Feature, Run
from lineage_sdk.graph import LineageGraph
from lineage_sdk.graph.compact import Rows
from lineage_sdk.records import ColumnEdge, Record

from .helpers import STORES, store_graph

AT = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


@st.composite
def tangled_runs(draw: Any) -> list[Run]:
    """Runs over a few nodes, with cycles, repeats and overlaps."""
    nodes = [f"n{i}" for i in range(draw(st.integers(1, 7)))]
    some = st.lists(st.sampled_from(nodes), max_size=3, unique=True)
    runs = []
    for i in range(draw(st.integers(0, 8))):
        inputs = draw(some)
        outputs = draw(some)
        # Sources mostly among the inputs; sometimes any node (records not from the SDK).
        pool = st.sampled_from(inputs) if inputs and draw(st.booleans()) else st.sampled_from(nodes)
        derivation = [(o, draw(st.lists(pool, max_size=3, unique=True))) for o in outputs]
        at = AT + dt.timedelta(seconds=i)
        runs.append(
            Run(
                f"run-{i}",
                draw(st.sampled_from(["t0", "t1", "t2"])),
                draw(st.sampled_from(["completed", "completed", "failed"])),
                at,
                at,
                0.0,
                inputs=inputs,
                outputs=outputs,
                derivation=derivation,
            )
        )
    if runs:
        runs += draw(st.lists(st.sampled_from(runs), max_size=3))  # the same record twice
    return runs


def distances(runs: list[Run], start: str, forward: bool) -> dict[str, int]:
    """Vertex distances from ``start`` by fixed-point relaxation over plain sets."""
    triples = {(s, r.transformation, d) for r in runs for s, d in r.edges()}
    touch = {(r.transformation, n) for r in runs for n in (r.inputs if forward else r.outputs)}
    ends = {(r.transformation, n) for r in runs for n in (r.outputs if forward else r.inputs)}
    dist: dict[str, int] = {}
    if start in {r.transformation for r in runs}:
        dist.update({n: 1 for t, n in ends if t == start})
    else:
        dist[start] = 0
    changed = True
    while changed:
        changed = False
        for s, _t, d in triples:
            a, b = (s, d) if forward else (d, s)
            if a in dist and dist[a] + 2 < dist.get(b, 1 << 30):
                dist[b] = dist[a] + 2
                changed = True
        for t, n in touch:
            if n in dist and dist[n] + 1 < dist.get(t, 1 << 30):
                dist[t] = dist[n] + 1
                changed = True
    dist.pop(start, None)
    return dist


@settings(max_examples=150, deadline=None)
@given(runs=tangled_runs(), include_failed=st.booleans(), data=st.data())
def test_compact_graph_answers_like_plain_sets(
    runs: list[Run], include_failed: bool, data: Any
) -> None:
    graph = LineageGraph(runs, include_failed=include_failed)
    made = [r for r in runs if include_failed or r.status == "completed"]
    triples = {(s, r.transformation, d) for r in made for s, d in r.edges()}
    assert graph.edges() == sorted(triples)
    referenced = {n for r in made for n in (*r.inputs, *r.outputs)}
    assert graph.node_ids() == sorted(referenced)
    for t in {r.transformation for r in runs}:
        assert graph.transformation_inputs(t) == sorted(
            {n for r in made if r.transformation == t for n in r.inputs}
        )
        assert graph.transformation_outputs(t) == sorted(
            {n for r in made if r.transformation == t for n in r.outputs}
        )
    vertices = graph.node_ids() + graph.transformation_ids()
    if not vertices:
        return
    start = data.draw(st.sampled_from(vertices))
    depth = data.draw(st.none() | st.integers(1, 6))
    for forward, walk in ((True, graph.downstream), (False, graph.upstream)):
        expected = distances(made, start, forward)
        if depth is None:
            assert walk(start) == sorted(expected)
        else:
            near = {k: v for k, v in expected.items() if v <= depth}
            assert walk(start, depth) == sorted(near, key=lambda k: (near[k], k))
    backend = graph.backend
    for forward in (True, False):
        want = sorted({(s, d) if forward else (d, s) for s, _t, d in triples})
        assert list(backend.steps(sorted({a for a, _ in want} | {"absent"}), forward)) == want
    for s, _t, d in triples:
        assert backend.step_label(s, d) == min(t for a, t, b in triples if (a, b) == (s, d))


@given(pairs=st.lists(st.tuples(st.integers(0, 20), st.integers(0, 99), st.integers(0, 9))))
def test_rows_group_values_by_key_in_the_order_given(pairs: list[tuple[int, int, int]]) -> None:
    keys, values, labels = (
        (array("i", column) for column in zip(*pairs, strict=True)) if pairs else (array("i"),) * 3
    )
    rows = Rows(21, keys, values, labels)
    plain = Rows(21, keys, values)
    for k in range(21):
        given_k = [(v, lab) for key, v, lab in pairs if key == k]
        assert list(rows.row(k)) == [v for v, _ in given_k] == list(plain.row(k))
        assert rows.degree(k) == len(given_k)
        start, end = rows.offsets[k], rows.offsets[k + 1]
        assert rows.labels is not None
        assert list(rows.labels[start:end]) == [lab for _, lab in given_k]


@pytest.mark.parametrize("kind", STORES)
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(runs=tangled_runs(), include_failed=st.booleans(), data=st.data())
def test_impact_is_the_declared_features_downstream_on_every_store(
    kind: str, runs: list[Run], include_failed: bool, data: Any, tmp_path: Any, request: Any
) -> None:
    nodes = sorted({n for r in runs for n in (*r.inputs, *r.outputs)} | {"t1"})
    declared: list[Record] = [
        Feature(n) if data.draw(st.booleans()) else DataSource(n, "table")
        for n in data.draw(st.lists(st.sampled_from(nodes), unique=True))  # "t1": like a t
    ]
    assume(declared or runs)  # an empty JSON store is no file at all
    records = [*declared, *runs]
    graph = store_graph(kind, records, tmp_path, include_failed=include_failed, request=request)
    features = {d.id for d in declared if isinstance(d, Feature)}
    for start in graph.node_ids() + graph.transformation_ids():
        expected = sorted(n for n in graph.downstream(start) if n in features)
        assert graph.impact(start) == expected


@pytest.mark.parametrize("kind", STORES)
def test_impact_counts_a_reached_transformation_that_shares_a_features_id(
    kind: str, tmp_path: Any, request: Any
) -> None:
    run = Run(
        "r1",
        "t1",
        "completed",
        AT,
        AT,
        0.0,
        inputs=["n0"],
        outputs=["n1"],
        derivation=[("n1", ["n0"])],
    )
    graph = store_graph(kind, [Feature("t1"), Feature("n1"), run], tmp_path, request=request)
    assert graph.downstream("n0") == ["n1", "t1"]
    assert graph.impact("n0") == ["n1", "t1"]
    assert graph.impact("n1") == []


@st.composite
def column_runs(draw: Any) -> list[Run]:
    """Tangled runs, some naming columns of some sources: a triple may be narrowed by one run of
    a transformation and whole in another."""
    named_runs: dict[str, Run] = {}  # a record given twice names the same columns twice
    runs = []
    for run in draw(tangled_runs()):
        if run.run_id in named_runs:
            runs.append(named_runs[run.run_id])
            continue
        edges = sorted(set(run.edges()))
        named = draw(st.lists(st.sampled_from(edges), unique=True)) if edges else []
        columns = [
            ColumnEdge(out, src, column)
            for src, out in named
            for column in draw(st.lists(st.sampled_from(["c0", "c1"]), min_size=1, unique=True))
        ]
        named_runs[run.run_id] = attrs.evolve(run, column_derivation=columns)
        runs.append(named_runs[run.run_id])
    return runs


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(runs=column_runs(), include_failed=st.booleans(), data=st.data())
def test_memory_column_answers_match_sqlite_and_plain_sets(
    runs: list[Run], include_failed: bool, data: Any, tmp_path: Any
) -> None:
    nodes = sorted({n for r in runs for n in (*r.inputs, *r.outputs)})
    features = data.draw(st.lists(st.sampled_from(nodes), unique=True)) if nodes else []
    records: list[Record] = [*(Feature(n) for n in features), *runs]
    assume(records)
    memory = LineageGraph(records, include_failed=include_failed)
    sqlite = store_graph("sqlite", records, tmp_path, include_failed=include_failed)
    made = [r for r in runs if include_failed or r.status == "completed"]
    # A completed run's named pairs count for their columns only; every other edge is whole.
    whole = {
        (s, r.transformation, d)
        for r in made
        for s, d in r.edges()
        if r.status != "completed"
        or (s, d) not in {(c.source, c.output) for c in r.column_derivation}
    }
    assert memory.whole_edges() == sorted(whole) == sqlite.whole_edges()
    assert memory.column_edges() == sqlite.column_edges()
    assert memory.node_ids() == sqlite.node_ids()
    for source in memory.node_ids():
        assert memory.known_columns(source) == sqlite.known_columns(source)
        for column in ("c0", "c1", "c9"):
            ident = f"{source}.{column}"
            if memory.backend.kind(ident) is None:
                assert memory.impact(ident) == sqlite.impact(ident)
