"""``python -m benchmarks [--quick] [--out BENCHMARKS.md] [--only SECTION ...]``

Measures lineage-sdk against baselines taken in the same run, prints one table with PASS/FAIL per
target, and writes the report. ``--quick`` uses small sizes so CI can keep this code from rotting;
its numbers mean little. The exit code is 0 whatever the verdicts: timings are reported, never
asserted.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path

from . import overhead, queries, startup, throughput
from .report import Report, write_markdown

SECTIONS = {
    "overhead": overhead.run,
    "throughput": throughput.run,
    "queries": queries.run,
    "import": startup.run_imports,
    "git": startup.run_git,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (CI)")
    parser.add_argument(
        "--out", default=str(Path(__file__).resolve().parent.parent / "BENCHMARKS.md")
    )
    parser.add_argument("--only", nargs="*", choices=list(SECTIONS), help="run these sections")
    args = parser.parse_args(argv)
    logging.getLogger("lineage_sdk").setLevel(logging.ERROR)
    os.chdir(tempfile.mkdtemp(prefix="lineage-bench-cwd-"))  # stores never land in the checkout
    report = Report()
    started = time.perf_counter()
    for name, section in SECTIONS.items():
        if args.only and name not in args.only:
            continue
        print(f"== {name}", flush=True)
        section(report, quick=args.quick)
    seconds = time.perf_counter() - started
    print("\n== targets")
    for target in report.targets:
        print(f"  {target.line()}")
    write_markdown(report, Path(args.out), quick=args.quick, seconds=seconds)
    print(f"\nwrote {args.out} ({seconds:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
