"""A worker process for the store tests: ``python -m tests.writer RUNS [forever]``.

Lineage goes where the environment says (LINEAGE_SINK, LINEAGE_ASYNC...). With ``forever`` it
keeps writing until killed, printing one line once the first run is stored.
"""

from __future__ import annotations

import os
import sys

import lineage_sdk
from lineage_sdk import DataSource, Feature, log_lineage

source = DataSource("writer_source", type="kafka_topic", schema=["user_id", "ts"])
feature = Feature("writer_feature", value_type="int")


@log_lineage(inputs=[source], outputs=[feature], name="writer_job", worker=True)
def job(i: int) -> int:
    return i


def main() -> None:
    runs = int(sys.argv[1])
    forever = len(sys.argv) > 2 and sys.argv[2] == "forever"
    for i in range(runs):
        job(i)
    if forever:
        lineage_sdk.flush()
        print("ready", flush=True)
        i = 0
        while True:
            job(i)
            i += 1
    stats = lineage_sdk.stats()
    if stats["failed"] or stats["dropped"]:
        print(f"pid {os.getpid()}: {stats}", file=sys.stderr)
        sys.exit(3)


if __name__ == "__main__":
    main()
