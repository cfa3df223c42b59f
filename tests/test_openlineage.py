"""OpenLineage: every event valid against the official schemas; a real HTTP backend on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from referencing import Registry, Resource

import lineage_sdk
from lineage_sdk import CodeRef, DataSource, Feature, GitInfo, MemorySink, Run, log_lineage
from lineage_sdk.export.openlineage import (
    CUSTOM_FACETS,
    PRODUCER,
    dataset_for,
    events_from_records,
    run_events,
)

from .conftest import JOB_MODULE, import_path
from .helpers import COUNTS, CTR, cli, run_seed
from .strategies import hostile_text

# The official schemas, kept in the repository's test data (see SOURCE.md there).
SPEC = Path(__file__).resolve().parent / "data" / "openlineage-spec"
sys.path.insert(0, str(SPEC))
from validate import validate_event  # type: ignore[import-not-found]  # noqa: E402

DOCS = Path(__file__).resolve().parent.parent / "docs" / "openlineage"
UTC = dt.timezone.utc


def custom_facet_errors(event: dict[str, Any]) -> list[str]:
    """Check our custom facets against the schemas we publish in docs/openlineage/."""
    core = json.loads((SPEC / "OpenLineage.json").read_text())
    docs = {p.stem: json.loads(p.read_text()) for p in DOCS.glob("*.json")}
    registry = Registry().with_resources(
        [(core["$id"], Resource.from_contents(core))]
        + [(d["$id"], Resource.from_contents(d)) for d in docs.values()]
    )
    containers = [event["run"]["facets"], event["job"]["facets"]]
    containers += [d.get("facets", {}) for d in event["inputs"] + event["outputs"]]
    errors = []
    for facets in containers:
        for key, name in CUSTOM_FACETS.items():
            if key in facets:
                assert facets[key]["_schemaURL"] == f"{docs[name]['$id']}#/$defs/{name}"
                validator = jsonschema.Draft202012Validator(
                    {"$ref": facets[key]["_schemaURL"]}, registry=registry
                )
                errors += [f"{key}: {e.message}" for e in validator.iter_errors(facets[key])]
    return errors


def assert_valid(events: list[dict[str, Any]]) -> None:
    for event in events:
        assert validate_event(event) == [], json.dumps(event, indent=1)
        assert custom_facet_errors(event) == []


def seed_records() -> list[Any]:
    sink = MemorySink()
    lineage_sdk.configure([sink], on_error="raise")
    run_seed()
    return list(sink.records)


def test_seed_events_are_valid_start_complete_pairs() -> None:
    events = list(events_from_records(seed_records()))
    assert_valid(events)
    assert [(e["job"]["name"], e["eventType"]) for e in events] == [
        (COUNTS, "START"),
        (COUNTS, "COMPLETE"),
        (CTR, "START"),
        (CTR, "COMPLETE"),
    ]
    start, end = events[:2]
    assert start["run"]["runId"] == end["run"]["runId"]
    assert start["producer"] == PRODUCER and lineage_sdk.__version__ in PRODUCER
    job = start["job"]
    assert job["namespace"] == "default"
    assert job["facets"]["jobType"]["integration"] == "LINEAGE_SDK"
    assert job["facets"]["jobType"]["processingType"] == "BATCH"
    assert job["facets"]["sourceCodeLocation"]["type"] == "git"
    clicks = next(d for d in start["inputs"] if d["name"] == "raw_clicks_kafka_topic")
    assert [f["name"] for f in clicks["facets"]["schema"]["fields"]] == [
        "user_id",
        "timestamp",
        "ad_id",
    ]
    outputs = {d["name"]: d for d in start["outputs"]}
    assert outputs["user_clicks_7d"]["namespace"] == "feature://default"
    assert outputs["user_clicks_7d"]["facets"]["lineageSdk_derivation"]["inputs"] == [
        {"namespace": clicks["namespace"], "name": "raw_clicks_kafka_topic"}
    ]
    assert outputs["user_clicks_7d"]["facets"]["lineageSdk_feature"]["valueType"] == "int"
    custom = start["run"]["facets"]["lineageSdk_run"]
    assert custom["version"] == "1.2" and len(custom["sourceSha256"]) == 64
    engine = start["run"]["facets"]["processing_engine"]
    assert engine["name"] == "python"  # pyspark is not imported here


def test_failed_and_nested_runs() -> None:
    sink = MemorySink()
    lineage_sdk.configure([sink])

    @log_lineage(name="inner", inputs=["s3://bucket/raw/events.parquet"])
    def inner() -> None:
        raise ValueError("bad partition")

    @log_lineage(name="outer")
    def outer() -> None:
        inner()

    with pytest.raises(ValueError):
        outer()
    events = list(events_from_records(sink.records))
    assert_valid(events)
    by = {(e["job"]["name"], e["eventType"]): e for e in events}
    assert set(by) == {("outer", "START"), ("outer", "FAIL"), ("inner", "START"), ("inner", "FAIL")}
    fail = by[("inner", "FAIL")]["run"]["facets"]
    assert fail["errorMessage"]["message"] == "builtins.ValueError: bad partition"
    assert fail["errorMessage"]["programmingLanguage"] == "PYTHON"
    assert "raise ValueError" in fail["errorMessage"]["stackTrace"]
    assert fail["parent"]["job"] == {"namespace": "default", "name": "outer"}
    assert fail["parent"]["run"]["runId"] == by[("outer", "START")]["run"]["runId"]
    assert "parent" not in by[("outer", "FAIL")]["run"]["facets"]
    assert by[("inner", "START")]["inputs"][0]["namespace"] == "s3://bucket"
    assert by[("inner", "START")]["inputs"][0]["name"] == "raw/events.parquet"


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        (
            DataSource("t", type="kafka_topic", location="kafka://broker:9092/raw_clicks"),
            ("kafka://broker:9092", "raw_clicks"),
        ),
        (
            DataSource(
                "p", type="postgres_table", location="postgres://db.example/shop.public.users"
            ),
            ("postgres://db.example:5432", "shop.public.users"),
        ),
        (
            DataSource(
                "p", type="postgres_table", location="postgresql://u:pw@db:6543/shop/public.users"
            ),
            ("postgres://db:6543", "shop.public.users"),
        ),
        (
            DataSource("f", type="file", location="/data/raw/events.csv"),
            ("file", "/data/raw/events.csv"),
        ),
        (
            DataSource("s", type="s3_object", location="s3://lake/raw/events/"),
            ("s3://lake", "raw/events/"),
        ),
        (DataSource("x", type="kafka_topic"), ("lineage-sdk://ns/kafka_topic", "x")),
        (Feature("user_ctr_7d"), ("feature://ns", "user_ctr_7d")),
        ("gs://bucket/a/b", ("gs://bucket", "a/b")),
        ("some_table", ("lineage-sdk://ns/external", "some_table")),
    ],
)
def test_dataset_naming_follows_the_conventions(node: Any, expected: tuple[str, str]) -> None:
    assert dataset_for(node, "ns") == expected


def test_custom_facet_schemas_are_published_for_this_version() -> None:
    for name in CUSTOM_FACETS.values():
        doc = json.loads((DOCS / f"{name}.json").read_text())
        assert f"/v{lineage_sdk.__version__}/" in doc["$id"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ids=st.lists(hostile_text, min_size=2, max_size=5, unique=True),
    failed=st.booleans(),
    data=st.data(),
)
def test_generated_graphs_map_to_valid_events(ids: list[str], failed: bool, data: Any) -> None:
    at = dt.datetime(2026, 1, 1, tzinfo=UTC)
    sources = [DataSource(f"s {x}", type=x, schema=[x], description=x, owner=x) for x in ids]
    features = [Feature(f"f {x}", value_type=x, entity=x, tags=[x]) for x in ids[:2]]
    derivation = [
        (f.id, [s.id for s in data.draw(st.lists(st.sampled_from(sources), max_size=3))])
        for f in features
    ]
    run = Run(
        "not-a-uuid",
        f"t {ids[0]}",
        "failed" if failed else "completed",
        at,
        at,
        0.0,
        inputs=[s.id for s in sources],
        outputs=[f.id for f in features],
        derivation=derivation,
        error_message=ids[-1] if failed else None,
        parent_run_id="parent" if failed else None,
        parent_transformation=ids[1],
        namespace=ids[1],
        git=GitInfo(commit="a" * 40, tag=ids[0], branch=ids[1]),
        code_reference=f"git://host/{ids[0]}.py#tag={ids[0]}",
        code=CodeRef(file=f"{ids[1]}.py", source_sha256="0" * 64),
    )
    events = run_events(run, {n.id: n for n in [*sources, *features]})
    assert_valid(events)
    assert events[1]["eventType"] == ("FAIL" if failed else "COMPLETE")


class Backend:
    """A tiny OpenLineage HTTP backend on 127.0.0.1 that validates what it receives."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.errors: list[str] = []
        backend = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                event = json.loads(body)
                backend.errors += validate_event(event)
                backend.events.append(event)
                self.send_response(201)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def backend() -> Iterator[Backend]:
    server = Backend()
    yield server
    server.close()


