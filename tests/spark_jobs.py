"""Functions that Spark runs on executors in tests/test_spark.py (importable there by reference)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pandas as pd
from pyspark import TaskContext

import lineage_sdk
from lineage_sdk import Feature, log_lineage
from lineage_sdk.integrations.spark import spark_lineage

tagged = Feature("tagged_rows", value_type="int")


def _attempt() -> int:
    return int(TaskContext.get().taskAttemptId())


@spark_lineage(outputs=[tagged], name="tag_partition")
def tag_partition(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """mapInPandas: each row gets the worker's pid and the task attempt that produced it."""
    for batch in batches:
        yield batch.assign(pid=os.getpid(), attempt=_attempt())


@spark_lineage(name="tag_group")
def tag_group(group: pd.DataFrame) -> pd.DataFrame:
    """applyInPandas: called once per group."""
    key = group["key"].iloc[0]
    return pd.DataFrame({"key": [key], "pid": [os.getpid()], "attempt": [_attempt()]})


@spark_lineage(name="attempt_of_batch")
def attempt_of_batch(ids: pd.Series) -> pd.Series:
    """A scalar pandas UDF: called once per Arrow batch."""
    return pd.Series([_attempt()] * len(ids))


@spark_lineage(name="attempt_of_row")
def attempt_of_row(value):  # no hints: pyspark warns on non-pandas hints of a plain udf
    """A plain UDF: called once per row."""
    return _attempt()


@spark_lineage(name="visit_partition")
def visit_partition(rows: Iterator[Any]) -> None:
    """foreachPartition: consumes the partition."""
    for _ in rows:
        pass


@spark_lineage(name="flaky_partition")
def flaky_partition(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """Partition 0 fails on its first attempt; Spark's retry succeeds."""
    context = TaskContext.get()
    if context.partitionId() == 0 and context.attemptNumber() == 0:
        raise RuntimeError("partition 0 lost its first attempt")
    for batch in batches:
        yield batch.assign(pid=os.getpid(), attempt=_attempt())


@log_lineage(name="nested_step")
def nested_step() -> None:
    """A decorated call inside a task: its run is a child of the task's run."""


@spark_lineage(name="queue_partition")
def queue_partition(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """Reports this worker's queue: left by its earlier tasks, and after a nested run ended."""
    left = lineage_sdk.stats()["queued"]
    nested_step()
    queued = lineage_sdk.stats()["queued"]
    for batch in batches:
        yield batch.assign(pid=os.getpid(), left=left, queued=queued)
