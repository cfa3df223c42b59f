"""Decorated functions that worker processes import by reference (used by the pool tests)."""

from __future__ import annotations

from lineage_sdk import DataSource, Feature, log_lineage

numbers = DataSource("numbers", type="range")
doubled = Feature("doubled", value_type="int")


@log_lineage(inputs=[numbers], outputs=[doubled], name="pool_double")
def double(n: int) -> int:
    return n * 2
