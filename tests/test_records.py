"""The record model: validation, hashability, and an exact JSON round trip through one converter."""

from __future__ import annotations

import datetime as dt
import json

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lineage_sdk import CodeRef, DataSource, Feature, GitInfo, Run, Transformation
from lineage_sdk.records import MAX_ID_LENGTH, SCHEMA_VERSION, trusted_run
from lineage_sdk.serde import UnsupportedRecord, dumps, from_dict, loads, to_dict

UTC = dt.timezone.utc

ids = st.text(min_size=1, max_size=40).filter(lambda s: s.strip() != "")
texts = st.none() | st.text(max_size=60)
str_tuples = st.lists(st.text(max_size=20), max_size=4).map(tuple)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=10)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
times = st.datetimes(
    min_value=dt.datetime(1970, 1, 2), max_value=dt.datetime(2200, 1, 1), timezones=st.just(UTC)
)

data_sources = st.builds(
    DataSource,
    id=ids,
    type=ids,
    schema=str_tuples,
    description=texts,
    owner=texts,
    location=texts,
    tags=str_tuples,
)
features = st.builds(
    Feature, id=ids, description=texts, value_type=texts, entity=texts, tags=str_tuples
)
transformations = st.builds(
    Transformation,
    id=ids,
    version=texts,
    description=texts,
    compute_framework=texts,
    code_reference=texts,
    metadata=st.dictionaries(st.text(max_size=8), json_values, max_size=4),
)
code_refs = st.none() | st.builds(
    CodeRef,
    module=texts,
    qualname=texts,
    file=texts,
    line_start=st.none() | st.integers(1, 10**6),
    line_end=st.none() | st.integers(1, 10**6),
    source_sha256=texts,
)
git_infos = st.none() | st.builds(
    GitInfo,
    commit=st.text("0123456789abcdef", min_size=40, max_size=40),
    branch=texts,
    tag=texts,
    describe=texts,
    dirty=st.none() | st.booleans(),
    remote_url=texts,
)
runs = st.builds(
    Run,
    run_id=ids,
    transformation=ids,
    status=st.sampled_from(["completed", "failed"]),
    started_at=times,
    ended_at=times,
    duration_s=st.floats(0, 1e6, allow_nan=False),
    inputs=st.lists(ids, max_size=4).map(tuple),
    outputs=st.lists(ids, max_size=4).map(tuple),
    derivation=st.lists(st.tuples(ids, st.lists(ids, max_size=3).map(tuple)), max_size=3).map(
        tuple
    ),
    parent_run_id=st.none() | ids,
    parent_transformation=st.none() | ids,
    version=texts,
    namespace=ids,
    error_type=texts,
    error_message=texts,
    error_stack=texts,
    code=code_refs,
    git=git_infos,
    code_reference=texts,
    host=texts,
    pid=st.none() | st.integers(1, 2**31),
    python_version=texts,
    sdk_version=texts,
)
records = data_sources | features | transformations | runs


@given(records)
def test_every_record_round_trips_exactly_through_json(record: object) -> None:
    text = dumps(record)  # type: ignore[arg-type]
    assert "\n" not in text  # one record, one line, whatever the strings hold
    assert json.loads(text)["schema_version"] == SCHEMA_VERSION
    assert loads(text) == record


def test_nodes_are_frozen_hashable_and_store_sequences_as_tuples() -> None:
    src = DataSource("raw_clicks_kafka_topic", type="kafka_topic", schema=["user_id", "ad_id"])
    assert src.schema == ("user_id", "ad_id")
    assert {
        src,
        DataSource("raw_clicks_kafka_topic", type="kafka_topic", schema=("user_id", "ad_id")),
    } == {src}
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        src.id = "other"  # type: ignore[misc]
    assert hash(Feature("f", tags=["a"])) == hash(Feature("f", tags=("a",)))


@pytest.mark.parametrize(
    ("build", "error", "fragment"),
    [
        (lambda: DataSource("", type="t"), ValueError, "non-empty"),
        (lambda: DataSource("   ", type="t"), ValueError, "non-empty"),
        (lambda: DataSource(3, type="t"), TypeError, "must be a string"),  # type: ignore[arg-type]
        (lambda: Feature("x" * (MAX_ID_LENGTH + 1)), ValueError, "limit"),
        (lambda: DataSource("s", type="t", schema="user_id"), TypeError, "sequence of strings"),
        (lambda: Feature("f", tags=[1]), TypeError, "sequence of strings"),  # type: ignore[list-item]
        (lambda: Feature("f", value_type=1), TypeError, "value_type"),  # type: ignore[arg-type]
        (lambda: Transformation("t", metadata={"x": object()}), ValueError, "JSON"),
        (lambda: Transformation("t", metadata={"x": float("nan")}), ValueError, "JSON"),
    ],
)
def test_invalid_fields_are_refused_at_construction(build, error, fragment) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=fragment):
        build()


def test_run_times_must_be_timezone_aware_utc() -> None:
    naive = dt.datetime(2026, 1, 1)
    with pytest.raises(ValueError, match="UTC"):
        Run("r", "t", "completed", naive, naive, 0.0)


def test_run_edges_follow_per_output_derivation() -> None:
    now = dt.datetime.now(UTC)
    run = Run(
        "r",
        "counts",
        "completed",
        now,
        now,
        0.0,
        inputs=("imp", "clk"),
        outputs=("n_imp", "n_clk"),
        derivation=[("n_imp", ["imp"]), ("n_clk", ["clk"])],
    )
    assert run.edges() == (("imp", "n_imp"), ("clk", "n_clk"))


def test_unknown_keys_from_a_newer_writer_are_ignored() -> None:
    data = to_dict(Feature("f"))
    data["added_in_a_later_release"] = 1
    assert from_dict(data) == Feature("f")


def test_a_record_without_schema_version_is_read_as_version_1() -> None:
    data = to_dict(Feature("f"))
    del data["schema_version"]
    assert from_dict(data) == Feature("f")


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (
            lambda d: d.update(schema_version=SCHEMA_VERSION + 1),
            "pip install --upgrade feature-lineage-sdk",
        ),
        (lambda d: d.update(record_type="spaceship"), "unknown record_type"),
        (lambda d: d.update(schema_version="one"), "bad schema_version"),
        (lambda d: d.update(id=""), "invalid feature record"),
    ],
)
def test_unreadable_records_raise_unsupported_record(mutate, fragment) -> None:  # type: ignore[no-untyped-def]
    data = to_dict(Feature("f"))
    mutate(data)
    with pytest.raises(UnsupportedRecord, match=fragment):
        from_dict(data)


@given(runs)
def test_the_trusted_run_constructor_builds_the_same_run_as_the_validating_one(run: Run) -> None:
    # The decorator's hot path skips converters and validators; for values that pass them both
    # constructors must agree field for field, so the shortcut can never change a record.
    fields = {a.name: getattr(run, a.name) for a in attrs.fields(Run)}
    fast = trusted_run(**fields)
    assert type(fast) is Run
    assert fast == run
    assert dumps(fast) == dumps(run)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        fast.status = "failed"  # type: ignore[misc]
