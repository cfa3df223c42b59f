"""The seed scenario, computed for real: a 7-day click-through rate per user.

Synthetic impression and click logs (``user_id, timestamp, ad_id``) and user profiles
(``user_id, country, registration_date``) are generated with a seeded RNG; two decorated
transformations compute per-user 7-day impressions and clicks, then the CTR. The jobs are
declared as the seed's Spark and pandas jobs; here they run as plain Python so the demo needs
nothing but lineage-sdk.

Lineage goes where ``LINEAGE_SINK`` says (default: ``sqlite:lineage.db`` in the working
directory). The script prints the registry, a few graph answers, and writes ``lineage.svg``.

    python examples/ctr_7d.py [--users N] [--svg PATH]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import lineage_sdk
from lineage_sdk import DataSource, Feature, log_lineage, register
from lineage_sdk.render import DotNotFoundError

Event = tuple[int, dt.datetime, int]  # user_id, timestamp, ad_id

# --- the seed's nodes ---------------------------------------------------------------------------
raw_impressions = DataSource(
    "raw_impressions_kafka_topic",
    type="kafka_topic",
    schema=["user_id", "timestamp", "ad_id"],
    description="Ad impressions streamed from the ad server",
    owner="ads-platform",
    location="kafka://events/raw_impressions",
)
raw_clicks = DataSource(
    "raw_clicks_kafka_topic",
    type="kafka_topic",
    schema=["user_id", "timestamp", "ad_id"],
    description="Ad clicks streamed from the ad server",
    owner="ads-platform",
    location="kafka://events/raw_clicks",
)
user_profiles = DataSource(
    "user_profiles_postgres_table",
    type="postgres_table",
    schema=["user_id", "country", "registration_date"],
    description="User profile attributes",
    owner="growth-team",
    location="postgres://users-db/public.user_profiles",
)
user_impressions_7d = Feature(
    "user_impressions_7d",
    description="Impressions per user over the last 7 days",
    value_type="int",
    entity="user",
)
user_clicks_7d = Feature(
    "user_clicks_7d",
    description="Clicks per user over the last 7 days",
    value_type="int",
    entity="user",
)
user_ctr_7d = Feature(
    "user_ctr_7d",
    description="Click-through rate per user over the last 7 days (clicks / impressions)",
    value_type="float",
    entity="user",
)


# --- the transformations ------------------------------------------------------------------------
@log_lineage(
    inputs=[raw_impressions, raw_clicks],
    # Column level: counts are grouped by user_id and filtered to the window by timestamp;
    # ad_id is never read, so changing it impacts no feature.
    outputs={
        user_impressions_7d: [
            raw_impressions.column("user_id", kind="groupby"),
            raw_impressions.column("timestamp", kind="filter"),
        ],
        user_clicks_7d: [
            raw_clicks.column("user_id", kind="groupby"),
            raw_clicks.column("timestamp", kind="filter"),
        ],
    },
    name="calculate_user_counts_7d_job_v1.2",
    version="1.2",
    description="Counts impressions and clicks per user over a 7-day window",
    compute_framework="Spark",
)
def calculate_user_counts_7d(
    impressions: Iterable[Event], clicks: Iterable[Event], as_of: dt.datetime
) -> tuple[Counter[int], Counter[int]]:
    """Per-user impression and click counts in the 7 days before ``as_of``."""
    since = as_of - dt.timedelta(days=7)
    impression_counts = Counter(u for u, ts, _ in impressions if since <= ts < as_of)
    click_counts = Counter(u for u, ts, _ in clicks if since <= ts < as_of)
    return impression_counts, click_counts


@log_lineage(
    inputs=[user_impressions_7d, user_clicks_7d],
    outputs=[user_ctr_7d],
    name="calculate_user_ctr_job_v1.0",
    version="1.0",
    description="Divides 7-day clicks by 7-day impressions per user",
    compute_framework="pandas",
)
def calculate_user_ctr(
    impressions_7d: Counter[int], clicks_7d: Counter[int], users: Iterable[int]
) -> dict[int, float]:
    """CTR per user; users without impressions get 0.0 instead of a division by zero."""
    return {
        user: (clicks_7d[user] / impressions_7d[user]) if impressions_7d[user] else 0.0
        for user in users
    }


# --- synthetic data -----------------------------------------------------------------------------
def make_data(
    users: int, seed: int, as_of: dt.datetime
) -> tuple[list[Event], list[Event], list[tuple[int, str, dt.date]]]:
    rng = random.Random(seed)
    countries = ["DE", "FR", "US", "BR", "IN", "JP"]
    profiles = [
        (u, rng.choice(countries), (as_of - dt.timedelta(days=rng.randint(8, 900))).date())
        for u in range(users)
    ]
    impressions: list[Event] = []
    clicks: list[Event] = []
    window = 7 * 24 * 3600
    for user in range(users):
        propensity = rng.betavariate(1.2, 30)  # most users rarely click
        for _ in range(rng.randint(0, 40)):  # some users see nothing: their CTR must be 0.0
            ts = as_of - dt.timedelta(seconds=rng.randint(1, window + 86400))  # some fall outside
            ad = rng.randint(1, 500)
            impressions.append((user, ts, ad))
            if rng.random() < propensity:
                clicks.append((user, ts + dt.timedelta(seconds=rng.randint(1, 120)), ad))
    return impressions, clicks, profiles


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--svg", default="lineage.svg", help="where to draw the graph")
    args = parser.parse_args(argv)

    as_of = dt.datetime(2026, 11, 24, tzinfo=dt.timezone.utc)
    impressions, clicks, profiles = make_data(args.users, args.seed, as_of)
    register(user_profiles)  # read by no transformation yet, still part of the lineage

    impression_counts, click_counts = calculate_user_counts_7d(impressions, clicks, as_of)
    ctr = calculate_user_ctr(impression_counts, click_counts, [p[0] for p in profiles])
    lineage_sdk.flush()

    active = [c for c in ctr.values() if c > 0]
    print(
        f"{len(impressions):,} impressions, {len(clicks):,} clicks, {len(profiles):,} users; "
        f"mean CTR of clicking users {sum(active) / max(len(active), 1):.3f}"
    )
    registry = lineage_sdk.registry_dict(None)
    print("lineage_registry =", json.dumps(registry, indent=2, ensure_ascii=False))

    graph = lineage_sdk.load_graph()
    print("upstream(user_ctr_7d):", graph.upstream("user_ctr_7d"))
    print("impact(raw_clicks_kafka_topic):", graph.impact("raw_clicks_kafka_topic"))
    print("impact(raw_clicks_kafka_topic.ad_id):", graph.impact("raw_clicks_kafka_topic.ad_id"))
    draw(graph, args.svg)


def draw(graph: lineage_sdk.LineageGraph, svg: str) -> None:
    """Draw the graph to ``svg``; without graphviz's ``dot``, write the DOT source instead."""
    try:
        path = graph.render(svg)
    except DotNotFoundError as exc:
        dot_path = Path(svg).with_suffix(".dot")
        graph.render(dot_path, format="dot")
        print(f"{exc}\nDOT written to {dot_path.resolve()}")
    else:
        print(f"graph drawn to {path.resolve()}")


if __name__ == "__main__":
    main()
