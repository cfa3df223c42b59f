"""Failed runs are not lineage: the graph comes from completed runs, on every store."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

import lineage_sdk
from lineage_sdk import SQLiteSink
from lineage_sdk.export.registry import registry_dict
from lineage_sdk.graph import UnknownNodeError

from .helpers import STORES, make_run, set_back_to_layout_v1, store_graph

# "daily" read clean.csv into report; a later attempt read ghost.csv (a file that never
# existed) and failed; the newest run of all is that failure.
RUNS = [
    make_run("daily", [("report", ["clean.csv"])], ["clean.csv"], 1),
    make_run("daily", [("report", ["ghost.csv"])], ["ghost.csv"], 2, status="failed"),
    make_run("broken", [("never", ["clean.csv"])], ["clean.csv"], 3, status="failed"),
]


@pytest.mark.parametrize("kind", STORES)
def test_a_failed_runs_inputs_are_not_lineage(kind: str, tmp_path: Path, request: Any) -> None:
    graph = store_graph(kind, list(RUNS), tmp_path, request=request)
    assert graph.upstream("report") == ["clean.csv", "daily"]
    assert graph.edges() == [("clean.csv", "daily", "report")]
    assert "ghost.csv" not in graph
    assert "never" not in graph
    with pytest.raises(UnknownNodeError):
        graph.upstream("ghost.csv")
    assert graph.downstream("clean.csv") == ["daily", "report"]
    assert graph.transformation_inputs("daily") == ["clean.csv"]
    assert graph.transformation_outputs("broken") == []
    assert graph.path("clean.csv", "broken") is None


@pytest.mark.parametrize("kind", STORES)
def test_failed_runs_stay_visible_as_runs(kind: str, tmp_path: Path, request: Any) -> None:
    graph = store_graph(kind, list(RUNS), tmp_path, request=request)
    assert [r.run_id for r in graph.runs(status="failed")] == ["run-3", "run-2"]
    assert graph.last_status("daily") == "failed"
    assert graph.kind("broken") == "Transformation"  # it ran, so it exists
    assert graph.transformation_ids() == ["broken", "daily"]


@pytest.mark.parametrize("kind", STORES)
def test_include_failed_shows_the_failed_edges(kind: str, tmp_path: Path, request: Any) -> None:
    graph = store_graph(kind, list(RUNS), tmp_path, include_failed=True, request=request)
    assert graph.upstream("report") == ["clean.csv", "daily", "ghost.csv"]
    assert graph.downstream("clean.csv") == ["broken", "daily", "never", "report"]
    assert graph.kind("ghost.csv") == "External"


@pytest.mark.parametrize("kind", STORES)
def test_registry_generated_by_names_the_newest_completed_run(
    kind: str, tmp_path: Path, request: Any
) -> None:
    registry = registry_dict(store_graph(kind, list(RUNS), tmp_path, request=request))
    assert registry["report"]["generated_by"] == {
        "transformation_id": "daily",
        "inputs": ["clean.csv"],
    }
    assert "ghost.csv" not in registry and "never" not in registry


def test_a_completed_run_after_a_failed_one_makes_its_edge_lineage(tmp_path: Path) -> None:
    # The SQLite sink caches graph rows it wrote; a row first seen failed must still be written
    # as lineage when a completed run establishes it.
    sink = SQLiteSink(tmp_path / "s.db")
    sink.emit([make_run("t", [("out", ["in"])], ["in"], 1, status="failed")])
    sink.emit([make_run("t", [("out", ["in"])], ["in"], 2)])
    sink.close()
    assert lineage_sdk.load_graph(f"sqlite:{tmp_path / 's.db'}").upstream("out") == ["in", "t"]


def test_a_version_1_store_is_migrated_so_failed_runs_stop_being_lineage(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    sink = SQLiteSink(path)
    sink.emit(list(RUNS))
    sink.close()
    # Turn it into what version 1 wrote: every run's rows in the graph tables.
    conn = sqlite3.connect(path)
    set_back_to_layout_v1(conn)
    conn.executescript(
        "INSERT OR IGNORE INTO transformation_io SELECT * FROM failed_io;"
        "INSERT OR IGNORE INTO edges (src, transformation_id, dst) SELECT * FROM failed_edges;"
        "DROP VIEW io_with_failed; DROP VIEW edges_with_failed;"
        "DROP TABLE failed_io; DROP TABLE failed_edges;"
        "DROP TABLE column_edges; ALTER TABLE edges DROP COLUMN whole; PRAGMA user_version = 1;"
    )
    conn.close()
    graph = lineage_sdk.load_graph(f"sqlite:{path}")
    assert graph.upstream("report") == ["clean.csv", "daily"]
    assert "never" not in graph
    with_failed = lineage_sdk.load_graph(f"sqlite:{path}", include_failed=True)
    assert with_failed.upstream("report") == ["clean.csv", "daily", "ghost.csv"]
    assert "never" in with_failed
