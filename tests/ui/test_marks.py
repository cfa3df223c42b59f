"""The explorer marks what ``lineage graph`` marks: stale features with their reasons, and the
changes between two moments (``lineage ui --diff A B``), on the real git history of
``tests.helpers.build_history``; the data on every store kind, the page in a real Chromium."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from lineage_sdk import DataSource, Feature, JsonFileSink, configure, log_lineage
from lineage_sdk.cli import main
from lineage_sdk.graph import LineageGraph, load_graph
from lineage_sdk.ui.data import explorer_data
from tests.ui.conftest import HOSTILE, Browser

COUNTS = "calculate_user_counts_7d"
CTR = "calculate_user_ctr"
LAND = "land_raw_clicks"
ALL_IDS = {
    "raw_clicks_kafka_topic",
    "raw_impressions_kafka_topic",
    "user_clicks_7d",
    "user_ctr_7d",
    "user_impressions_7d",
    COUNTS,
    CTR,
    LAND,
}
ORANGE, GREEN, RED, VIOLET = (
    "rgb(240, 140, 0)",
    "rgb(47, 158, 68)",
    "rgb(224, 49, 49)",
    ("rgb(112, 72, 232)"),
)


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out)
    return code, out.getvalue()


def diff_data(graph: LineageGraph, start: str, end: str) -> dict[str, Any]:
    """The explorer's data for ``ui --diff start end``: the union, the changes marked."""
    found = graph.diff(start, end)
    union = graph.as_of(max(found.start.at, found.end.at))
    try:
        return explorer_data(union, diff=found)
    finally:
        union.close()


def by_id(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["id"]: v for v in data["nodes"]}


def page_data(path: Path) -> dict[str, Any]:
    found = re.search(
        r'<script id="lineage-data" type="application/json">(.*?)</script>',
        path.read_text(encoding="utf-8"),
    )
    assert found is not None
    return json.loads(found.group(1))  # type: ignore[no-any-return]


# --- the data, on every store kind ----------------------------------------------------------------
def test_data_carries_each_stale_feature_with_its_reasons(history_store: str) -> None:
    graph = load_graph(history_store)
    try:
        vertices = by_id(explorer_data(graph))
        expected = {e.id: [r.to_json() for r in e.reasons] for e in graph.stale()}
        assert set(expected) == {"user_clicks_7d", "user_ctr_7d"}
        assert {k: v["stale"] for k, v in vertices.items() if v["stale"]} == expected
        assert [r["kind"] for r in vertices["user_ctr_7d"]["stale"]] == [
            "upstream_newer",
            "upstream_newer",
            "upstream_stale",
        ]
        assert vertices["user_impressions_7d"]["stale"] == []
        assert all(v["mark"] is None for v in vertices.values())
        then = graph.as_of("v1.0")
        assert all(v["stale"] == [] for v in explorer_data(then)["nodes"])
        then.close()
    finally:
        graph.close()


def test_data_for_a_diff_marks_the_changed_transformation_with_both_sides(
    history_store: str,
) -> None:
    graph = load_graph(history_store)
    try:
        data = diff_data(graph, "v1.0", "v1.1")
        vertices = by_id(data)
        assert {k for k, v in vertices.items() if v["mark"]} == {COUNTS}
        counts = vertices[COUNTS]
        assert counts["mark"] == "changed"
        assert counts["sub"].endswith("changed: code, version")
        assert counts["changed"]["fields"] == ["code", "version"]
        assert (counts["changed"]["from"]["version"], counts["changed"]["to"]["version"]) == (
            "1.0",
            "1.1",
        )
        assert (counts["changed"]["from"]["tag"], counts["changed"]["to"]["tag"]) == (
            "v1.0",
            "v1.1",
        )
        revisions = graph.history(COUNTS).revisions
        assert [counts["changed"][s]["source_sha256"] for s in ("from", "to")] == [
            r.source_sha256 for r in revisions
        ]
        assert all(v["stale"] == [] for v in data["nodes"])  # as `graph --diff`: diff only
        assert data["edge_marks"] == [None] * len(data["edges"])
        assert data["diff"]["from"]["when"] == "v1.0" and data["diff"]["to"]["when"] == "v1.1"
        assert data["diff"]["affected"] == ["user_clicks_7d", "user_ctr_7d", "user_impressions_7d"]
    finally:
        graph.close()


