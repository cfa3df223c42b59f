"""Stores written by lineage-sdk 0.1 (tests/data, see make_stores_0_1.py) read and answer as before.

The SQLite and JSON-lines fixtures received the same records from one 0.1 process, so each is the
other's oracle; the facts asserted by hand are the ones the generating script declares.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import lineage_sdk
from lineage_sdk import DataSource, Feature, load_graph, log_lineage
from lineage_sdk.records import Run
from lineage_sdk.sinks import SQLiteSink
from lineage_sdk.sinks.jsonfile import read_json_lines
from lineage_sdk.sinks.sqlite import STORE_VERSION, connect, read_records

from .helpers import records_by_key

DATA = Path(__file__).parent / "data"
ODD = "odd'; DROP TABLE runs;--\n\u202e"


@pytest.fixture
def old_sqlite(tmp_path: Path) -> Path:
    """A private copy: opening a store may migrate it, and the fixture must stay as 0.1 wrote it."""
    path = tmp_path / "old.sqlite"
    shutil.copyfile(DATA / "store-0.1.sqlite", path)
    return path


@pytest.fixture
def old_jsonl(tmp_path: Path) -> Path:
    path = tmp_path / "old.jsonl"
    shutil.copyfile(DATA / "store-0.1.jsonl", path)
    return path


def test_a_0_1_sqlite_store_reads_the_same_records_as_its_json_twin(
    old_sqlite: Path, old_jsonl: Path
) -> None:
    from_sqlite = list(read_records(old_sqlite))
    from_json = list(read_json_lines(old_jsonl))
    assert len(from_json) == 17
    assert records_by_key(from_sqlite) == records_by_key(from_json)
    runs = [r for r in from_sqlite if isinstance(r, Run)]
    assert [r.transformation for r in runs].count("ctr_job") == 2
    assert sorted(r.status for r in runs) == ["completed"] * 6 + ["failed"]
    failed = next(r for r in runs if r.status == "failed")
    assert failed.error_type == "builtins.ValueError"
    assert failed.error_message == "bad partition 'x'"
    children = [r for r in runs if r.transformation == "child_job"]
    parents = {r.run_id for r in runs if r.transformation == "ctr_job"}
    assert {c.parent_run_id for c in children} == parents


@pytest.mark.parametrize("kind", ["sqlite", "json"])
def test_a_0_1_store_answers_graph_queries_as_declared(
    kind: str, old_sqlite: Path, old_jsonl: Path
) -> None:
    store = f"sqlite:{old_sqlite}" if kind == "sqlite" else f"json:{old_jsonl}"
    graph = load_graph(store)
    try:
        assert set(graph.upstream("user_ctr_7d")) == {"ctr_job", "raw_clicks", "raw_views"}
        assert "raw_views" not in graph.upstream("user_clicks_7d")
        assert ODD in graph.downstream("raw_clicks")
        # A failed run's lineage is not lineage unless asked for; the dynamic job's inputs are.
        assert "daily_out" in graph.downstream("table_2024_01_02")
        assert graph.last_status("failing_job") == "failed"
        assert len(graph.runs("ctr_job")) == 2
        assert graph.kind("reference_only") == "DataSource"
    finally:
        graph.close()


def test_a_0_1_sqlite_store_is_migrated_in_place_on_first_write_and_keeps_its_runs(
    old_sqlite: Path, old_jsonl: Path
) -> None:
    before = records_by_key(list(read_json_lines(old_jsonl)))
    src = DataSource("raw_clicks", type="kafka_topic", schema=["user_id", "ts"], owner="growth")
    out = Feature("after_upgrade", value_type="int")

    @log_lineage(inputs=[src], outputs=[out], name="new_job")
    def new_job() -> int:
        return 1

    lineage_sdk.configure([SQLiteSink(old_sqlite)], async_delivery=False)
    assert new_job() == 1
    lineage_sdk.flush()
    after = records_by_key(list(read_records(old_sqlite)))
    new_runs = [r for r in after.values() if isinstance(r, Run) and r.transformation == "new_job"]
    assert len(new_runs) == 1
    # Every 0.1 run reads back unchanged; raw_clicks was redeclared identically.
    assert {k: v for k, v in after.items() if k in before} == before
    conn = connect(old_sqlite, create=False)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == STORE_VERSION
    finally:
        conn.close()
    graph = load_graph(f"sqlite:{old_sqlite}")
    try:
        assert set(graph.upstream("after_upgrade")) == {"new_job", "raw_clicks"}
        assert set(graph.downstream("raw_clicks")) >= {"after_upgrade", "user_ctr_7d"}
    finally:
        graph.close()
