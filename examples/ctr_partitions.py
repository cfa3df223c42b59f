"""The per-day partition job of the distributed CTR example (importable by Dask workers).

Workers import decorated functions by reference, so they live in a module of their own rather
than in the script that starts the cluster (functions of ``__main__`` would be shipped by value
and lose their lineage wrapper).
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from typing import Any

from ctr_7d import raw_clicks, raw_impressions

import lineage_sdk
from lineage_sdk import Feature, log_lineage

impressions_day = Feature(
    "user_impressions_1d",
    description="Impressions per user and day",
    value_type="int",
    entity="user",
)
clicks_day = Feature(
    "user_clicks_1d", description="Clicks per user and day", value_type="int", entity="user"
)


@log_lineage(
    inputs=[raw_impressions, raw_clicks],
    outputs={impressions_day: [raw_impressions], clicks_day: [raw_clicks]},
    name="count_user_events_day",
    version="1.2",
    description="Counts one day's impressions and clicks per user (one Dask task per day)",
    compute_framework="dask",
)
def count_user_events_day(day: dt.date, users: int, seed: int) -> tuple[Counter[int], Counter[int]]:
    """Reads (here: synthesises, seeded by the day) one day's partition and counts it."""
    rng = random.Random(f"{seed}-{day.isoformat()}")
    impressions: Counter[int] = Counter()
    clicks: Counter[int] = Counter()
    for user in range(users):
        seen = rng.randint(0, 6)
        if seen:
            impressions[user] += seen
            clicks[user] += sum(rng.random() < 0.05 for _ in range(seen))
    return impressions, clicks


def partition_task(day: dt.date, users: int, seed: int, token: dict[str, Any] | None) -> Any:
    """What a worker runs: the day's job, attached to the driver's run."""
    with lineage_sdk.attach(token):
        return count_user_events_day(day, users, seed)
