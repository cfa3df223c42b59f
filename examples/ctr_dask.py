"""The CTR pipeline with its per-day partitions on a local Dask cluster (``make demo-dask``).

The driver's decorated job fans the 7 days out to worker processes; each worker attaches the
driver's run context, so every partition run is recorded as a child of the driver's run, with the
worker's own pid and host, in the same store (``LINEAGE_SINK``, default ``sqlite:lineage.db``).
Beyond one machine, point every worker at an OpenLineage backend instead
(``LINEAGE_SINK=openlineage``): an SQLite file on a network file system is not supported.

    python examples/ctr_dask.py [--workers 2] [--users 2000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
from collections import Counter
from pathlib import Path

from ctr_7d import (
    calculate_user_ctr,
    raw_clicks,
    raw_impressions,
    user_clicks_7d,
    user_impressions_7d,
)
from ctr_partitions import partition_task

import lineage_sdk
from lineage_sdk import log_lineage


@log_lineage(
    inputs=[raw_impressions, raw_clicks],
    outputs={user_impressions_7d: [raw_impressions], user_clicks_7d: [raw_clicks]},
    name="calculate_user_counts_7d_job_v1.2",
    version="1.2",
    description="Counts impressions and clicks per user over 7 days, one Dask task per day",
    compute_framework="dask",
)
def calculate_user_counts_7d_on_dask(
    client: object, as_of: dt.date, users: int, seed: int
) -> tuple[Counter[int], Counter[int]]:
    token = lineage_sdk.current_context()
    wire = token.to_dict() if token is not None else None
    days = [as_of - dt.timedelta(days=d) for d in range(1, 8)]
    futures = client.map(partition_task, days, users=users, seed=seed, token=wire, pure=False)  # type: ignore[attr-defined]
    impressions: Counter[int] = Counter()
    clicks: Counter[int] = Counter()
    for day_impressions, day_clicks in client.gather(futures):  # type: ignore[attr-defined]
        impressions.update(day_impressions)
        clicks.update(day_clicks)
    return impressions, clicks


def main(argv: list[str] | None = None) -> None:
    from dask.distributed import Client, LocalCluster

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    # Workers are new processes: they find the store through the environment, as absolute path.
    os.environ.setdefault("LINEAGE_SINK", f"sqlite:{Path('lineage.db').resolve()}")
    store = os.environ["LINEAGE_SINK"]
    with (
        LocalCluster(
            n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        impressions, clicks = calculate_user_counts_7d_on_dask(
            client, dt.date(2026, 11, 24), args.users, args.seed
        )
    ctr = calculate_user_ctr(impressions, clicks, range(args.users))
    lineage_sdk.flush()
    print(
        f"{sum(impressions.values()):,} impressions, {sum(clicks.values()):,} clicks; "
        f"{sum(1 for v in ctr.values() if v > 0):,} users clicked"
    )
    graph = lineage_sdk.load_graph(store)
    [driver] = graph.runs(transformation="calculate_user_counts_7d_job_v1.2", limit=1)
    children = [
        r
        for r in graph.runs(transformation="count_user_events_day")
        if r.parent_run_id == driver.run_id
    ]
    print(f"driver run {driver.run_id} (pid {driver.pid}) has {len(children)} partition runs:")
    for run in sorted(children, key=lambda r: r.started_at):
        print(f"  {run.run_id}  parent={run.parent_run_id}  host={run.host}  pid={run.pid}")


if __name__ == "__main__":
    main()
