"""lineage_sdk.testing: users' own tests can assert on lineage without a store."""

from __future__ import annotations

import pytest

import lineage_sdk
from lineage_sdk import Feature, MemorySink, log_lineage
from lineage_sdk.testing import capture_records


@log_lineage(inputs=["raw_clicks_kafka_topic"], outputs=[Feature("user_clicks_7d")], name="count")
def count(values: list[int]) -> int:
    return len(values)


def test_capture_records_sees_runs_and_restores_the_configuration() -> None:
    outer = MemorySink()
    lineage_sdk.configure([outer])
    with capture_records() as records:
        assert count([1, 2, 3]) == 3
    [run] = records.runs()
    assert run.transformation == "count" and run.outputs == ("user_clicks_7d",)
    assert len(records) == len(records.all()) >= 3
    assert outer.records == ()  # nothing leaked into the configuration in force
    count([])
    assert len([r for r in outer.records if isinstance(r, lineage_sdk.Run)]) == 1


def test_capture_records_is_strict_so_sdk_problems_fail_the_test() -> None:
    with capture_records() as records:
        assert records.sink.name == "memory"
        from lineage_sdk import _runtime

        assert _runtime.current().settings.on_error == "raise"
    outer = MemorySink()
    lineage_sdk.configure([outer])
    with (
        pytest.raises(
            lineage_sdk.ConfigError, match=r"^capture_records\(on_error='loudly'\) is not valid"
        ),
        capture_records(on_error="loudly"),
    ):
        pass
    count([])  # the configuration in force before is still there
    assert len([r for r in outer.records if isinstance(r, lineage_sdk.Run)]) == 1
