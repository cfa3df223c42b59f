"""Column-level derivation, declared in the decorator: recorded on the run, stored, read back."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lineage_sdk
from lineage_sdk import DataSource, Feature, JsonFileSink, MemorySink, Run, SQLiteSink, log_lineage
from lineage_sdk.export.openlineage import events_from_records
from lineage_sdk.records import COLUMN_KINDS, ColumnEdge, ColumnRef
from lineage_sdk.serde import dumps, loads
from lineage_sdk.sinks.jsonfile import read_json_lines
from lineage_sdk.sinks.sqlite import STORE_VERSION, connect, read_records
from lineage_sdk.testing import capture_records

from .conftest import import_path, require_component
from .helpers import cli, dot_json
from .strategies import hostile_text

DATA = Path(__file__).resolve().parent / "data"
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "ctr_7d.py"
UTC = dt.timezone.utc

clicks = DataSource("clicks", type="kafka_topic", schema=["user_id", "timestamp", "ad_id"])
impressions = DataSource("impressions", type="kafka_topic")  # no declared schema
user_clicks = Feature("user_clicks_7d", value_type="int")
user_impressions = Feature("user_impressions_7d", value_type="int")


def only_run(records: Any) -> Run:
    [run] = records.runs()
    return run


# --- declaring ----------------------------------------------------------------------------------
def test_indexing_a_source_is_the_same_column_reference_as_column() -> None:
    assert clicks["ad_id"] == clicks.column("ad_id") == ColumnRef(clicks, "ad_id")
    assert clicks["ad_id"].id == "clicks.ad_id"
    hash(clicks["ad_id"])  # frozen: usable as a dict key and in sets


def test_every_openlineage_kind_is_accepted_and_any_other_is_refused() -> None:
    for kind in COLUMN_KINDS:
        assert clicks.column("user_id", kind=kind).kind == kind
    with pytest.raises(ValueError, match="'sum' is not one of identity"):
        clicks.column("user_id", kind="sum")


def test_a_column_outside_the_declared_schema_fails_at_decoration_naming_everything() -> None:
    with pytest.raises(ValueError) as info:

        @log_lineage(inputs=[clicks], outputs={user_clicks: [clicks["country"]]})
        def job() -> None: ...

    message = str(info.value)
    assert "'country'" in message
    assert "'clicks'" in message
    assert "['user_id', 'timestamp', 'ad_id']" in message


def test_a_source_without_schema_accepts_any_column() -> None:
    assert impressions["anything at all"].name == "anything at all"


def test_column_references_narrow_the_derivation_of_one_output() -> None:
    @log_lineage(
        inputs=[clicks, impressions],
        outputs={
            user_clicks: [clicks["user_id"], clicks.column("timestamp", kind="filter")],
            user_impressions: [impressions],
        },
    )
    def job() -> int:
        return 1

    with capture_records() as records:
        assert job() == 1
    run = only_run(records)
    assert run.derivation == (
        ("user_clicks_7d", ("clicks",)),
        ("user_impressions_7d", ("impressions",)),
    )
    assert run.column_derivation == (
        ColumnEdge("user_clicks_7d", "clicks", "user_id", None),
        ColumnEdge("user_clicks_7d", "clicks", "timestamp", "filter"),
    )
    assert run.inputs == ("clicks", "impressions")


def test_a_source_named_whole_beside_its_column_means_all_columns() -> None:
    @log_lineage(inputs=[clicks], outputs={user_clicks: [clicks["user_id"], clicks]})
    def job() -> None: ...

    with capture_records() as records:
        job()
    run = only_run(records)
    assert run.derivation == (("user_clicks_7d", ("clicks",)),)
    assert run.column_derivation == ()


def test_columns_in_inputs_apply_to_every_output_of_a_list() -> None:
    @log_lineage(inputs=[clicks["user_id"]], outputs=[user_clicks, user_impressions])
    def job() -> None: ...

    with capture_records() as records:
        job()
    run = only_run(records)
    assert run.inputs == ("clicks",)
    assert {(c.output, c.column) for c in run.column_derivation} == {
        ("user_clicks_7d", "user_id"),
        ("user_impressions_7d", "user_id"),
    }
    assert clicks in records.all()  # the source behind a column is declared like the source


def test_a_column_whose_source_is_not_an_input_is_refused() -> None:
    with pytest.raises(ValueError, match=r"not among inputs"):

        @log_lineage(inputs=[impressions], outputs={user_clicks: [clicks["user_id"]]})
        def job() -> None: ...


def test_a_column_as_an_output_is_refused() -> None:
    with pytest.raises(TypeError, match="not columns"):

        @log_lineage(inputs=[clicks], outputs=[clicks["user_id"]])
        def job() -> None: ...


def test_call_time_outputs_may_return_column_references() -> None:
    def outputs(arguments: dict[str, Any]) -> dict[Feature, list[Any]]:
        return {user_clicks: [clicks[arguments["by"]]]}

    @log_lineage(inputs=[clicks], outputs=outputs)
    def job(by: str) -> str:
        return by

    with capture_records() as records:
        assert job("ad_id") == "ad_id"
    assert only_run(records).column_derivation == (ColumnEdge("user_clicks_7d", "clicks", "ad_id"),)


def test_a_call_time_column_outside_the_schema_records_no_nodes_and_keeps_the_result(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    @log_lineage(inputs=[clicks], outputs=lambda a: {user_clicks: [clicks[a["by"]]]})
    def job(by: str) -> str:
        return by

    with capture_records() as records:
        assert job("country") == "country"
    assert "country" in caplog.text and "failed" in caplog.text
    assert only_run(records).column_derivation == ()


# --- recording and reading back -----------------------------------------------------------------
def _declare_and_run() -> None:
    @log_lineage(
        inputs=[clicks, impressions],
        outputs={
            user_clicks: [clicks.column("user_id", kind="groupby"), clicks["timestamp"]],
            user_impressions: [impressions],
        },
        name="counts",
    )
    def job() -> None: ...

    job()


STORE_KINDS = ["memory", "json", "sqlite", "postgresql"]


def make_sink(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    """An empty store of ``kind`` (PostgreSQL: a fresh schema on the session's server)."""
    if kind == "postgresql":
        from lineage_sdk.sinks.postgres import PostgresSink

        return PostgresSink(request.getfixturevalue("pg_dsn"))
    return {
        "memory": lambda: MemorySink(),
        "json": lambda: JsonFileSink(tmp_path / "store.jsonl"),
        "sqlite": lambda: SQLiteSink(tmp_path / "store.db"),
    }[kind]()


@pytest.mark.parametrize("kind", STORE_KINDS)
def test_column_edges_read_back_exactly_from_every_store(
    tmp_path: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    sink = make_sink(kind, tmp_path, request)
    lineage_sdk.configure([sink], on_error="raise")
    _declare_and_run()
    lineage_sdk.flush()
    [run] = [r for r in sink.read() if isinstance(r, Run)]
    assert run.column_derivation == (
        ColumnEdge("user_clicks_7d", "clicks", "user_id", "groupby"),
        ColumnEdge("user_clicks_7d", "clicks", "timestamp", None),
    )
    graph = lineage_sdk.load_graph(sink)
    assert graph.column_edges() == [
        ("clicks", "timestamp", "counts", "user_clicks_7d", None),
        ("clicks", "user_id", "counts", "user_clicks_7d", "groupby"),
    ]


def test_sqlite_keeps_column_rows_and_the_whole_source_flag(tmp_path: Path) -> None:
    lineage_sdk.configure([SQLiteSink(tmp_path / "l.db")], on_error="raise")
    _declare_and_run()
    lineage_sdk.flush()
    conn = connect(tmp_path / "l.db", create=False)
    edges = sorted(conn.execute("SELECT src, dst, whole FROM edges"))
    columns = sorted(conn.execute("SELECT src, column_name, dst, kind FROM column_edges"))
    conn.close()
    assert edges == [("clicks", "user_clicks_7d", 0), ("impressions", "user_impressions_7d", 1)]
    assert columns == [
        ("clicks", "timestamp", "user_clicks_7d", ""),
        ("clicks", "user_id", "user_clicks_7d", "groupby"),
    ]


def test_records_written_before_columns_existed_still_load() -> None:
    records = list(read_json_lines(DATA / "records_schema_v1.jsonl"))
    runs = [r for r in records if isinstance(r, Run)]
    assert len(records) == 10 and len(runs) == 2
    assert all(r.column_derivation == () and r.partitions == () for r in runs)
    raw = [json.loads(line) for line in (DATA / "records_schema_v1.jsonl").read_text().splitlines()]
    assert {r["schema_version"] for r in raw} == {1}
    assert all("column_derivation" not in r for r in raw)
    graph = lineage_sdk.load_graph(f"json:{DATA / 'records_schema_v1.jsonl'}")
    # Whole-source derivation: every column of the source counts.
    assert graph.impact("raw_clicks_kafka_topic.ad_id") == ["user_clicks_7d", "user_ctr_7d"]


def test_a_version_1_sqlite_store_is_migrated_and_keeps_its_lineage(tmp_path: Path) -> None:
    store = tmp_path / "old.db"
    shutil.copy(DATA / "store_v1.db", store)
    before = [r for r in read_records(store) if isinstance(r, Run)]
    conn = connect(store, create=False)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == STORE_VERSION
    assert {row[0] for row in conn.execute("SELECT whole FROM edges")} == {1}
    conn.close()
    assert len(before) == 2
    graph = lineage_sdk.load_graph(f"sqlite:{store}")
    assert graph.impact("raw_clicks_kafka_topic.timestamp") == ["user_clicks_7d", "user_ctr_7d"]
    # and the migrated store takes new runs with columns
    lineage_sdk.configure([SQLiteSink(store)], on_error="raise")
    _declare_and_run()
    lineage_sdk.flush()
    assert lineage_sdk.load_graph(f"sqlite:{store}").impact("clicks.ad_id") == []


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=hostile_text)
def test_hostile_column_names_round_trip_through_json_and_sqlite(tmp_path: Path, name: str) -> None:
    source = DataSource("src", type="table", schema=[name, "other"])
    now = dt.datetime(2026, 11, 24, tzinfo=UTC)
    run = Run(
        run_id=f"r-{abs(hash(name))}",
        transformation="t",
        status="completed",
        started_at=now,
        ended_at=now,
        duration_s=0.0,
        inputs=["src"],
        outputs=["f"],
        derivation=[("f", ("src",))],
        column_derivation=[ColumnEdge("f", "src", source[name].name, "filter")],
    )
    assert loads(dumps(run)) == run
    db = tmp_path / f"{abs(hash(name))}.db"
    sink = SQLiteSink(db)
    sink.emit([source, run])
    sink.close()
    assert [r for r in read_records(db) if isinstance(r, Run)] == [run]
    conn = connect(db, create=False)
    assert conn.execute("SELECT column_name FROM column_edges").fetchall() == [(name,)]
    conn.close()


# --- the seed pipeline --------------------------------------------------------------------------
@pytest.fixture
def ctr_graph(tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    """The CTR example's two jobs run once into a store of the requested kind; its graph."""
    example = import_path(EXAMPLE)
    sink = make_sink(getattr(request, "param", "memory"), tmp_path, request)
    lineage_sdk.configure([sink], on_error="raise")
    as_of = dt.datetime(2026, 11, 24, tzinfo=UTC)
    impressions_, clicks_, profiles = example.make_data(30, 7, as_of)
    counts = example.calculate_user_counts_7d(impressions_, clicks_, as_of)
    example.calculate_user_ctr(*counts, [p[0] for p in profiles])
    lineage_sdk.flush()
    return lineage_sdk.load_graph(sink)


@pytest.mark.parametrize("ctr_graph", STORE_KINDS, indirect=True)
def test_impact_of_a_column_is_only_what_derives_from_it(ctr_graph: Any) -> None:
    assert ctr_graph.impact("raw_clicks_kafka_topic.ad_id") == []
    assert ctr_graph.impact("raw_clicks_kafka_topic.timestamp") == ["user_clicks_7d", "user_ctr_7d"]
    assert ctr_graph.impact("raw_impressions_kafka_topic.user_id") == [
        "user_ctr_7d",
        "user_impressions_7d",
    ]
    # the source as a whole still impacts everything derived from any of its columns
    assert ctr_graph.impact("raw_clicks_kafka_topic") == ["user_clicks_7d", "user_ctr_7d"]


@pytest.mark.parametrize("ctr_graph", ["memory", "sqlite", "postgresql"], indirect=True)
def test_upstream_with_columns_lists_each_sources_columns_after_it(ctr_graph: Any) -> None:
    assert ctr_graph.upstream("user_ctr_7d", columns=True) == [
        "calculate_user_counts_7d_job_v1.2",
        "calculate_user_ctr_job_v1.0",
        "raw_clicks_kafka_topic",
        "raw_clicks_kafka_topic.timestamp",
        "raw_clicks_kafka_topic.user_id",
        "raw_impressions_kafka_topic",
        "raw_impressions_kafka_topic.timestamp",
        "raw_impressions_kafka_topic.user_id",
        "user_clicks_7d",
        "user_impressions_7d",
    ]
    assert ctr_graph.upstream("user_clicks_7d", depth=2, columns=True) == [
        "calculate_user_counts_7d_job_v1.2",
        "raw_clicks_kafka_topic",
        "raw_clicks_kafka_topic.timestamp",
        "raw_clicks_kafka_topic.user_id",
    ]
    assert "raw_clicks_kafka_topic.user_id" not in ctr_graph.upstream("user_ctr_7d")


def test_a_dotted_id_that_is_a_node_keeps_meaning_the_node() -> None:
    source = DataSource("db.clicks", type="table", schema=["user_id", "ad_id"])
    whole = DataSource("db", type="schema")  # a node whose id is a prefix of the other
    out, other = Feature("by_user"), Feature("from_db")

    @log_lineage(inputs=[source, whole], outputs={out: [source["user_id"]], other: [whole]})
    def job() -> None: ...

    with capture_records() as records:
        job()
    graph = lineage_sdk.LineageGraph(records.all())
    assert graph.split_column("db.clicks") is None
    assert graph.impact("db.clicks") == ["by_user"]
    assert graph.split_column("db.clicks.user_id") == ("db.clicks", "user_id")
    assert graph.impact("db.clicks.ad_id") == []
    assert graph.impact("db.clicks.user_id") == ["by_user"]
    with pytest.raises(lineage_sdk.UnknownNodeError):
        graph.impact("nowhere.user_id")
    with pytest.raises(lineage_sdk.UnknownNodeError, match=r"db\.clicks\.country"):
        graph.impact("db.clicks.country")  # not in the declared schema


def test_a_source_without_schema_has_every_column() -> None:
    out = Feature("f")

    @log_lineage(inputs=[impressions], outputs=[out])
    def job() -> None: ...

    with capture_records() as records:
        job()
    graph = lineage_sdk.LineageGraph(records.all())
    assert graph.impact("impressions.any_column") == ["f"]


# --- the command line ---------------------------------------------------------------------------
@pytest.mark.parametrize("ctr_graph", ["sqlite"], indirect=True)
def test_cli_impact_upstream_columns_and_graph_columns(ctr_graph: Any, tmp_path: Path) -> None:
    store = f"sqlite:{tmp_path / 'store.db'}"
    result = cli("impact", "raw_clicks_kafka_topic.timestamp", "--store", store)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["user_clicks_7d", "user_ctr_7d"]
    result = cli("impact", "raw_clicks_kafka_topic.ad_id", "--store", store, "--json")
    assert (result.returncode, json.loads(result.stdout)) == (0, [])
    result = cli("upstream", "user_clicks_7d", "--columns", "--store", store, "--json")
    assert json.loads(result.stdout) == [
        {"id": "calculate_user_counts_7d_job_v1.2", "kind": "Transformation"},
        {"id": "raw_clicks_kafka_topic", "kind": "DataSource"},
        {"id": "raw_clicks_kafka_topic.timestamp", "kind": "Column"},
        {"id": "raw_clicks_kafka_topic.user_id", "kind": "Column"},
    ]
    plain = cli("upstream", "user_clicks_7d", "--store", store).stdout.splitlines()
    assert plain == ["calculate_user_counts_7d_job_v1.2", "raw_clicks_kafka_topic"]
    result = cli("impact", "raw_clicks_kafka_topic.user", "--store", store)
    assert result.returncode == 1
    assert "did you mean 'raw_clicks_kafka_topic.user_id'" in result.stderr
    result = cli("impact", "no_such_source.ad_id", "--store", store)
    assert result.returncode == 1 and "no_such_source.ad_id" in result.stderr
    dot_text = cli("graph", "--columns", "--store", store).stdout
    assert dot_text == ctr_graph.to_dot(columns=True)
    assert cli("graph", "--store", store).stdout == ctr_graph.to_dot()
    assert "<table" not in ctr_graph.to_dot()


# --- OpenLineage --------------------------------------------------------------------------------
SPEC = DATA / "openlineage-spec"  # the official JSON Schemas, kept in the test data


def spec_validator() -> Any:
    """The spec's own validator: every event against OpenLineage.json and each facet's file."""
    if str(SPEC) not in sys.path:
        sys.path.insert(0, str(SPEC))
    from validate import validate_event  # type: ignore[import-not-found]

    return validate_event


def column_lineage(events: list[dict[str, Any]], output: str) -> Any:
    complete = [e for e in events if e["eventType"] == "COMPLETE"]
    return next(
        d["facets"].get("columnLineage")
        for e in complete
        for d in e["outputs"]
        if d["name"] == output
    )


def test_each_output_carries_a_valid_column_lineage_facet() -> None:
    validate_event = spec_validator()
    example = import_path(EXAMPLE)
    with capture_records() as records:
        as_of = dt.datetime(2026, 11, 24, tzinfo=UTC)
        impressions_, clicks_, profiles = example.make_data(20, 7, as_of)
        counts = example.calculate_user_counts_7d(impressions_, clicks_, as_of)
        example.calculate_user_ctr(*counts, [p[0] for p in profiles])
    events = list(events_from_records(records.all()))
    for event in events:
        assert validate_event(event) == [], json.dumps(event, indent=1)
    facet = column_lineage(events, "user_clicks_7d")
    assert facet["_schemaURL"].endswith(
        "/1-2-0/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet"
    )
    assert facet["fields"] == {
        "user_clicks_7d": {
            "inputFields": [
                {
                    "namespace": "kafka://events",
                    "name": "raw_clicks",
                    "field": "user_id",
                    "transformations": [{"type": "INDIRECT", "subtype": "GROUP_BY"}],
                },
                {
                    "namespace": "kafka://events",
                    "name": "raw_clicks",
                    "field": "timestamp",
                    "transformations": [{"type": "INDIRECT", "subtype": "FILTER"}],
                },
            ]
        }
    }
    # derived from whole features: no column named, no facet (the derivation facet says it)
    assert column_lineage(events, "user_ctr_7d") is None


def test_whole_sources_beside_columns_list_their_declared_columns() -> None:
    validate_event = spec_validator()
    table = DataSource("out_table", type="table", schema=["a", "b"])
    loose = DataSource("loose", type="table")  # no schema: written as dataset-wide lineage

    @log_lineage(
        inputs=[clicks, impressions],
        outputs={
            user_clicks: [clicks.column("ad_id", kind="identity"), impressions],
            table: [clicks["user_id"], clicks],
            loose: [clicks.column("timestamp", kind="window")],
        },
    )
    def job() -> None: ...

    with capture_records() as records:
        job()
    events = list(events_from_records(records.all()))
    for event in events:
        assert validate_event(event) == [], json.dumps(event, indent=1)
    fields = column_lineage(events, "user_clicks_7d")["fields"]["user_clicks_7d"]["inputFields"]
    assert [(f["name"], f["field"]) for f in fields] == [
        ("clicks", "ad_id")
    ]  # impressions: no schema
    assert fields[0]["transformations"] == [{"type": "DIRECT", "subtype": "IDENTITY"}]
    assert column_lineage(events, "out_table") is None  # clicks as a whole wins over user_id
    loose_facet = column_lineage(events, "loose")
    assert loose_facet["fields"] == {}
    assert loose_facet["dataset"][0]["field"] == "timestamp"


def test_the_live_sink_emits_column_lineage_through_the_openlineage_client(tmp_path: Path) -> None:
    validate_event = spec_validator()
    client_module = pytest.importorskip("openlineage.client", reason="pip install '.[openlineage]'")
    from openlineage.client.transport.file import FileConfig, FileTransport

    from lineage_sdk.sinks.openlineage import OpenLineageSink

    log = tmp_path / "events.ndjson"
    client = client_module.OpenLineageClient(
        transport=FileTransport(FileConfig(log_file_path=str(log), append=True))
    )
    lineage_sdk.configure([OpenLineageSink(client)], on_error="raise")
    _declare_and_run()
    lineage_sdk.flush()
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    for event in events:
        assert validate_event(event) == [], json.dumps(event, indent=1)
    facet = column_lineage(events, "user_clicks_7d")
    assert [f["field"] for f in facet["fields"]["user_clicks_7d"]["inputFields"]] == [
        "user_id",
        "timestamp",
    ]


# --- drawing through the real dot ---------------------------------------------------------------
def drawn(source: str) -> Any:
    """``dot -Tjson`` of ``source`` (no warning allowed), through the real Graphviz."""
    require_component(
        shutil.which("dot") is not None, "Graphviz 'dot' is missing: apt-get install graphviz"
    )
    return dot_json(source)


def drawn_edges(data: Any) -> set[tuple[str, str, str]]:
    """(tail title, tail port, head title) of every edge; a title is a label's first text."""
    titles = {}
    for obj in data["objects"]:
        titles[obj["_gvid"]] = html.unescape(
            re.search(r"<b>(.*?)</b>", obj["label"], re.S).group(1)
        )
    return {
        (titles[e["tail"]], e.get("tailport", ""), titles[e["head"]]) for e in data.get("edges", [])
    }


@pytest.mark.parametrize("ctr_graph", ["memory"], indirect=True)
def test_graph_with_columns_draws_edges_from_the_exact_columns(ctr_graph: Any) -> None:
    data = drawn(ctr_graph.to_dot(columns=True))
    counts = "calculate_user_counts_7d_job_v1.2"
    edges = drawn_edges(data)
    # schema order: user_id = c0, timestamp = c1, ad_id = c2 (no edge)
    assert {e for e in edges if e[2] == counts} == {
        ("raw_clicks_kafka_topic", "c0:e", counts),
        ("raw_clicks_kafka_topic", "c1:e", counts),
        ("raw_impressions_kafka_topic", "c0:e", counts),
        ("raw_impressions_kafka_topic", "c1:e", counts),
    }
    source = ctr_graph.to_dot(columns=True)
    assert ">ad_id</td>" in source  # listed, though nothing reads it
    plain = drawn_edges(drawn(ctr_graph.to_dot()))
    assert ("raw_clicks_kafka_topic", "", counts) in plain and all(e[1] == "" for e in plain)


@settings(max_examples=25, deadline=None)
@given(names=st.lists(hostile_text, min_size=1, max_size=4, unique=True), source_id=hostile_text)
def test_hostile_column_names_stay_inert_in_dot(names: list[str], source_id: str) -> None:
    source = DataSource(source_id, type="table", schema=names)
    out = Feature("out")
    now = dt.datetime(2026, 11, 24, tzinfo=UTC)
    run = Run(
        run_id="r",
        transformation="t",
        status="completed",
        started_at=now,
        ended_at=now,
        duration_s=0.0,
        inputs=[source.id],
        outputs=["out"],
        derivation=[("out", (source.id,))],
        column_derivation=[ColumnEdge("out", source.id, names[0])],
    )
    graph = lineage_sdk.LineageGraph([source, out, run])
    data = drawn(graph.to_dot(columns=True))
    assert len(data["objects"]) == 3
    edges = drawn_edges(data)
    assert len(edges) == 2 and ("t", "", "out") in edges
    assert {e[1] for e in edges if e[2] == "t"} == {"c0:e"}


@pytest.mark.parametrize("kind", ["memory", "sqlite", "postgresql"])
def test_a_failed_runs_columns_are_not_lineage_and_count_whole_on_request(
    tmp_path: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    sink = make_sink(kind, tmp_path, request)
    lineage_sdk.configure([sink], on_error="raise")

    @log_lineage(inputs=[clicks], outputs={user_clicks: [clicks["user_id"]]}, name="broken")
    def job() -> None:
        raise RuntimeError("failed half way")

    with pytest.raises(RuntimeError):
        job()
    lineage_sdk.flush()
    assert lineage_sdk.load_graph(sink).impact("clicks.user_id") == []
    with_failed = lineage_sdk.load_graph(sink, include_failed=True)
    # Failed runs' edges are shown on request in every store alike: as derived from the whole.
    assert with_failed.impact("clicks.ad_id") == ["user_clicks_7d"]
    assert with_failed.column_edges() == []