def test_pipeline_sends_valid_events_to_a_real_http_backend(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LINEAGE_SINK", "openlineage")
    monkeypatch.setenv("LINEAGE_ON_ERROR", "raise")
    monkeypatch.setenv("OPENLINEAGE_URL", backend.url)
    run_seed()

    @log_lineage(inputs=["user_ctr_7d"], name="broken_export")
    def broken() -> None:
        raise RuntimeError("export failed")

    with pytest.raises(RuntimeError):
        broken()
    lineage_sdk.flush()
    assert backend.errors == []
    pairs = [(e["job"]["name"], e["eventType"]) for e in backend.events]
    assert pairs == [
        (COUNTS, "START"),
        (COUNTS, "COMPLETE"),
        (CTR, "START"),
        (CTR, "COMPLETE"),
        ("broken_export", "START"),
        ("broken_export", "FAIL"),
    ]
    assert_valid(backend.events)


def test_a_backend_that_is_down_never_breaks_the_pipeline(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as sock:  # a port where nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("LINEAGE_SINK", "openlineage")
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__TYPE", "http")
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__RETRY", '{"total": 0}')
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__TIMEOUT", "2")

    @log_lineage(outputs=[Feature("f")])
    def job(i: int) -> int:
        return i * 10

    assert [job(i) for i in range(5)] == [0, 10, 20, 30, 40]
    errors = lineage_sdk.stats()["sinks"]["openlineage"]["errors"]
    assert errors["requests.exceptions.ConnectionError"] == 1  # one real attempt...
    assert errors["lineage_sdk.sinks.openlineage.BackendUnavailableError"] == 4  # ...then fail fast
    assert "lineage sink openlineage failed" in caplog.text


def test_export_openlineage_replays_a_store_as_ndjson(tmp_path: Path) -> None:
    target = f"sqlite:{tmp_path / 's.db'}"
    lineage_sdk.configure(target)
    run_seed()
    result = cli("export", "--format", "openlineage", "--store", target)
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["eventType"] for e in events] == ["START", "COMPLETE", "START", "COMPLETE"]
    assert_valid(events)
    out = tmp_path / "events.ndjson"
    (out).write_text(result.stdout)
    check = __import__("subprocess").run(
        [sys.executable, str(SPEC / "validate.py"), str(out)], capture_output=True, text=True
    )
    assert check.returncode == 0 and "4 events valid" in check.stdout


def test_missing_client_gives_an_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "openlineage.client", None)
    with pytest.raises(
        lineage_sdk.ConfigError, match=r"pip install 'feature-lineage-sdk\[openlineage\]'"
    ):
        lineage_sdk.configure("openlineage")


