"""The explorer's page, data, layout, server and command, without a browser."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lineage_sdk.cli import main
from lineage_sdk.graph import LineageGraph, load_graph
from lineage_sdk.records import CodeRef, GitInfo, Run
from lineage_sdk.ui.data import code_url, explorer_data
from lineage_sdk.ui.layout import DOT_LIMIT, Box, dot_layout, layer_layout
from lineage_sdk.ui.page import build_page, embed_json
from lineage_sdk.ui.server import is_loopback
from tests.conftest import child_env
from tests.ui.conftest import (
    HOSTILE,
    hostile_store,
    need,
    serve_command,
    serving,
    synthetic_records,
)

ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()))


@given(st.recursive(ANY_TEXT | st.integers() | st.none(), lambda c: st.lists(c, max_size=3)))
def test_embedded_json_round_trips_and_never_holds_markup_characters(value: Any) -> None:
    text = embed_json({"v": value})
    assert json.loads(text) == {"v": value}
    text.encode("utf-8")  # the page is written as UTF-8, even around lone surrogates
    assert not set(text) & {"<", ">", "&", "\u2028", "\u2029"}


def test_hostile_ids_never_reach_the_markup(tmp_path: Path) -> None:
    page = build_page(load_graph(hostile_store(tmp_path / "l.jsonl")))
    assert page.count("<script") == 2  # the data element and the page's own script
    assert "onerror" in page  # present, but only inside the JSON, where it is inert text
    for needle in ("<img", "</script><script>alert", "<svg onload", "<b>kafka", "\u2028"):
        assert needle not in page
    data = re.search(r'<script id="lineage-data" type="application/json">(.*?)</script>', page)
    assert data is not None
    ids = {n["id"] for n in json.loads(data.group(1))["nodes"]}
    assert ids == set(HOSTILE)


def test_the_policy_allows_exactly_the_pages_own_script_and_style(tmp_path: Path) -> None:
    page = build_page(load_graph(hostile_store(tmp_path / "l.jsonl")))
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', page)
    assert policy is not None
    csp = policy.group(1).replace("&#x27;", "'")
    script = page.rsplit("<script>", 1)[1].split("</script>", 1)[0]
    style = page.split("<style>", 1)[1].split("</style>", 1)[0]

    def digest(text: str) -> str:
        return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()

    assert f"script-src 'sha256-{digest(script)}'" in csp
    assert f"style-src 'sha256-{digest(style)}'" in csp
    assert "default-src 'none'" in csp and "connect-src 'none'" in csp
    assert "unsafe-inline" not in csp and "http" not in csp


def _run_with(remote: str | None, file: str | None = "jobs/ctr.py") -> Run:
    import datetime as dt

    at = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    git = GitInfo("ab" * 20, remote_url=remote) if remote is not None else None
    code = CodeRef(file=file, line_start=10, line_end=24)
    return Run("r", "t", "completed", at, at, 0.0, code=code, git=git)


@pytest.mark.parametrize(
    ("remote", "expected"),
    [
        (
            "https://bot:s3cret@github.com/acme/jobs.git",
            "https://github.com/acme/jobs/blob/{c}/jobs/ctr.py#L10-L24",
        ),
        (
            "git@gitlab.com:acme/ml/jobs.git",
            "https://gitlab.com/acme/ml/jobs/-/blob/{c}/jobs/ctr.py#L10-24",
        ),
        (
            "https://bitbucket.org/acme/jobs",
            "https://bitbucket.org/acme/jobs/src/{c}/jobs/ctr.py#lines-10:24",
        ),
        ("https://git.internal.example/acme/jobs.git", None),
        ("/srv/git/jobs.git", None),
        (None, None),
    ],
)
def test_code_links_point_at_the_file_and_lines_at_the_recorded_commit(
    remote: str | None, expected: str | None
) -> None:
    url = code_url(_run_with(remote))
    assert url == (expected.format(c="ab" * 20) if expected else None)
    assert url is None or "s3cret" not in url


def test_a_file_outside_the_repository_gets_no_link() -> None:
    assert code_url(_run_with("https://github.com/acme/jobs", "/home/me/ctr.py")) is None


def test_layers_run_left_to_right_and_never_overlap() -> None:
    records = synthetic_records(transformations=150, seed=3)
    data = explorer_data(LineageGraph(records))
    assert len(data["nodes"]) > DOT_LIMIT and data["layout"]["engine"] == "layers"
    boxes = {i: n["xywh"] for i, n in enumerate(data["nodes"])}
    for a, b, _points, _tip in data["edges"]:
        assert boxes[a][0] < boxes[b][0]  # a DAG: every edge goes right
    columns: dict[float, list[list[float]]] = {}
    for x, y, _w, h in boxes.values():
        columns.setdefault(x, []).append([y - h / 2, y + h / 2])
    for spans in columns.values():
        spans.sort()
        assert all(top[1] < below[0] for top, below in itertools.pairwise(spans))


def test_layers_place_every_vertex_of_a_cycle() -> None:
    boxes = [Box("box", 60, 30)] * 3
    placed = layer_layout(boxes, [(0, 1), (1, 2), (2, 0)])
    assert len(set(placed.centres)) == 3 and len(placed.edges) == 3


def test_dot_places_every_vertex_and_ends_each_edge_at_an_arrow_tip() -> None:
    need(shutil.which("dot") is not None, "graphviz (dot) is missing", "`make graphviz`")
    boxes = [Box("folder", 100, 38), Box("box", 80, 30), Box("ellipse", 90, 40)]
    placed = dot_layout(boxes, [(0, 1), (1, 2)])
    assert placed.engine == "dot"
    assert placed.centres[0][0] < placed.centres[1][0] < placed.centres[2][0]  # left to right
    for _a, b, points, tip in placed.edges:
        assert (
            len(points) % 6 == 2 and abs(tip[0] - (placed.centres[b][0] - boxes[b].width / 2)) < 2
        )


def test_focus_keeps_the_neighbourhood_that_upstream_and_downstream_answer() -> None:
    graph = LineageGraph(synthetic_records(transformations=40, seed=5))
    data = explorer_data(graph, focus="feat_20_0", depth=2)
    kept = {n["id"] for n in data["nodes"]}
    expected = {"feat_20_0", *graph.upstream("feat_20_0", 2), *graph.downstream("feat_20_0", 2)}
    assert kept == expected
    with pytest.raises(ValueError, match="depth needs focus"):
        explorer_data(graph, depth=2)


def test_repr_html_is_the_explorer_in_a_sandboxed_frame(tmp_path: Path) -> None:
    graph = load_graph(hostile_store(tmp_path / "l.jsonl"))
    shown = graph._repr_html_()
    assert shown.startswith('<iframe sandbox="allow-scripts"')
    assert "allow-same-origin" not in shown and "<img" not in shown and "<script" not in shown
    assert "&lt;script id=&quot;lineage-data&quot;" in shown


# --- the command ---------------------------------------------------------------------------------
def test_lineage_ui_writes_one_file_and_names_it(tmp_path: Path, capsys: Any) -> None:
    store = hostile_store(tmp_path / "l.jsonl")
    target = tmp_path / "out" / "x.html"
    assert main(["ui", "--store", store, "-o", str(target), "--json"]) == 0
    reply = json.loads(capsys.readouterr().out)
    assert reply["path"] == str(target.resolve()) and reply["uri"].startswith("file://")
    assert target.read_text().startswith("<!DOCTYPE html>")


def test_lineage_ui_refuses_depth_without_focus_and_unknown_ids(
    tmp_path: Path, capsys: Any
) -> None:
    store = hostile_store(tmp_path / "l.jsonl")
    assert main(["ui", "--store", store, "--depth", "2"]) == 2
    assert "--depth needs --focus" in capsys.readouterr().err
    assert main(["ui", "--store", store, "--focus", "nope"]) == 1
    assert "no node or transformation 'nope'" in capsys.readouterr().err
    assert main(["ui", "--store", f"sqlite:{tmp_path / 'missing.db'}"]) == 2


def test_open_hands_the_file_to_the_users_browser(tmp_path: Path) -> None:
    store = hostile_store(tmp_path / "l.jsonl")
    opened = tmp_path / "opened.txt"
    recorder = tmp_path / "browser.sh"
    recorder.write_text(f'#!/bin/sh\necho "$1" > {opened}\n')
    recorder.chmod(0o755)
    done = subprocess.run(
        [sys.executable, "-m", "lineage_sdk.cli", "ui", "--store", store, "--open"],
        cwd=tmp_path,
        env=child_env(BROWSER=str(recorder)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert opened.read_text().strip() == (tmp_path / "lineage.html").resolve().as_uri()


# --- the server ----------------------------------------------------------------------------------
@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    store = hostile_store(tmp_path / "l.jsonl")
    with serving(lambda: load_graph(store)) as url:
        yield url


def _status(url: str, method: str = "GET", headers: dict[str, str] | None = None) -> int:
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return int(reply.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_server_answers_get_and_head_only(served: str) -> None:
    with urllib.request.urlopen(served, timeout=10) as reply:
        assert reply.headers["Content-Type"] == "text/html; charset=utf-8"
        assert "connect-src 'self'" in reply.headers["Content-Security-Policy"]
        assert reply.read().startswith(b"<!DOCTYPE html>")
    assert _status(served, "HEAD") == 200
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        assert _status(served, method) == 405
    assert _status(served + "lineage.db") == 404
    assert _status(served + "?focus=nope") == 404
    assert _status(served + "?focus=x&depth=0") == 400


def test_a_loopback_server_refuses_other_host_names(served: str) -> None:
    assert _status(served, headers={"Host": "evil.example:8765"}) == 421
    assert _status(served, headers={"Host": "localhost:1"}) == 200


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("192.168.1.4", False),
        ("example.com", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_serve_warns_off_loopback_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    import signal

    store = hostile_store(tmp_path / "l.jsonl")
    proc = serve_command(store, "--host", "0.0.0.0")
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "serving the lineage explorer at http://0.0.0.0:" in line
        port = int(line.split("0.0.0.0:")[1].split("/")[0])
        assert _status(f"http://127.0.0.1:{port}/") == 200
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0
    assert "stopped" in out and "Traceback" not in err
    assert "warning: serving on 0.0.0.0, not a loopback address" in err
