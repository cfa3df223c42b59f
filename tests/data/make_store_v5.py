"""Regenerates the store-version-5 fixtures: ``python tests/data/make_store_v5.py``.

These files were written by lineage-sdk at commit 2a26b5c (store version 5: the narrow layout
with revisions and processes, each run's inputs and outputs in ``run_inputs`` / ``run_outputs``)
from the same pipeline as the 0.1 fixtures (make_stores_0_1.py). The tests read them with the
current release, and a writer upgrades a copy in place. Never regenerate them with a later
release: they pin what store version 5 held. The JSON-lines twin is the SQLite file's oracle.
"""

from __future__ import annotations

from pathlib import Path

from make_stores_0_1 import write_stores  # type: ignore[import-not-found]

HERE = Path(__file__).parent
SQLITE = HERE / "store-v5.sqlite"
JSONL = HERE / "store-v5.jsonl"


def main() -> None:
    write_stores(SQLITE, JSONL)


if __name__ == "__main__":
    main()
