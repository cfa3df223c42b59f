"""Declarations are revisions: a re-declaration merges over the last one, erases nothing it does
not name, is logged once when it changes something, and shows in history, on every store kind."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import lineage_sdk
from lineage_sdk import DataSource, Feature, JsonFileSink, MemorySink, SQLiteSink, Transformation
from lineage_sdk.graph import LineageGraph
from lineage_sdk.records import Record, declaration_changes, merge_declaration
from lineage_sdk.sinks.sqlschema import SQLITE, migration

from .helpers import STORES, cli, pg_store, set_back_to_layout_v1
from .strategies import hostile_text


class Store:
    """A store of one kind written by successive "processes" (a fresh sink each time)."""

    def __init__(self, kind: str, where: Path, request: Any) -> None:
        self.kind = kind
        self.memory = MemorySink()
        self.location = {
            "memory": "",
            "json": f"json:{where / 'lineage.jsonl'}",
            "sqlite": f"sqlite:{where / 'lineage.db'}",
            "postgresql": pg_store(request) if kind == "postgresql" else "",
        }[kind]

    def write(self, *records: Record) -> None:
        """One batch, from a process of its own (the memory store has one process only)."""
        if self.kind == "memory":
            self.memory.emit(records)
            return
        sink: Any
        if self.kind == "json":
            sink = JsonFileSink(self.location.removeprefix("json:"))
        elif self.kind == "sqlite":
            sink = SQLiteSink(self.location.removeprefix("sqlite:"))
        else:
            from lineage_sdk.sinks.postgres import PostgresSink

            sink = PostgresSink(self.location)
        sink.emit(records)
        sink.close()

    def graph(self) -> LineageGraph:
        return lineage_sdk.load_graph(self.memory if self.kind == "memory" else self.location)


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    return Store(request.param, tmp_path, request)


def changes_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.INFO and "declaration of" in r.getMessage()
    ]


# --- the one rule --------------------------------------------------------------------------------
optional_text = st.none() | hostile_text
features = st.builds(
    Feature,
    id=st.just("f"),
    description=optional_text,
    value_type=optional_text,
    entity=optional_text,
    tags=st.lists(hostile_text, max_size=2),
)


@given(features, features)
def test_a_later_declaration_replaces_what_it_names_and_keeps_the_rest(
    earlier: Feature, later: Feature
) -> None:
    merged = merge_declaration(earlier, later)
    for field in ("description", "value_type", "entity", "tags"):
        named = getattr(later, field) not in (None, ())
        expected = getattr(later if named else earlier, field)
        assert getattr(merged, field) == expected, field
    assert merge_declaration(merged, later) == merged  # repeating it changes nothing
    assert declaration_changes(merged, merged) == ()


def test_a_declaration_of_another_kind_replaces_the_node_whole() -> None:
    earlier = Feature("x", description="a feature", entity="user")
    later = DataSource("x", type="table")
    assert merge_declaration(earlier, later) == later
    assert "type" in declaration_changes(earlier, later)


# --- every store ---------------------------------------------------------------------------------
def test_a_partial_redeclaration_erases_nothing_and_is_kept_as_a_revision(store: Store) -> None:
    store.write(
        Feature("user_ctr_7d", description="7-day click-through rate", entity="user"),
        DataSource("clicks", type="kafka_topic", description="raw clicks", owner="growth"),
    )
    store.write(Feature("user_ctr_7d", value_type="float"))
    store.write(Feature("user_ctr_7d", value_type="float"))  # identical: no new revision
    store.write(DataSource("clicks", type="kafka_topic", schema=["user_id", "ad_id"]))

    graph = store.graph()
    assert graph.node("user_ctr_7d") == Feature(
        "user_ctr_7d", description="7-day click-through rate", value_type="float", entity="user"
    )
    assert graph.node("clicks") == DataSource(
        "clicks",
        type="kafka_topic",
        schema=["user_id", "ad_id"],
        description="raw clicks",
        owner="growth",
    )
    found = graph.history("user_ctr_7d").declarations
    assert [d.changed for d in found] == [(), ("value_type",)]
    assert found[0].record.value_type is None  # type: ignore[union-attr]
    assert found[-1].record == graph.node("user_ctr_7d")
    assert [d.changed for d in graph.history("clicks").declarations] == [(), ("schema",)]
    times = [d.recorded_at for d in found]
    if store.kind in ("sqlite", "postgresql"):  # the file stores keep no time for declarations
        assert None not in times and times == sorted(times)  # type: ignore[type-var]
    data: Any = graph.history("user_ctr_7d").to_json()
    assert data["runs"] == []
    assert [d["changed"] for d in data["declarations"]] == [[], ["value_type"]]


def test_a_changed_declaration_is_logged_once_at_info_naming_id_and_fields(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="lineage_sdk")
    first = DataSource("orders\n--x", type="table", description="orders", owner="sales")
    store.write(first)
    store.write(first)
    assert changes_logged(caplog) == []  # a first declaration and an identical one are no change
    store.write(DataSource("orders\n--x", type="table", owner="finance", tags=["pii"]))
    store.write(DataSource("orders\n--x", type="table", owner="finance"))  # merges to the same
    logged = changes_logged(caplog)
    assert logged == ["declaration of DataSource 'orders\\n--x' changed: owner, tags"]
    assert "\n" not in logged[0]  # a hostile id stays on one line


def test_a_transformation_redeclared_with_fewer_fields_keeps_them_and_is_logged(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="lineage_sdk")
    store.write(
        Transformation(
            "calculate_ctr",
            description="CTR per user",
            compute_framework="pandas",
            code_reference="jobs/ctr.py:12",
            metadata={"team": "growth"},
        )
    )
    store.write(Transformation("calculate_ctr", compute_framework="dask"))
    assert store.graph().node("calculate_ctr") == Transformation(
        "calculate_ctr",
        description="CTR per user",
        compute_framework="dask",
        code_reference="jobs/ctr.py:12",
        metadata={"team": "growth"},
    )
    assert changes_logged(caplog) == [
        "declaration of Transformation 'calculate_ctr' changed: compute_framework"
    ]


def test_a_redeclaration_in_one_batch_merges_in_order(store: Store) -> None:
    store.write(Feature("f", description="first"), Feature("f", entity="user"))
    assert store.graph().node("f") == Feature("f", description="first", entity="user")


# --- store versions and the command line ----------------------------------------------------------
def test_an_older_sqlite_store_reads_its_declarations_as_first_revisions(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    sink = SQLiteSink(path)
    sink.emit([Feature("f", description="kept")])
    sink.close()
    with sqlite3.connect(path) as conn:  # as a store of version 4 was: no declarations table
        set_back_to_layout_v1(conn)
        conn.executescript(
            "DROP VIEW io_with_failed; DROP VIEW edges_with_failed; DROP TABLE failed_io;"
            "DROP TABLE failed_edges; DROP TABLE column_edges; ALTER TABLE edges DROP COLUMN whole"
        )
        for version in (1, 2, 3):
            for statement in migration(SQLITE, version):
                conn.execute(statement)
        conn.execute("PRAGMA user_version = 4")
    conn.close()
    [only] = lineage_sdk.load_graph(f"sqlite:{path}").history("f").declarations
    assert only.record == Feature("f", description="kept") and only.recorded_at is not None
    sink = SQLiteSink(path)  # a writer upgrades the file itself
    sink.emit([Feature("f", entity="user")])
    sink.close()
    found = lineage_sdk.load_graph(f"sqlite:{path}").history("f").declarations
    assert [d.changed for d in found] == [(), ("entity",)]
    assert found[-1].record == Feature("f", description="kept", entity="user")


def test_lineage_history_shows_a_nodes_declarations(tmp_path: Path) -> None:
    path = tmp_path / "lineage.db"
    for record in (
        Feature("user_ctr_7d", description="CTR <b>\nDROP TABLE runs;"),
        Feature("user_ctr_7d", value_type="float"),
    ):
        sink = SQLiteSink(path)
        sink.emit([record])
        sink.close()
    shown = cli("history", "user_ctr_7d", "--store", f"sqlite:{path}")
    assert shown.returncode == 0, shown.stderr
    assert "no run produced user_ctr_7d" in shown.stdout
    assert "value_type" in shown.stdout and "recorded (UTC)" in shown.stdout
    assert "description=CTR <b>\\nDROP TABLE runs;" in shown.stdout  # the newline stays escaped
    data = json.loads(cli("history", "user_ctr_7d", "--store", f"sqlite:{path}", "--json").stdout)
    assert [d["declaration"]["description"] for d in data["declarations"]] == [
        "CTR <b>\nDROP TABLE runs;"
    ] * 2
    assert [d["changed"] for d in data["declarations"]] == [[], ["value_type"]]


def test_an_openlineage_export_documents_nodes_from_their_merged_declarations() -> None:
    from lineage_sdk.export.openlineage import events_from_records, stream_events

    from .helpers import make_run

    records: list[Record] = [
        Feature("out", description="what the job writes"),
        Feature("out", value_type="float"),
        Transformation("t", description="the job"),
        Transformation("t", compute_framework="dask"),
        make_run("t", [("out", ["in"])], ["in"], 1),
    ]
    for events in (list(stream_events(records)), list(events_from_records(records))):
        final = events[-1]
        [output] = final["outputs"]
        assert output["facets"]["documentation"]["description"] == "what the job writes"
        assert final["job"]["facets"]["documentation"]["description"] == "the job"