def test_data_for_a_diff_from_nothing_and_back_marks_everything_added_then_removed(
    history_store: str,
) -> None:
    graph = load_graph(history_store)
    try:
        grown = diff_data(graph, "2000-01-01", "v1.0")
        assert {v["id"] for v in grown["nodes"]} == ALL_IDS
        assert {v["mark"] for v in grown["nodes"]} == {"added"}
        assert grown["edge_marks"] == ["added"] * 8
        gone = diff_data(graph, "v1.0", "2000-01-01")
        assert {v["mark"] for v in gone["nodes"]} == {"removed"}
        assert gone["edge_marks"] == ["removed"] * 8
    finally:
        graph.close()


# --- the command ---------------------------------------------------------------------------------
def test_ui_diff_writes_the_marked_union(history_store: str, tmp_path: Path) -> None:
    target = tmp_path / "changes.html"
    code, text = run("ui", "--diff", "v1.0", "v1.1", "--store", history_store, "-o", str(target))
    assert code == 0 and str(target.resolve()) in text
    graph = load_graph(history_store)
    expected = diff_data(graph, "v1.0", "v1.1")
    graph.close()
    written = page_data(target)
    assert by_id(written)[COUNTS]["changed"] == by_id(expected)[COUNTS]["changed"]
    assert written["diff"] == expected["diff"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--serve"], "--diff writes one offline page; it does not take --serve"),
        (["--focus", "user_ctr_7d"], "--diff shows the whole graph; it does not take --focus"),
    ],
)
def test_ui_diff_refuses_what_it_cannot_show(
    pipeline_history: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    store = pipeline_history.stores["sqlite"]
    code, _ = run(
        "ui", "--diff", "v1.0", "v1.1", "--store", store, "-o", str(tmp_path / "x"), *extra
    )
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_ui_diff_of_an_unknown_moment_says_so(
    pipeline_history: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = pipeline_history.stores["sqlite"]
    code, _ = run("ui", "--diff", "v1.0", "v9.9", "--store", store, "-o", str(tmp_path / "x"))
    assert code == 2
    assert "'v9.9' names no recorded moment" in capsys.readouterr().err


# --- the page, in a real Chromium ----------------------------------------------------------------
def classes(browser: Browser, node_id: str) -> list[str]:
    return list(
        browser.js(
            "const g = [...document.querySelectorAll('[data-node-id]')]"
            "  .find(e => e.getAttribute('data-node-id') === arguments[0]);"
            "return [...g.classList];",
            node_id,
        )
    )


def stroke(browser: Browser, node_id: str) -> tuple[str, str]:
    """The computed stroke colour and dash pattern of a vertex's shape."""
    found = browser.js(
        "const g = [...document.querySelectorAll('[data-node-id]')]"
        "  .find(e => e.getAttribute('data-node-id') === arguments[0]);"
        "const s = getComputedStyle(g.querySelector('.shape'));"
        "return [s.stroke, s.strokeDasharray];",
        node_id,
    )
    return found[0], found[1]


def open_details(browser: Browser, node_id: str) -> str:
    browser.js("window.lineageExplorer.select(arguments[0])", node_id)
    return str(browser.driver.find_element("id", "details").text)


def clean(browser: Browser) -> None:
    """Nothing logged, nothing requested but the file, no dialog."""
    console, urls = browser.drain()
    assert console == []
    assert [u for u in urls if not u.startswith(("file:", "data:"))] == []
    assert browser.js("return window.__dialogs") == []


def test_page_marks_stale_features_orange_with_their_reasons(
    browser: Browser, pipeline_history: Any, tmp_path: Path
) -> None:
    target = tmp_path / "lineage.html"
    code, _ = run("ui", "--store", pipeline_history.stores["sqlite"], "-o", str(target))
    assert code == 0
    browser.open(target.as_uri())
    assert "stale" in classes(browser, "user_ctr_7d")
    assert stroke(browser, "user_ctr_7d")[0] == ORANGE
    assert "stale" not in classes(browser, "user_impressions_7d")
    assert stroke(browser, "user_impressions_7d")[0] != ORANGE
    text = open_details(browser, "user_ctr_7d")
    assert "stale" in text.splitlines()
    assert stroke(browser, "user_ctr_7d")[0] == ORANGE  # selected, it keeps its mark
    reasons = browser.js(
        "return [...document.querySelectorAll('#details .stale-reasons li')].map(li =>"
        " [li.querySelector('.reason-kind').textContent,"
        "  li.querySelector('.reason-detail').textContent])"
    )
    graph = load_graph(pipeline_history.stores["sqlite"])
    (entry,) = [e for e in graph.stale() if e.id == "user_ctr_7d"]
    graph.close()
    assert reasons == [[r.kind, r.detail] for r in entry.reasons]
    assert "stale" not in open_details(browser, "user_impressions_7d").splitlines()
    clean(browser)


def test_page_for_a_diff_draws_the_union_in_the_graph_colours(
    browser: Browser, pipeline_history: Any, tmp_path: Path
) -> None:
    store = pipeline_history.stores["sqlite"]
    changed = tmp_path / "changed.html"
    assert run("ui", "--diff", "v1.0", "v1.1", "--store", store, "-o", str(changed))[0] == 0
    browser.open(changed.as_uri())
    assert "changed" in classes(browser, COUNTS)
    assert stroke(browser, COUNTS)[0] == VIOLET
    assert "changed" not in classes(browser, CTR)
    assert "stale" not in classes(browser, "user_ctr_7d")
    text = open_details(browser, COUNTS)
    assert "changed: code, version" in text.splitlines()
    assert browser.js("return document.querySelector('#details .mark').className") == (
        "mark changed"
    )
    rows = browser.js(
        "return [...document.querySelectorAll('#details .changed-table tr')]"
        ".map(tr => [...tr.children].map(c => c.textContent))"
    )
    assert rows[0] == ["", "v1.0", "v1.1"]
    assert rows[1] == ["version", "1.0", "1.1"]
    assert rows[4] == ["tag", "v1.0", "v1.1"]
    assert browser.js("return document.getElementById('status').textContent").startswith(
        "changes from v1.0 to v1.1"
    )
    clean(browser)

    grown = tmp_path / "grown.html"
    assert run("ui", "--diff", "2000-01-01", "v1.0", "--store", store, "-o", str(grown))[0] == 0
    browser.open(grown.as_uri())
    assert {stroke(browser, i)[0] for i in ALL_IDS} == {GREEN}
    assert browser.js("return document.querySelectorAll('#edges path.added').length") == 8
    open_details(browser, CTR)
    assert browser.js("return document.querySelector('#details .mark.added').textContent") == (
        "added"
    )
    clean(browser)

    gone = tmp_path / "gone.html"
    assert run("ui", "--diff", "v1.0", "2000-01-01", "--store", store, "-o", str(gone))[0] == 0
    browser.open(gone.as_uri())
    colour, dashes = stroke(browser, CTR)
    assert colour == RED and dashes != "none"
    assert "removed" in classes(browser, CTR)
    assert browser.js("return document.querySelectorAll('#edges path.removed').length") == 8
    clean(browser)


def hostile_stale_store(path: Path) -> str:
    """A JSON store where a feature named like markup is stale because its source, named like
    markup, was produced again after it."""
    configure([JsonFileSink(path)], on_error="raise")
    src = DataSource(HOSTILE[0], type="kafka")
    out = Feature(HOSTILE[1], value_type="float")

    @log_lineage(outputs=[src], name="land <i>x</i>")
    def land() -> None:
        return None

    @log_lineage(inputs=[src], outputs=[out], name=HOSTILE[2])
    def derive() -> None:
        return None

    land()
    derive()
    land()
    return f"json:{path}"


def test_hostile_stale_reasons_stay_text(browser: Browser, tmp_path: Path) -> None:
    store = hostile_stale_store(tmp_path / "l.jsonl")
    graph = load_graph(store)
    assert [e.id for e in graph.stale()] == [HOSTILE[1]]
    graph.close()
    target = tmp_path / "hostile.html"
    assert run("ui", "--store", store, "-o", str(target))[0] == 0
    browser.open(target.as_uri())
    assert "stale" in classes(browser, HOSTILE[1])
    open_details(browser, HOSTILE[1])
    detail = browser.js("return document.querySelector('#details .reason-detail').textContent")
    assert detail.startswith(HOSTILE[0] + " was produced again")
    counts = browser.js(
        "return [document.querySelectorAll('img, iframe, object, embed').length,"
        " document.scripts.length]"
    )
    assert counts == [0, 2]
    clean(browser)
