"""Revisions and processes: a run split into its three parts and joined back is the same Run."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sqlite3
from pathlib import Path
from typing import Any

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

import lineage_sdk
from lineage_sdk import DataSource, Feature, MemorySink, log_lineage
from lineage_sdk.records import CodeRef, ColumnEdge, GitInfo, PartitionRead, Run
from lineage_sdk.revisions import (
    NARROW_RUN_FIELDS,
    PROCESS_FIELDS,
    REVISION_RUN_FIELDS,
    Process,
    Revision,
    join_run,
    split_run,
)
from lineage_sdk.serde import RunLines, dumps, loads
from lineage_sdk.sinks import SQLiteSink
from lineage_sdk.sinks.sqlite import read_records

from .strategies import hostile_text

_times = st.datetimes(
    min_value=dt.datetime(2000, 1, 1),
    max_value=dt.datetime(2100, 1, 1),
    timezones=st.just(dt.timezone.utc),
)
_maybe = st.none() | hostile_text
_ids = st.lists(hostile_text, max_size=3, unique=True)


@st.composite
def run_fields(draw: st.DrawFn) -> dict[str, Any]:
    """Keyword arguments of a valid Run, every optional part drawn present or absent."""
    inputs = draw(_ids)
    outputs = draw(_ids)
    start = draw(_times)
    return {
        "run_id": draw(hostile_text),
        "transformation": draw(hostile_text),
        "status": draw(st.sampled_from(["completed", "failed"])),
        "started_at": start,
        "ended_at": start + draw(st.timedeltas(dt.timedelta(0), dt.timedelta(days=2))),
        "duration_s": draw(st.floats(0, 1e6)),
        "inputs": inputs,
        "outputs": outputs,
        "derivation": [(o, inputs) for o in outputs],
        "column_derivation": [
            ColumnEdge(o, i, draw(hostile_text)) for o in outputs[:1] for i in inputs[:2]
        ],
        "partitions": draw(
            st.lists(st.builds(PartitionRead, node=hostile_text, path=hostile_text), max_size=2)
        ),
        "parent_run_id": draw(_maybe),
        "parent_transformation": draw(_maybe),
        "version": draw(_maybe),
        "namespace": draw(hostile_text),
        "error_type": draw(_maybe),
        "error_message": draw(_maybe),
        "error_stack": draw(_maybe),
        "code": draw(st.none() | st.builds(CodeRef, module=_maybe, line_start=st.integers(0, 9))),
        "git": draw(st.none() | st.builds(GitInfo, commit=hostile_text, dirty=st.booleans())),
        "code_reference": draw(_maybe),
        "host": draw(_maybe),
        "pid": draw(st.none() | st.integers(1, 2**22)),
        "python_version": draw(_maybe),
        "sdk_version": draw(_maybe),
    }


def test_every_run_field_belongs_to_exactly_one_part() -> None:
    parts = [*NARROW_RUN_FIELDS, *REVISION_RUN_FIELDS, *PROCESS_FIELDS]
    assert sorted(parts) == sorted(a.name for a in attrs.fields(Run))
    assert len(parts) == len(set(parts))
    revision_fields = {a.name for a in attrs.fields(Revision)}
    assert set(REVISION_RUN_FIELDS) <= revision_fields
    assert set(PROCESS_FIELDS) <= {a.name for a in attrs.fields(Process)}


@settings(max_examples=150)
@given(run_fields())
def test_a_joined_run_equals_the_run_built_by_the_validating_constructor(
    fields: dict[str, Any],
) -> None:
    validated = Run(**fields)
    revision, process, narrow = split_run(validated)
    joined = join_run(revision, process, narrow)
    assert joined == validated
    assert attrs.asdict(joined) == attrs.asdict(validated)
    assert type(joined.inputs) is tuple and type(joined.started_at) is dt.datetime


@given(run_fields(), run_fields())
def test_revision_ids_are_the_hash_of_the_content(a: dict[str, Any], b: dict[str, Any]) -> None:
    # Same shared fields, different per-run fields: the same revision and process.
    mixed = {**a, **{k: b[k] for k in NARROW_RUN_FIELDS if k in b}}
    ra, pa, _ = split_run(Run(**a))
    rm, pm, _ = split_run(Run(**mixed))
    assert (ra.id, pa.id) == (rm.id, pm.id)
    other = split_run(Run(**{**a, "inputs": [*a["inputs"], "another"], "derivation": []}))[0]
    assert other.id != ra.id


def test_the_sqlite_store_keeps_one_revision_and_one_process_for_many_runs(
    tmp_path: Path,
) -> None:
    src = DataSource("clicks", type="kafka_topic")
    out = Feature("ctr", value_type="float")

    @log_lineage(inputs=[src], outputs=[out], name="ctr_job", description="CTR", team="ads")
    def ctr_job(x: int) -> int:
        if x == 3:
            raise ValueError("bad 'x'\n")
        return x

    db = tmp_path / "s.db"
    memory = MemorySink()
    lineage_sdk.configure([SQLiteSink(db), memory], async_delivery=False)
    for x in range(6):
        with contextlib.suppress(ValueError):
            ctr_job(x)
    lineage_sdk.flush()
    conn = sqlite3.connect(db)
    try:
        (revision_json,) = conn.execute("SELECT record FROM revisions").fetchone()
        assert conn.execute("SELECT count(*) FROM revisions").fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM processes").fetchone()[0] == 1
        narrow = [json.loads(r) for (r,) in conn.execute("SELECT coalesce(record, '{}') FROM runs")]
    finally:
        conn.close()
    revision = json.loads(revision_json)
    assert revision["description"] == "CTR" and revision["metadata"] == {"team": "ads"}
    assert revision["inputs"] == ["clicks"]
    assert all("code" not in r and "host" not in r and "inputs" not in r for r in narrow)
    stored = [r for r in read_records(db) if isinstance(r, Run)]
    assert stored == [r for r in memory.records if isinstance(r, Run)]
    assert [r.status for r in stored].count("failed") == 1


@settings(max_examples=150)
@given(run_fields(), run_fields())
def test_a_run_line_rendered_from_a_cached_template_is_dumps_byte_for_byte(
    a: dict[str, Any], b: dict[str, Any]
) -> None:
    lines = RunLines()
    first = Run(**a)
    # The same shared objects with other per-run fields: the cached text is reused.
    second = attrs.evolve(first, **{k: b[k] for k in NARROW_RUN_FIELDS if k in b})
    other = Run(**b)
    for run in (first, second, other, first):
        line = lines.line(run)
        assert "\n" not in line and "\r" not in line
        assert line == dumps(run)
        assert loads(line) == run
