"""Regenerates the 0.1 store fixtures: ``python tests/data/make_stores_0_1.py`` (0.1 checked out).

These files were written by lineage-sdk 0.1.0 (store version 2, record schema 1) before the
narrow store layout of 0.2; the tests read them with the current release and expect the same
records and the same answers. Never regenerate them with a later release: they pin what 0.1 wrote.
Both stores receive the same records from one run of this script, so each is the other's oracle.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import lineage_sdk
from lineage_sdk import DataSource, Feature, _runtime, log_lineage
from lineage_sdk.sinks import JsonFileSink, SQLiteSink

HERE = Path(__file__).parent
SQLITE = HERE / "store-0.1.sqlite"
JSONL = HERE / "store-0.1.jsonl"

clicks = DataSource("raw_clicks", type="kafka_topic", schema=["user_id", "ts"], owner="growth")
views = DataSource("raw_views", type="kafka_topic")
ctr = Feature("user_ctr_7d", value_type="float", entity="user", description="7-day CTR")
count = Feature("user_clicks_7d", value_type="int", entity="user")
# Hostile text stays inert: quotes, a newline, SQL and a bidi control in ids and values.
odd = Feature("odd'; DROP TABLE runs;--\n\u202e", description='<b>"x"</b>')


@log_lineage(
    inputs=[clicks, views],
    outputs={ctr: [clicks, views], count: [clicks]},
    name="ctr_job",
    version="1.2",
    compute_framework="pandas",
    team="growth",
)
def ctr_job(n: int) -> int:
    """Compute click-through rates."""
    return child(n) + n


@log_lineage(inputs=[count], outputs=[odd], name="child_job")
def child(n: int) -> int:
    return n


@log_lineage(inputs=[clicks], outputs=[count], name="failing_job")
def failing_job() -> None:
    raise ValueError("bad partition 'x'")


@log_lineage(
    inputs=lambda args: [f"table_{args['day']}"], outputs=["daily_out"], name="dynamic_job"
)
def dynamic_job(day: str) -> str:
    return day


def main() -> None:
    write_stores(SQLITE, JSONL)


def write_stores(sqlite: Path, jsonl: Path) -> None:
    """Run the pipeline once into a new SQLite store and its JSON-lines twin at these paths."""
    for path in (sqlite, jsonl):
        path.unlink(missing_ok=True)
    tmp = HERE / "_tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    lineage_sdk.configure(
        [SQLiteSink(tmp / "s.sqlite"), JsonFileSink(tmp / "s.jsonl")],
        async_delivery=False,
        capture_git=False,
    )
    lineage_sdk.register(DataSource("reference_only", type="s3_bucket"))
    ctr_job(1)
    ctr_job(2)
    with contextlib.suppress(ValueError):
        failing_job()
    dynamic_job("2024_01_01")
    dynamic_job("2024_01_02")
    _runtime.reset()  # flushes and closes both sinks
    shutil.move(tmp / "s.sqlite", sqlite)
    shutil.move(tmp / "s.jsonl", jsonl)
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
