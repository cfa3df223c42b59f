"""Rendering through the real Graphviz ``dot``: the seed's visual language and hostile ids."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lineage_sdk
from lineage_sdk import DataSource, Feature, MemorySink, Run
from lineage_sdk.graph import LineageGraph
from lineage_sdk.render import DotNotFoundError

from .helpers import COUNTS, CTR, dot_json, run_seed, shown, title_of
from .strategies import hostile_text

needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None,
    reason="the Graphviz 'dot' binary is not installed (apt-get install graphviz); "
    "CI installs it, so these run there",
)
UTC = dt.timezone.utc


@pytest.fixture
def seed() -> LineageGraph:
    sink = MemorySink()
    lineage_sdk.configure([sink], on_error="raise")
    run_seed()
    return lineage_sdk.load_graph(sink)


def test_seed_dot_uses_the_visual_language(seed: LineageGraph) -> None:
    source = seed.to_dot()
    assert "rankdir=LR" in source
    styles = {
        "raw_clicks_kafka_topic": 'shape=folder, fillcolor="#a5d8ff"',
        "user_profiles_postgres_table": 'shape=folder, fillcolor="#a5d8ff"',  # unused, still drawn
        "user_ctr_7d": 'shape=ellipse, fillcolor="#b2f2bb"',
        COUNTS: 'shape=box, fillcolor="#ffd8a8"',
    }
    for node_id, style in styles.items():
        line = next(line for line in source.splitlines() if f"<b>{node_id}</b>" in line)
        assert style in line


@needs_dot
def test_seed_graph_has_exactly_the_intended_nodes_and_edges(seed: LineageGraph) -> None:
    data = dot_json(seed.to_dot())
    names = {o["_gvid"]: title_of(o["label"]) for o in data["objects"]}
    assert set(names.values()) == {
        "raw_impressions_kafka_topic",
        "raw_clicks_kafka_topic",
        "user_profiles_postgres_table",
        "user_impressions_7d",
        "user_clicks_7d",
        "user_ctr_7d",
        COUNTS,
        CTR,
    }
    edges = {(names[e["tail"]], names[e["head"]]) for e in data["edges"]}
    assert edges == {
        ("raw_impressions_kafka_topic", COUNTS),
        ("raw_clicks_kafka_topic", COUNTS),
        (COUNTS, "user_impressions_7d"),
        (COUNTS, "user_clicks_7d"),
        ("user_impressions_7d", CTR),
        ("user_clicks_7d", CTR),
        (CTR, "user_ctr_7d"),
    }


def test_focus_and_depth_limit_the_drawing(seed: LineageGraph) -> None:
    source = seed.to_dot(focus="user_impressions_7d", depth=1)
    titles = re.findall(r"<b>(.*?)</b>", source)
    assert sorted(titles) == sorted([COUNTS, CTR, "user_impressions_7d"])
    with pytest.raises(ValueError, match="depth needs focus"):
        seed.to_dot(depth=1)


def test_a_transformation_whose_last_run_failed_is_marked() -> None:
    at = dt.datetime(2026, 1, 1, tzinfo=UTC)
    graph = LineageGraph(
        [
            Run(
                "r1",
                "job",
                "completed",
                at,
                at,
                0.0,
                inputs=("a",),
                outputs=("b",),
                derivation=[("b", ["a"])],
            ),
            Run(
                "r2", "job", "failed", at + dt.timedelta(1), at, 0.0, inputs=("a",), outputs=("b",)
            ),
        ]
    )
    line = next(line for line in graph.to_dot().splitlines() if "<b>job</b>" in line)
    assert 'color="#e03131"' in line and "last run failed" in line


@needs_dot
@settings(max_examples=50, deadline=None)
@given(ids=st.lists(hostile_text, min_size=1, max_size=5, unique=True))
def test_hostile_ids_yield_valid_dot_with_exactly_the_intended_graph(ids: list[str]) -> None:
    at = dt.datetime(2026, 1, 1, tzinfo=UTC)
    sources = [DataSource(f"s{i} {x}", type=x) for i, x in enumerate(ids)]
    feature = Feature(f"feature {ids[0]}", description=ids[-1])
    run = Run(
        "r",
        f"t {ids[-1]}",
        "completed",
        at,
        at,
        0.0,
        inputs=tuple(s.id for s in sources),
        outputs=(feature.id,),
    )
    graph = LineageGraph([*sources, feature, run])
    data = dot_json(graph.to_dot())
    names = {o["_gvid"]: title_of(o["label"]) for o in data["objects"]}
    expected_nodes = [s.id for s in sources] + [feature.id, run.transformation]
    assert sorted(names.values()) == sorted(shown(n) for n in expected_nodes)
    edges = sorted((names[e["tail"]], names[e["head"]]) for e in data.get("edges", []))
    assert edges == sorted(
        [(shown(s.id), shown(run.transformation)) for s in sources]
        + [(shown(run.transformation), shown(feature.id))]
    )


@needs_dot
@pytest.mark.parametrize("fmt", ["svg", "png", "pdf", "dot"])
def test_render_writes_each_format_from_the_suffix(
    seed: LineageGraph, tmp_path: Path, fmt: str
) -> None:
    path = seed.render(tmp_path / f"lineage.{fmt}")
    data = path.read_bytes()
    magic = {"svg": b"<?xml", "png": b"\x89PNG", "pdf": b"%PDF", "dot": b"digraph"}[fmt]
    assert data.startswith(magic)
    if fmt == "svg":
        ET.fromstring(data)  # well-formed XML


@needs_dot
def test_graph_displays_itself_in_jupyter(seed: LineageGraph) -> None:
    bundle = seed._repr_mimebundle_()
    assert bundle["image/svg+xml"].lstrip().startswith("<?xml")
    assert seed._repr_svg_().lstrip().startswith("<?xml")


def test_without_dot_rendering_explains_how_to_install_and_dot_text_still_works(
    seed: LineageGraph, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(DotNotFoundError, match="apt-get install graphviz"):
        seed.render(tmp_path / "g.svg")
    assert seed.render(tmp_path / "g.dot").read_text().startswith("digraph")
    assert "text/plain" in seed._repr_mimebundle_()