def test_openlineage_source_code_variable_adds_the_source_facet(
    backend: Backend, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LINEAGE_SINK", "openlineage")
    monkeypatch.setenv("LINEAGE_ON_ERROR", "raise")
    monkeypatch.setenv("OPENLINEAGE_URL", backend.url)
    path = tmp_path / "outside_any_repo" / "source_facet_job.py"
    path.parent.mkdir()
    path.write_text(JOB_MODULE + "# marker-in-the-source\n")
    module = import_path(path)
    for value in ("0", "1"):
        monkeypatch.setenv("LINEAGE_OPENLINEAGE_SOURCE_CODE", value)
        lineage_sdk.configure()  # re-read the environment
        module.job(1)
        lineage_sdk.flush()
    completes = [e for e in backend.events if e["eventType"] == "COMPLETE"]
    assert [("sourceCode" in e["job"].get("facets", {})) for e in completes] == [False, True]
    assert "return n * 2" in completes[1]["job"]["facets"]["sourceCode"]["sourceCode"]
    assert backend.errors == []


def test_a_long_run_sends_its_start_when_it_starts_and_only_its_end_at_the_end(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENLINEAGE_URL", backend.url)
    lineage_sdk.configure("openlineage", on_error="raise", running_after_s=0.2)
    seen_start = []

    @log_lineage(inputs=["raw_events"], outputs=["slow_feature"], name="slow_job")
    def slow() -> int:
        for _ in range(200):  # until the START is at the backend, while the call still runs
            if any(e["eventType"] == "START" for e in backend.events):
                seen_start.append(True)
                break
            time.sleep(0.05)
        return 1

    assert slow() == 1
    lineage_sdk.flush()
    assert seen_start == [True]
    assert [e["eventType"] for e in backend.events] == ["START", "COMPLETE"]
    start, end = backend.events
    assert start["run"]["runId"] == end["run"]["runId"]
    assert start["eventTime"] < end["eventTime"]
    assert_valid(backend.events)


def test_the_source_facet_reads_a_repository_file_from_anywhere_and_only_the_code_that_ran(
    make_repo: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    repo = make_repo("facet-jobs")
    path = repo.write("pipelines/facet_job.py", JOB_MODULE)
    repo.commit("add the job")
    module = import_path(path, "facet_job_module")
    sink = MemorySink()
    lineage_sdk.configure([sink])
    module.job(1)
    (run,) = [r for r in sink.records if isinstance(r, Run)]
    assert run.code is not None and run.code.file == "pipelines/facet_job.py"  # repo-relative
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the relative path no longer resolves from here
    (_, complete) = run_events(run, include_source_code=True)
    source = complete["job"]["facets"]["sourceCode"]["sourceCode"]
    assert source.startswith("@log_lineage(") and "return n * 2" in source
    path.write_text(JOB_MODULE.replace("n * 2", "n * 3"))  # edited since the run
    (_, complete) = run_events(run, include_source_code=True)
    assert "sourceCode" not in complete["job"]["facets"]  # not code that did not run
