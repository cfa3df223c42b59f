"""One writer of the multi-process ingest benchmark (``python -m benchmarks.ingest_worker``).

Usage: ``STORE RUNS``. Imports, configures and warms up, prints ``ready``, waits for a line on
stdin (the start signal, so interpreter start-up is not timed), makes RUNS runs with async
delivery, flushes, and prints the wall-clock time it finished, the CPU time it spent on them (all
its threads) and how many runs were dropped.
"""

from __future__ import annotations

import json
import sys
import time

import lineage_sdk

from .overhead import lineage_work


def main(store: str, runs: int) -> None:
    lineage_sdk.configure(
        f"sqlite:{store}", async_delivery=True, queue_size=runs + 10, on_error="warn"
    )
    lineage_work(0)
    lineage_sdk.flush()
    print("ready", flush=True)
    sys.stdin.readline()
    cpu = time.process_time()  # every thread's: the caller's and the delivery worker's
    for i in range(runs):
        lineage_work(i)
    lineage_sdk.flush()
    done = time.time()
    cpu = time.process_time() - cpu
    dropped = lineage_sdk.stats()["dropped"]
    print(json.dumps({"done": done, "cpu": cpu, "dropped": dropped}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
