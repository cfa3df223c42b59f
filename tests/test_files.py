"""Files as datasets: DataSource.file(path) ids, OpenLineage file naming, partitioned datasets."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

import lineage_sdk
from lineage_sdk import DataSource, Feature, log_lineage
from lineage_sdk.export.openlineage import dataset_for, events_from_records
from lineage_sdk.records import PartitionRead
from lineage_sdk.testing import capture_records


def test_the_same_file_gets_the_same_id_from_any_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "jobs" / "daily").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    from_root = DataSource.file("data/clicks.csv")
    monkeypatch.chdir(tmp_path / "jobs" / "daily")
    from_sub = DataSource.file("../../data/./clicks.csv")
    from_abs = DataSource.file(tmp_path / "data" / "x" / ".." / "clicks.csv")
    assert from_root.id == from_sub.id == from_abs.id == str(tmp_path / "data" / "clicks.csv")
    assert from_root.type == "file"
    monkeypatch.setenv("HOME", str(tmp_path))
    assert DataSource.file("~/data/clicks.csv").id == from_root.id


def test_a_file_is_named_the_openlineage_way() -> None:
    source = DataSource.file("/data/raw/clicks.parquet", schema=["user_id"])
    assert dataset_for(source, "default") == ("file", "/data/raw/clicks.parquet")
    assert source.schema == ("user_id",)


def test_a_partition_pattern_is_one_node_whose_fields_are_listed() -> None:
    clicks = DataSource.file("/data/raw_clicks/{date}/part-{part}.csv")
    assert clicks.partition_keys == ("date", "part")
    one = clicks.partition(date="2026-11-24", part=3)
    assert one.path == "/data/raw_clicks/2026-11-24/part-3.csv"
    assert clicks.partition_of("/data/raw_clicks/2026-11-24/part-3.csv") == one
    assert DataSource.file("/data/plain.csv").partition_keys == ()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.partition(date="2026-11-24"), r"exactly the fields \['date', 'part'\]"),
        (lambda s: s.partition(date="../etc", part=1), "non-empty path segment"),
        (lambda s: s.partition_of("/data/other/2026/part-1.csv"), "is not a partition of"),
        (lambda s: DataSource.file("/data/plain.csv").partition(date=1), "no partition fields"),
    ],
)
def test_partition_mistakes_are_refused_clearly(call: Any, message: str) -> None:
    clicks = DataSource.file("/data/raw_clicks/{date}/part-{part}.csv")
    with pytest.raises(ValueError, match=message):
        call(clicks)


@pytest.mark.parametrize("pattern", ["/d/{date:%Y}.csv", "/d/{0}.csv", "/d/{a}/{a}.csv", "/d/{x"])
def test_a_malformed_pattern_fails_when_declared(pattern: str) -> None:
    with pytest.raises(ValueError, match="file pattern"):
        DataSource.file(pattern)


def test_dated_files_read_at_call_time_stay_one_node_with_the_partition_on_each_run(
    tmp_path: Path,
) -> None:
    raw = DataSource.file(tmp_path / "raw_clicks" / "{date}.csv", schema=["user_id", "ad_id"])
    daily = Feature("clicks_1d", value_type="int")

    @log_lineage(inputs=lambda a: [raw.partition_of(a["path"])], outputs=[daily], name="daily")
    def count(path: str) -> int:
        return len(Path(path).read_text().splitlines())

    (tmp_path / "raw_clicks").mkdir()
    days = ["2026-11-22", "2026-11-23", "2026-11-24"]
    for day in days:
        (tmp_path / "raw_clicks" / f"{day}.csv").write_text("1,9\n2,8\n")
    with capture_records() as records:
        results = [count(str(tmp_path / "raw_clicks" / f"{day}.csv")) for day in days]
    assert results == [2, 2, 2]
    runs = records.runs()
    assert {r.inputs for r in runs} == {(raw.id,)}
    assert [r.partitions for r in runs] == [
        (PartitionRead(raw.id, str(tmp_path / "raw_clicks" / f"{day}.csv"), (("date", day),)),)
        for day in days
    ]
    graph = lineage_sdk.LineageGraph(records.all())
    assert graph.node_ids() == sorted([raw.id, "clicks_1d"])
    assert graph.upstream("clicks_1d") == sorted(["daily", raw.id])
    events = list(events_from_records(records.all()))
    first_input = events[0]["inputs"][0]
    assert (first_input["namespace"], first_input["name"]) == ("file", raw.id)
    assert first_input["facets"]["version"]["datasetVersion"] == "date=2026-11-22"
    spec = Path(__file__).resolve().parent / "data" / "openlineage-spec"
    sys.path.insert(0, str(spec))
    from validate import validate_event  # type: ignore[import-not-found]

    for event in events:
        assert validate_event(event) == [], json.dumps(event, indent=1)


def test_partitions_survive_every_store(tmp_path: Path) -> None:
    raw = DataSource.file(tmp_path / "{day}.csv")
    lineage_sdk.configure(
        f"json:{tmp_path / 'l.jsonl'},sqlite:{tmp_path / 'l.db'}", on_error="raise"
    )

    @log_lineage(inputs=[raw.partition(day="mon")], outputs=["out"])
    def job() -> None: ...

    job()
    lineage_sdk.flush()
    for store in (f"json:{tmp_path / 'l.jsonl'}", f"sqlite:{tmp_path / 'l.db'}"):
        [run] = lineage_sdk.load_graph(store).runs()
        assert run.partitions == (
            PartitionRead(raw.id, os.path.join(tmp_path, "mon.csv"), (("day", "mon"),)),
        )
