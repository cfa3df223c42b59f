"""Regenerates the store-version-5 fixtures: ``python tests/data/make_store_v5.py``.

These files were written by lineage-sdk at commit 2a26b5c (store version 5: the narrow layout
with revisions and processes, each run's inputs and outputs in ``run_inputs`` / ``run_outputs``)
from the same pipeline as the 0.1 fixtures (make_stores_0_1.py). The tests read them with the
current release, and a writer upgrades a copy in place. Never regenerate them with a later
release: they pin what store version 5 held. The JSON-lines twin is the SQLite file's oracle.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import lineage_sdk
from lineage_sdk import DataSource, _runtime
from lineage_sdk.sinks import JsonFileSink, SQLiteSink

from make_stores_0_1 import ctr_job, dynamic_job, failing_job  # type: ignore[import-not-found]

HERE = Path(__file__).parent
SQLITE = HERE / "store-v5.sqlite"
JSONL = HERE / "store-v5.jsonl"


def main() -> None:
    for path in (SQLITE, JSONL):
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
    shutil.move(tmp / "s.sqlite", SQLITE)
    shutil.move(tmp / "s.jsonl", JSONL)
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
