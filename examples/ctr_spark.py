"""The seed's 7-day counts on a local Spark session (``make demo-spark``).

The impression and click logs of ``ctr_7d.py`` (same generator, same seed) are written as Parquet.
The driver's decorated job reads them with Spark on ``local[2]``: its inputs are the Parquet
datasets themselves (``sources(df)``, named as OpenLineage names files). Spark counts per user over
the 7 days before ``as_of``; each partition's partial count runs on an executor and is recorded as
a child of the driver's run, with the executor's host and pid. The CTR step runs in pandas, as in
``ctr_7d.py``, and gives the same answers.

Lineage goes where ``LINEAGE_SINK`` says (default: ``sqlite:lineage.db`` in the working directory,
given to the executors as an absolute path). The script prints the runs with their parent links,
hosts and pids, and draws the graph.

    python examples/ctr_spark.py [--users N] [--data DIR] [--svg PATH] [--json PATH]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
from ctr_7d import (
    Event,
    calculate_user_ctr,
    draw,
    make_data,
    user_clicks_7d,
    user_impressions_7d,
)

import lineage_sdk
from lineage_sdk import log_lineage
from lineage_sdk.integrations.spark import propagate_settings, sources, spark_lineage

COUNTS = "calculate_user_counts_7d_job_v1.2"
PARTITION = "count_user_events_partition"


@spark_lineage(
    name=PARTITION,
    version="1.2",
    description="Counts one partition's events per kind and user (runs on an executor)",
)
def count_partition(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """A partial count per partition; Spark sums the partials per user."""
    for batch in batches:
        yield batch.groupby(["kind", "user_id"]).size().rename("n").reset_index()


@log_lineage(
    inputs=lambda a: sources(a["impressions"]) + sources(a["clicks"]),
    outputs=lambda a: {
        user_impressions_7d: sources(a["impressions"]),
        user_clicks_7d: sources(a["clicks"]),
    },
    name=COUNTS,
    version="1.2",
    description="Counts impressions and clicks per user over a 7-day window",
    compute_framework="Spark",
)
def calculate_user_counts_7d_on_spark(
    impressions: Any, clicks: Any, as_of: dt.datetime
) -> tuple[Counter[int], Counter[int]]:
    """Per-user impression and click counts in the 7 days before ``as_of``, on Spark."""
    from pyspark.sql import functions as F

    since = as_of - dt.timedelta(days=7)
    events = impressions.withColumn("kind", F.lit("impression")).unionByName(
        clicks.withColumn("kind", F.lit("click"))
    )
    window = events.filter((F.col("timestamp") >= since) & (F.col("timestamp") < as_of))
    partials = window.select("kind", "user_id").mapInPandas(
        count_partition, "kind string, user_id long, n long"
    )
    totals = partials.groupBy("kind", "user_id").agg(F.sum("n").alias("n")).collect()
    counts: dict[str, Counter[int]] = {"impression": Counter(), "click": Counter()}
    for row in totals:
        counts[row["kind"]][int(row["user_id"])] = int(row["n"])
    return counts["impression"], counts["click"]


def write_logs(directory: Path, impressions: list[Event], clicks: list[Event]) -> tuple[Path, Path]:
    """The synthetic logs as Parquet, as an ingestion job would land them."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = (directory / "impressions.parquet", directory / "clicks.parquet")
    for path, events in zip(paths, (impressions, clicks), strict=True):
        frame = pd.DataFrame(events, columns=["user_id", "timestamp", "ad_id"])
        # Microseconds: Spark reads Parquet timestamps in microseconds, not pandas' nanoseconds.
        frame.to_parquet(path, index=False, coerce_timestamps="us")
    return paths


def local_session() -> Any:
    """``local[2]`` with little memory and no UI; executors use this Python."""
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (
        SparkSession.builder.master("local[2]")
        .appName("lineage-sdk ctr_spark")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "512m")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


def print_runs(store: str) -> None:
    """The driver's last run and the executor runs recorded under it."""
    graph = lineage_sdk.load_graph(store)
    [driver] = graph.runs(transformation=COUNTS, limit=1)
    children = [r for r in graph.runs(transformation=PARTITION) if r.parent_run_id == driver.run_id]
    print(f"driver run {driver.run_id} host={driver.host} pid={driver.pid}")
    print(f"  has {len(children)} partition runs on the executors:")
    for run in sorted(children, key=lambda r: r.started_at):
        print(
            f"  {run.run_id}  parent={run.parent_run_id}  host={run.host}  pid={run.pid}"
            f"  {run.status}"
        )


def main(argv: list[str] | None = None, spark: Any = None) -> dict[int, float]:
    """Run the demo; ``spark`` is an existing session to use (default: a new local one)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data", default="ctr_logs", help="where to write the Parquet logs")
    parser.add_argument("--svg", default="lineage.svg", help="where to draw the graph")
    parser.add_argument("--json", help="also write the CTR per user to this JSON file")
    args = parser.parse_args(argv)
    # Executors are other processes: they find the store through the environment, by absolute path.
    os.environ.setdefault("LINEAGE_SINK", f"sqlite:{Path('lineage.db').resolve()}")
    store = os.environ["LINEAGE_SINK"]

    as_of = dt.datetime(2026, 11, 24, tzinfo=dt.timezone.utc)
    impressions, clicks, profiles = make_data(args.users, args.seed, as_of)
    impressions_path, clicks_path = write_logs(Path(args.data).resolve(), impressions, clicks)

    own = spark is None
    session = local_session() if own else spark
    try:
        propagate_settings(session)
        impression_counts, click_counts = calculate_user_counts_7d_on_spark(
            session.read.parquet(str(impressions_path)),
            session.read.parquet(str(clicks_path)),
            as_of,
        )
    finally:
        if own:
            session.stop()
    ctr = calculate_user_ctr(impression_counts, click_counts, [p[0] for p in profiles])
    lineage_sdk.flush()

    active = [c for c in ctr.values() if c > 0]
    print(
        f"{sum(impression_counts.values()):,} impressions and {sum(click_counts.values()):,} "
        f"clicks in the window, {len(profiles):,} users; "
        f"mean CTR of clicking users {sum(active) / max(len(active), 1):.3f}"
    )
    print_runs(store)
    if args.json:
        Path(args.json).write_text(json.dumps(ctr))
    graph = lineage_sdk.load_graph(store)
    print("upstream(user_ctr_7d):", graph.upstream("user_ctr_7d"))
    draw(graph, args.svg)
    return ctr


if __name__ == "__main__":
    main()
