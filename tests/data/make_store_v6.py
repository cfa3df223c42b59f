"""Regenerates the store-version-6 fixtures: ``python tests/data/make_store_v6.py``.

These files were written by lineage-sdk at commit 4d001a6 (store version 6: runs in a rowid
table keyed by run_id plus runs_by_transformation, every run row carrying its own JSON and its
revision's version and git columns; inputs and outputs once per revision in ``revision_io``)
from the same pipeline as the 0.1 fixtures (make_stores_0_1.py). The tests read them with the
current release, and a writer upgrades a copy in place. Never regenerate them with a later
release: they pin what store version 6 held. The JSON-lines twin is the SQLite file's oracle.
"""

from __future__ import annotations

from pathlib import Path

from make_stores_0_1 import write_stores  # type: ignore[import-not-found]

HERE = Path(__file__).parent
SQLITE = HERE / "store-v6.sqlite"
JSONL = HERE / "store-v6.jsonl"


def main() -> None:
    write_stores(SQLITE, JSONL)


if __name__ == "__main__":
    main()
