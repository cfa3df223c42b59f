"""The explorer in a real headless Chromium: the contract a user and their automation rely on."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lineage_sdk import DataSource, configure, log_lineage
from lineage_sdk.graph import LineageGraph, load_graph
from lineage_sdk.sinks import JsonFileSink, SQLiteSink
from tests.conftest import ROOT, child_env
from tests.ui.conftest import (
    HOSTILE,
    Browser,
    hostile_store,
    serve_command,
    serving,
    synthetic_records,
    write_page,
)

SEED_IDS = {
    "raw_impressions_kafka_topic": "DataSource",
    "raw_clicks_kafka_topic": "DataSource",
    "user_profiles_postgres_table": "DataSource",
    "user_impressions_7d": "Feature",
    "user_clicks_7d": "Feature",
    "user_ctr_7d": "Feature",
    "calculate_user_counts_7d_job_v1.2": "Transformation",
    "calculate_user_ctr_job_v1.0": "Transformation",
}
COUNTS = "calculate_user_counts_7d_job_v1.2"


@pytest.fixture(scope="module")
def seed_page(seed_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("page") / "lineage.html"
    write_page(load_graph(f"sqlite:{seed_store}"), target)
    return target


def offline_ok(browser: Browser) -> None:
    """Nothing logged to the console, no request but the file itself."""
    console, urls = browser.drain()
    assert console == []
    assert [u for u in urls if not u.startswith(("file:", "data:"))] == []
    assert browser.js("return window.__dialogs") == []


def node(browser: Browser, node_id: str) -> Any:
    return browser.js(
        "return [...document.querySelectorAll('[data-node-id]')]"
        ".find(e => e.getAttribute('data-node-id') === arguments[0])",
        node_id,
    )


def shown_ids(browser: Browser) -> list[str]:
    return list(
        browser.js(
            "return [...document.querySelectorAll('[data-node-id]')]"
            ".map(e => e.getAttribute('data-node-id'))"
        )
    )


def details(browser: Browser) -> str:
    return str(browser.driver.find_element("id", "details").text)


def faded(browser: Browser) -> set[str]:
    return set(
        browser.js(
            "return [...document.querySelectorAll('.node.faded')]"
            ".map(e => e.getAttribute('data-node-id'))"
        )
    )


def test_the_seed_page_shows_every_node_with_its_kind_and_no_request(
    browser: Browser, seed_page: Path, tmp_path: Path
) -> None:
    browser.open(seed_page.as_uri())
    shown = browser.js(
        "return Object.fromEntries([...document.querySelectorAll('[data-node-id]')]"
        ".map(e => [e.getAttribute('data-node-id'), e.getAttribute('data-kind')]))"
    )
    assert shown == SEED_IDS
    assert browser.js("return performance.getEntriesByType('resource').length") == 0
    browser.driver.save_screenshot(str(tmp_path / "seed.png"))
    offline_ok(browser)


def test_clicking_a_transformation_shows_its_code_reference_and_latest_commit(
    browser: Browser, seed_page: Path, seed_store: Path, tmp_path: Path
) -> None:
    graph = load_graph(f"sqlite:{seed_store}")
    latest = graph.runs(transformation=COUNTS, limit=1)[0]
    browser.open(seed_page.as_uri())
    node(browser, COUNTS).click()
    text = details(browser)
    assert text.splitlines()[0] == COUNTS
    for expected in ("Transformation", "Spark", "1.2", "completed", "Counts impressions"):
        assert expected in text
    assert graph.node(COUNTS).code_reference in text  # type: ignore[union-attr]
    assert latest.git is not None and latest.git.commit in text
    assert browser.js("return location.hash") == "#node=calculate_user_counts_7d_job_v1.2"
    assert "selected" in node(browser, COUNTS).get_attribute("class")
    browser.driver.save_screenshot(str(tmp_path / "details.png"))
    offline_ok(browser)


def test_clicking_a_feature_lists_the_source_columns_it_derives_from(
    browser: Browser, seed_page: Path
) -> None:
    browser.open(seed_page.as_uri())
    node(browser, "user_clicks_7d").click()
    lines = details(browser).splitlines()
    assert "source columns" in lines
    assert lines[lines.index("source columns") + 1] == (
        "raw_clicks_kafka_topic.timestamp, raw_clicks_kafka_topic.user_id"
    )
    node(browser, "user_ctr_7d").click()  # derived from whole features: no column row
    assert "source columns" not in details(browser).splitlines()
    offline_ok(browser)


def test_search_suggests_ids_and_descriptions_and_enter_selects_the_first(
    browser: Browser, seed_page: Path
) -> None:
    browser.open(seed_page.as_uri())
    box = browser.driver.find_element("id", "search")
    box.send_keys("clicks")
    suggested = browser.js(
        "return [...document.querySelectorAll('#suggestions li .sid')].map(e => e.textContent)"
    )
    # ids first (prefix before infix), then a match in a description only
    assert suggested[:2] == ["raw_clicks_kafka_topic", "user_clicks_7d"]
    assert "calculate_user_counts_7d_job_v1.2" in suggested  # "Counts impressions and clicks"
    box.send_keys("\n")
    assert details(browser).splitlines()[0] == "raw_clicks_kafka_topic"
    assert browser.js("return document.getElementById('suggestions').hidden") is True
    offline_ok(browser)


def test_focus_fades_what_is_neither_upstream_nor_downstream_per_output(
    browser: Browser, seed_page: Path, seed_store: Path
) -> None:
    graph = load_graph(f"sqlite:{seed_store}")
    browser.open(seed_page.as_uri() + "#node=user_impressions_7d")
    assert faded(browser) == set()
    browser.driver.find_element("id", "focus-mode").click()
    lit = {
        "user_impressions_7d",
        *graph.upstream("user_impressions_7d"),
        *graph.downstream("user_impressions_7d"),
    }
    assert "raw_clicks_kafka_topic" not in lit  # derived from impressions only
    assert faded(browser) == set(SEED_IDS) - lit
    browser.js(
        "const d = document.getElementById('depth'); d.value = '1';"
        "d.dispatchEvent(new Event('change'))"
    )
    lit1 = {
        "user_impressions_7d",
        *graph.upstream("user_impressions_7d", 1),
        *graph.downstream("user_impressions_7d", 1),
    }
    assert faded(browser) == set(SEED_IDS) - lit1
    assert lit1 < lit
    offline_ok(browser)


def test_a_node_link_selects_the_node_and_follows_hash_changes(
    browser: Browser, seed_page: Path
) -> None:
    browser.open(seed_page.as_uri() + "#node=user_ctr_7d")
    assert details(browser).splitlines()[0] == "user_ctr_7d"
    browser.js("location.hash = '#node=' + encodeURIComponent('user_clicks_7d')")
    browser.driver.implicitly_wait(0)
    assert (
        browser.js("return document.querySelector('#details h2').textContent") == "user_clicks_7d"
    )
    offline_ok(browser)


def test_pan_zoom_and_fit_move_the_view(browser: Browser, seed_page: Path) -> None:
    browser.open(seed_page.as_uri())
    transform = "return document.getElementById('viewport').getAttribute('transform')"
    fitted = browser.js(transform)
    browser.driver.find_element("id", "zoom-in").click()
    zoomed = browser.js(transform)
    assert zoomed != fitted
    from selenium.webdriver import ActionChains

    canvas = browser.driver.find_element("id", "canvas")
    ActionChains(browser.driver).move_to_element_with_offset(
        canvas, -300, 200
    ).click_and_hold().move_by_offset(80, 40).release().perform()
    assert browser.js(transform) != zoomed
    browser.js(
        "document.getElementById('canvas').dispatchEvent(new WheelEvent('wheel',"
        "{deltaY: 300, clientX: 200, clientY: 200, bubbles: true, cancelable: true}))"
    )
    browser.driver.find_element("id", "zoom-fit").click()
    assert browser.js(transform) == fitted
    offline_ok(browser)


def test_walks_in_the_page_equal_the_graphs_on_random_lineage(
    browser: Browser, tmp_path: Path
) -> None:
    graph = LineageGraph(synthetic_records(transformations=60, seed=11))
    browser.open(write_page(graph, tmp_path / "random.html"))
    ids = graph.node_ids() + graph.transformation_ids()
    got = browser.js(
        "const out = {}; for (const id of arguments[0]) for (const d of [null, 1, 2, 3, 5]) {"
        "  const x = lineageExplorer;"
        "  out[id + '|' + d] = [x.upstream(id, d), x.downstream(id, d)];"
        "} return out;",
        ids,
    )
    for node_id in ids:
        for depth in (None, 1, 2, 3, 5):
            up, down = got[f"{node_id}|{'null' if depth is None else depth}"]
            assert sorted(up) == sorted(graph.upstream(node_id, depth)), (node_id, depth)
            assert sorted(down) == sorted(graph.downstream(node_id, depth)), (node_id, depth)
    offline_ok(browser)


def test_hostile_ids_render_as_text_and_run_nothing(browser: Browser, tmp_path: Path) -> None:
    graph = load_graph(hostile_store(tmp_path / "l.jsonl"))
    browser.open(write_page(graph, tmp_path / "hostile.html"))
    assert sorted(shown_ids(browser)) == sorted(HOSTILE)
    node(browser, HOSTILE[0]).click()
    assert details(browser).splitlines()[0] == HOSTILE[0]
    assert HOSTILE[1] in details(browser)  # its description, shown as text
    assert "<b>kafka</b>" in details(browser)  # its type
    node(browser, HOSTILE[2]).click()
    browser.driver.find_element("id", "search").send_keys("</script")
    assert (
        browser.js("return document.querySelector('#suggestions li .sid').textContent")
        == HOSTILE[1]
    )
    counts = browser.js(
        "return [document.querySelectorAll('img, iframe, object, embed').length,"
        " document.scripts.length, document.querySelectorAll('svg svg:not(.timeline)').length]"
    )
    assert counts == [0, 2, 0]
    browser.js("location.hash = '#node=' + encodeURIComponent(arguments[0])", HOSTILE[1])
    assert browser.js("return document.querySelector('#details h2').textContent") == HOSTILE[1]
    offline_ok(browser)


def test_a_failed_last_run_is_marked_with_its_error_and_timeline(
    browser: Browser, tmp_path: Path
) -> None:
    from lineage_sdk import DataSource, Feature

    configure([SQLiteSink(tmp_path / "l.db")], on_error="raise")
    src, out = DataSource("events", type="table"), Feature("score", value_type="float")

    @log_lineage(inputs=[src], outputs=[out], name="score_job")
    def job(fail: bool) -> None:
        if fail:
            raise RuntimeError("upstream <table> missing")

    job(False)
    with pytest.raises(RuntimeError):
        job(True)
    graph = load_graph(f"sqlite:{tmp_path / 'l.db'}")
    browser.open(write_page(graph, tmp_path / "failed.html") + "#node=score_job")
    assert "failed" in node(browser, "score_job").get_attribute("class").split()
    assert "last run failed" in node(browser, "score_job").text
    text = details(browser)
    assert "builtins.RuntimeError: upstream <table> missing" in text
    statuses = browser.js(
        "return [...document.querySelectorAll('#details tbody td:first-child')]"
        ".map(e => e.textContent).filter(t => t === 'failed' || t === 'completed')"
    )
    assert statuses == ["failed", "completed"]  # newest first
    bars = browser.js(
        "return [...document.querySelectorAll('.timeline rect')].map(e => e.getAttribute('class'))"
    )
    assert bars == ["completed", "failed"]  # oldest to newest, left to right
    offline_ok(browser)


def test_a_big_graph_opens_on_layers_and_still_selects_and_focuses(
    browser: Browser, tmp_path: Path
) -> None:
    graph = LineageGraph(synthetic_records(transformations=200, seed=2))
    browser.open(write_page(graph, tmp_path / "big.html") + "#node=feat_100_0")
    assert "layered overview" in browser.driver.find_element("id", "status").text
    browser.driver.find_element("id", "focus-mode").click()
    lit = {"feat_100_0", *graph.upstream("feat_100_0"), *graph.downstream("feat_100_0")}
    everything = set(graph.node_ids()) | set(graph.transformation_ids())
    assert faded(browser) == everything - lit
    offline_ok(browser)


# --- served --------------------------------------------------------------------------------------
@pytest.fixture
def live_server(seed_store: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    store = tmp_path / "live.db"
    store.write_bytes(seed_store.read_bytes())
    proc = serve_command(f"sqlite:{store}")
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        yield line.split(" at ")[1].split()[0], store
    finally:
        proc.terminate()
        proc.communicate(timeout=20)


def test_served_page_shows_runs_recorded_after_it_started(
    browser: Browser, live_server: tuple[str, Path]
) -> None:
    url, store = live_server
    browser.open(url + "#node=" + COUNTS)
    before = browser.js("return document.querySelectorAll('#details tbody tr').length")
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "ctr_7d.py"),
            "--users",
            "50",
            "--svg",
            str(store.parent / "x.svg"),
        ],
        cwd=store.parent,
        env=child_env(LINEAGE_SINK=f"sqlite:{store}"),
        check=True,
        capture_output=True,
    )
    newest = load_graph(f"sqlite:{store}").runs(transformation=COUNTS, limit=1)[0]
    browser.driver.refresh()
    assert browser.js("return document.querySelectorAll('#details tbody tr').length") == before + 1
    assert f"recent runs ({before + 1})" in details(browser)
    assert newest.started_at.strftime("%Y-%m-%d %H:%M:%S") in details(browser)
    console, urls = browser.drain()
    assert console == []
    assert [u for u in urls if not u.startswith((url, "data:"))] == []


def test_a_big_served_graph_lays_the_selected_neighbourhood_out_with_dot(
    browser: Browser,
) -> None:
    graph = LineageGraph(synthetic_records(transformations=120, seed=4))
    with serving(lambda: graph) as url:
        browser.open(url + "#node=feat_60_0")
        link = browser.driver.find_element("id", "neighbourhood")
        assert link.is_displayed()
        browser.js("const d = document.getElementById('depth'); d.value = '2';"
                   "d.dispatchEvent(new Event('change'))")  # fmt: skip
        link.click()
        assert browser.js("return document.querySelector('#details h2').textContent") == "feat_60_0"
        assert set(shown_ids(browser)) == {"feat_60_0", *graph.upstream("feat_60_0", 2),
                         *graph.downstream("feat_60_0", 2)}  # fmt: skip
        assert "dot layout" in browser.driver.find_element("id", "status").text
        assert browser.driver.find_element("id", "focus-mode").is_selected()
        console, urls = browser.drain()
        assert console == []
        assert [u for u in urls if not u.startswith((url, "data:"))] == []


def test_the_notebook_view_runs_the_explorer_inside_its_sandboxed_frame(
    browser: Browser, seed_store: Path, tmp_path: Path
) -> None:
    graph = load_graph(f"sqlite:{seed_store}")
    notebook = tmp_path / "cell.html"
    notebook.write_text(f"<!DOCTYPE html><html><body>{graph._repr_html_()}</body></html>")
    browser.open(notebook.as_uri())
    browser.driver.switch_to.frame(browser.driver.find_element("tag name", "iframe"))
    try:
        node(browser, COUNTS).click()
        assert details(browser).splitlines()[0] == COUNTS
        assert len(browser.driver.find_elements("css selector", "[data-node-id]")) == len(SEED_IDS)
    finally:
        browser.driver.switch_to.default_content()
    offline_ok(browser)


def test_bidi_controls_in_ids_are_shown_as_escapes_not_applied(
    browser: Browser, tmp_path: Path
) -> None:
    spoof = "T\u202egnp.exe"
    configure([JsonFileSink(tmp_path / "l.jsonl")], on_error="raise")

    @log_lineage(inputs=[DataSource(spoof, type="file")], outputs=["out\u2066x\u2069"])
    def job() -> None:
        return None

    job()
    graph = load_graph(f"json:{tmp_path / 'l.jsonl'}")
    browser.open(write_page(graph, tmp_path / "bidi.html"))
    node(browser, spoof).click()
    assert details(browser).splitlines()[0] == "T\\u202egnp.exe"
    labels = browser.js(
        "return [...document.querySelectorAll('[data-node-id] text, [data-node-id] title')]"
        ".map(e => e.textContent).join(' ')"
    )
    assert "T\\u202egnp.exe" in labels and "out\\u2066x\\u2069" in labels
    shown_text = browser.js("return document.body.innerText")
    assert not any(ch in shown_text for ch in "\u202e\u2066\u2069")
    offline_ok(browser)
