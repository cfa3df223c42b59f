"""The lineage graph: the seed scenario's answers; every store checked against a simple oracle."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lineage_sdk
from lineage_sdk import MemorySink, Run, log_lineage
from lineage_sdk.graph import LineageGraph, UnknownNodeError

from .helpers import (
    COUNTS,
    CTR,
    STORES,
    UTC,
    clicks,
    make_run,
    n_clk,
    pg_store,
    profiles,
    run_seed,
    store_graph,
)


@pytest.fixture(params=STORES)
def seed_graph(request: Any, tmp_path: Path) -> LineageGraph:
    if request.param == "postgresql":
        target = pg_store(request)
    elif request.param == "memory":
        target = "memory"
    else:
        target = f"{request.param}:{tmp_path / ('s.jsonl' if request.param == 'json' else 's.db')}"
    lineage_sdk.configure(target, on_error="raise")
    run_seed()
    return lineage_sdk.load_graph(target)


def test_seed_upstream_of_the_ctr(seed_graph: LineageGraph) -> None:
    assert set(seed_graph.upstream("user_ctr_7d")) == {
        CTR,
        "user_impressions_7d",
        "user_clicks_7d",
        COUNTS,
        "raw_impressions_kafka_topic",
        "raw_clicks_kafka_topic",
    }
    assert seed_graph.upstream("user_ctr_7d", depth=1) == [CTR]
    assert seed_graph.upstream("user_ctr_7d", depth=2) == [
        CTR,
        "user_clicks_7d",
        "user_impressions_7d",
    ]


def test_seed_downstream_honours_per_output_derivation(seed_graph: LineageGraph) -> None:
    assert set(seed_graph.downstream("raw_clicks_kafka_topic")) == {
        COUNTS,
        "user_clicks_7d",
        CTR,
        "user_ctr_7d",
    }
    assert set(seed_graph.upstream("user_impressions_7d")) == {
        COUNTS,
        "raw_impressions_kafka_topic",
    }


def test_seed_downstream_of_a_transformation_is_its_outputs_onwards(
    seed_graph: LineageGraph,
) -> None:
    assert set(seed_graph.downstream(COUNTS)) == {
        "user_impressions_7d",
        "user_clicks_7d",
        CTR,
        "user_ctr_7d",
    }
    assert seed_graph.downstream(COUNTS, depth=1) == ["user_clicks_7d", "user_impressions_7d"]
    assert seed_graph.upstream(CTR, depth=1) == ["user_clicks_7d", "user_impressions_7d"]


def test_seed_impact_path_orphans_and_kinds(seed_graph: LineageGraph) -> None:
    assert seed_graph.impact("raw_clicks_kafka_topic") == ["user_clicks_7d", "user_ctr_7d"]
    assert seed_graph.path("raw_clicks_kafka_topic", "user_ctr_7d") == [
        "raw_clicks_kafka_topic",
        COUNTS,
        "user_clicks_7d",
        CTR,
        "user_ctr_7d",
    ]
    assert seed_graph.path("raw_clicks_kafka_topic", "user_impressions_7d") is None
    assert seed_graph.path(COUNTS, "user_ctr_7d") == [COUNTS, "user_clicks_7d", CTR, "user_ctr_7d"]
    assert seed_graph.path("raw_clicks_kafka_topic", CTR) == [
        "raw_clicks_kafka_topic",
        COUNTS,
        "user_clicks_7d",
        CTR,
    ]
    assert seed_graph.orphans() == ["user_profiles_postgres_table"]
    assert seed_graph.node("user_profiles_postgres_table") == profiles
    assert seed_graph.kind(COUNTS) == "Transformation"
    assert seed_graph.kind("user_ctr_7d") == "Feature"
    assert seed_graph.cycles() == []


def test_seed_runs_and_versions(seed_graph: LineageGraph) -> None:
    runs = seed_graph.runs()
    assert [r.transformation for r in runs] == [CTR, COUNTS]  # newest first
    assert seed_graph.runs(transformation=COUNTS)[0].version == "1.2"
    assert seed_graph.runs(status="failed") == []
    future = dt.datetime.now(UTC) + dt.timedelta(hours=1)
    assert seed_graph.runs(since=future) == []
    [version] = seed_graph.versions(COUNTS)
    assert version.version == "1.2" and version.runs == 1
    assert version.source_sha256 is not None


def test_unknown_ids_raise_key_error_with_close_matches(seed_graph: LineageGraph) -> None:
    with pytest.raises(KeyError) as info:
        seed_graph.upstream("user_ctr_7")
    assert isinstance(info.value, UnknownNodeError)
    assert "user_ctr_7d" in info.value.suggestions
    assert "did you mean 'user_ctr_7d'" in str(info.value)


def test_a_failed_run_is_the_last_status(tmp_path: Path) -> None:
    lineage_sdk.configure(f"sqlite:{tmp_path / 'f.db'}")

    @log_lineage(inputs=[clicks], outputs=[n_clk], name="flaky")
    def flaky() -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        flaky()
    graph = lineage_sdk.load_graph(f"sqlite:{tmp_path / 'f.db'}")
    assert graph.last_status("flaky") == "failed"
    [run] = graph.runs(status="failed")
    assert run.error_type == "builtins.RuntimeError"


def test_cycles_are_reported_and_traversals_end() -> None:
    graph = LineageGraph(
        [
            make_run("t1", [("b", ["a"])], ["a"], 1),
            make_run("t2", [("c", ["b"])], ["b"], 2),
            make_run("t3", [("a", ["c"])], ["c"], 3),
        ]
    )
    assert graph.cycles() == [["a", "b", "c", "a"]]
    assert set(graph.downstream("a")) == {"t1", "b", "t2", "c", "t3"}


# --- property tests against an oracle --------------------------------------------------------
@st.composite
def random_dags(draw: Any) -> list[Run]:
    """Transformations over numbered nodes; edges only go from lower to higher numbers."""
    n_nodes = draw(st.integers(2, 9))
    runs = []
    for i in range(draw(st.integers(1, 6))):
        ins = sorted(draw(st.sets(st.integers(0, n_nodes - 2), min_size=0, max_size=3)))
        low = (max(ins) + 1) if ins else 0
        outs = sorted(draw(st.sets(st.integers(low, n_nodes - 1), min_size=0, max_size=3)))
        derivation = [
            (
                f"n{o}",
                [f"n{x}" for x in draw(st.sets(st.sampled_from(ins), max_size=len(ins))) if ins]
                if ins
                else [],
            )
            for o in outs
        ]
        runs.append(make_run(f"t{i}", derivation, [f"n{x}" for x in ins], i))
    return runs


def oracle(runs: list[Run], start: str, forward: bool) -> dict[str, int]:
    """Distances by fixed-point relaxation: simple enough to trust."""
    triples = {(s, r.transformation, d) for r in runs for s, d in r.edges()}
    touch = {(r.transformation, n) for r in runs for n in (r.inputs if forward else r.outputs)}
    ends = {(r.transformation, n) for r in runs for n in (r.outputs if forward else r.inputs)}
    ts = {r.transformation for r in runs}
    dist: dict[str, float] = {}
    if start in ts:
        for t, n in ends:
            if t == start:
                dist[n] = 1
    else:
        dist[start] = 0
    inf = float("inf")
    changed = True
    while changed:
        changed = False
        for s, t, d in triples:
            a, b = (s, d) if forward else (d, s)
            if a in dist and dist[a] + 2 < dist.get(b, inf):
                dist[b] = dist[a] + 2
                changed = True
        for t, n in touch:
            if n in dist and dist[n] + 1 < dist.get(t, inf):
                dist[t] = dist[n] + 1
                changed = True
    dist.pop(start, None)
    return {k: int(v) for k, v in dist.items()}


@pytest.mark.parametrize("kind", STORES)
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(runs=random_dags(), data=st.data())
def test_traversals_match_the_oracle_on_random_dags(
    kind: str, runs: list[Run], data: Any, tmp_path: Path, request: Any
) -> None:
    graph = store_graph(kind, list(runs), tmp_path, request=request)
    vertices = graph.node_ids() + graph.transformation_ids()
    start = data.draw(st.sampled_from(vertices))
    depth = data.draw(st.none() | st.integers(1, 6))
    for forward, walk in ((True, graph.downstream), (False, graph.upstream)):
        expected = oracle(runs, start, forward)
        if depth is not None:
            expected = {k: v for k, v in expected.items() if v <= depth}
            assert walk(start, depth) == sorted(expected, key=lambda k: (expected[k], k))
        else:
            assert walk(start) == sorted(expected)
    target = data.draw(st.sampled_from(vertices))
    path = graph.path(start, target)
    reachable = target == start or target in oracle(runs, start, True)
    assert (path is not None) == reachable
    if path is not None and len(path) > 1:
        assert path[0] == start and path[-1] == target
        forward_dist = oracle(runs, start, True)
        assert len(path) - 1 == forward_dist[target]  # shortest
        triples = {(s, r.transformation, d) for r in runs for s, d in r.edges()}
        reads = {(n, r.transformation) for r in runs for n in r.inputs}
        writes = {(r.transformation, n) for r in runs for n in r.outputs}
        steps = path
        if start in graph.transformation_ids():
            assert (start, path[1]) in writes
            steps = path[1:]
        if target in graph.transformation_ids() and len(steps) > 1:
            assert (steps[-2], target) in reads
            steps = steps[:-1]
        for i in range(0, len(steps) - 2, 2):  # node, transformation, node, ...
            assert (steps[i], steps[i + 1], steps[i + 2]) in triples


@pytest.mark.parametrize("kind", ["json", "sqlite", "postgresql"])
def test_stores_agree_with_memory_on_the_seed(kind: str, tmp_path: Path, request: Any) -> None:
    memory = MemorySink()
    lineage_sdk.configure([memory], on_error="raise")
    run_seed()
    reference = lineage_sdk.load_graph(memory)
    other = store_graph(kind, list(memory.records), tmp_path, request=request)
    for node in reference.node_ids() + reference.transformation_ids():
        assert other.upstream(node) == reference.upstream(node)
        assert other.downstream(node, 2) == reference.downstream(node, 2)
    assert other.orphans() == reference.orphans()
    assert other.edges() == reference.edges()
    for t in reference.transformation_ids():
        assert other.versions(t) == reference.versions(t)
