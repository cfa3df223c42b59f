"""Copying stores into each other and pruning old runs, on real files and a real server."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path
from typing import Any

import pytest

from lineage_sdk import DataSource, Feature, Run, Transformation
from lineage_sdk.config import SinkTarget
from lineage_sdk.records import Record
from lineage_sdk.sinks import build_sink
from lineage_sdk.stores import CopySummary, copy_store, parse_store, prune_store, read_store

from .helpers import aged_run

UTC = dt.timezone.utc


RECORDS: list[Record] = [
    DataSource("raw", type="kafka_topic"),
    DataSource("old_raw", type="kafka_topic"),
    Feature("feat"),
    Feature("old_feat"),
    Transformation("job"),
    Transformation("other"),
    aged_run("r-old-1", "job", 200, ["old_raw"], ["old_feat"]),
    aged_run("r-old-2", "job", 150, ["raw"], ["feat"]),
    aged_run("r-new", "job", 1, ["raw"], ["feat"]),
    aged_run("o-only", "other", 300, ["raw"], ["feat"]),  # old, but the newest of its job
]


def store_ids(target: SinkTarget) -> tuple[set[str], set[str]]:
    runs, declared = set(), set()
    for record in read_store(target):
        if isinstance(record, Run):
            runs.add(record.run_id)
        else:
            declared.add(record.id)
    return runs, declared


def fill(store: str, records: list[Record]) -> SinkTarget:
    target = parse_store(store)
    sink = build_sink(target)
    sink.emit(records)
    sink.close()
    return target


def test_copy_goes_every_direction_and_is_idempotent(pg_dsn: str, tmp_path: Path) -> None:
    json_store = fill(f"json:{tmp_path / 'a.jsonl'}", RECORDS)
    sqlite_store = parse_store(f"sqlite:{tmp_path / 'b.db'}")
    pg_store = parse_store(pg_dsn)
    back = parse_store(f"json:{tmp_path / 'c.jsonl'}")
    chain = [json_store, sqlite_store, pg_store, back]
    for source, target in itertools.pairwise(chain):
        assert copy_store(source, target).copied == len(RECORDS)
        assert copy_store(source, target) == CopySummary(0, len(RECORDS), 0)
    assert store_ids(back) == store_ids(json_store)


def test_copy_counts_unreadable_lines_and_merges_into_what_is_there(tmp_path: Path) -> None:
    path = tmp_path / "laptop.jsonl"
    source = fill(f"json:{path}", RECORDS[:7])
    with path.open("a") as handle:
        handle.write('{"torn": \n')
    target = fill(f"sqlite:{tmp_path / 'shared.db'}", RECORDS[4:])
    progress: list[tuple[int, Any]] = []
    summary = copy_store(source, target, lambda done, total: progress.append((done, total)))
    assert (summary.copied, summary.present, summary.skipped) == (4, 3, 1)
    assert progress[-1] == (7, None)
    assert store_ids(target)[0] == {r.run_id for r in RECORDS if isinstance(r, Run)}


def test_prune_keeps_the_newest_run_of_each_job_and_nodes_kept_runs_use(sql_store: str) -> None:
    target = fill(sql_store, RECORDS)
    dry = prune_store(target, dt.timedelta(days=90), dry_run=True)
    assert dry.runs == [("r-old-1", "job"), ("r-old-2", "job")]
    assert dry.nodes == ["old_feat", "old_raw"]
    assert store_ids(target)[0] == {"r-old-1", "r-old-2", "r-new", "o-only"}  # dry: untouched
    done = prune_store(target, dt.timedelta(days=90), dry_run=False)
    assert done == dry
    runs, declared = store_ids(target)
    assert runs == {"r-new", "o-only"}
    assert declared == {"raw", "feat", "job", "other"}
    assert prune_store(target, dt.timedelta(days=90), dry_run=False).runs == []


def test_prune_drops_graph_rows_only_removed_runs_supported(sql_store: str) -> None:
    import lineage_sdk

    target = fill(sql_store, RECORDS)
    prune_store(target, dt.timedelta(days=90), dry_run=False)
    graph = lineage_sdk.load_graph(sql_store) if sql_store.startswith("sqlite") else None
    if graph is not None:
        assert ("old_raw", "job", "old_feat") not in graph.edges()
        assert ("raw", "job", "feat") in graph.edges()


def test_prune_refuses_a_json_store(tmp_path: Path) -> None:
    target = fill(f"json:{tmp_path / 'a.jsonl'}", RECORDS)
    with pytest.raises(ValueError, match="SQL stores"):
        prune_store(target, dt.timedelta(days=1), dry_run=True)
