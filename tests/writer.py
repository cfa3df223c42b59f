"""A worker process for the store tests: ``python -m tests.writer RUNS [forever|shared-nodes]``.

Lineage goes where the environment says (LINEAGE_SINK, LINEAGE_ASYNC...). With ``forever`` it
keeps writing until killed, printing one line once the first run is stored. With
``shared-nodes`` it writes batches straight to the sink, each re-declaring the same 40 nodes in a
random order with 10 runs whose edges other writers write too (a deadlock would show here).
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


def shared_nodes(runs: int) -> None:
    import datetime as dt
    import random
    import uuid
    from pathlib import Path

    from lineage_sdk.config import settings_from_env
    from lineage_sdk.records import Record, Run
    from lineage_sdk.sinks import build_sink

    settings = settings_from_env(os.environ, Path.cwd())
    (sink,) = [build_sink(t, settings) for t in settings.sinks]
    sources = [DataSource(f"shared_source_{i}", type="table") for i in range(20)]
    features = [Feature(f"shared_feature_{i}") for i in range(20)]
    rng = random.Random(os.getpid())
    for _ in range(runs // 10):
        nodes: list[Record] = [*sources, *features]
        rng.shuffle(nodes)
        now = dt.datetime.now(dt.timezone.utc)
        batch = list(nodes)
        for _ in range(10):
            ins = rng.sample([s.id for s in sources], 3)
            outs = rng.sample([f.id for f in features], 2)
            batch.append(
                Run(
                    uuid.uuid4().hex,
                    f"shared_job_{rng.randrange(4)}",
                    "completed",
                    now,
                    now,
                    0.0,
                    inputs=tuple(ins),
                    outputs=tuple(outs),
                    derivation=[(o, ins) for o in outs],
                )
            )
        sink.emit(batch)
    sink.close()


def main() -> None:
    runs = int(sys.argv[1])
    if len(sys.argv) > 2 and sys.argv[2] == "shared-nodes":
        shared_nodes(runs)
        return
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
