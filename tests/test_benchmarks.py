"""The benchmark suite runs end to end in quick mode, so its code cannot rot.

Timings are never asserted: only that every section ran and the report was written.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .conftest import child_env

ROOT = Path(__file__).resolve().parent.parent


def test_quick_benchmarks_write_every_section_and_target(tmp_path: Path) -> None:
    out = tmp_path / "BENCHMARKS.md"
    env = child_env()
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    text = out.read_text()
    for section in (
        "## overhead",
        "## throughput",
        "## ingest",
        "## queries",
        "## changes",
        "## postgres",
        "## import",
        "## git",
    ):
        assert section in text
    assert "quick mode" in text
    verdicts = [
        line for line in result.stdout.splitlines() if line.strip().startswith(("PASS", "FAIL"))
    ]
    assert len(verdicts) >= 18
    assert "WAL pages per run" in text


def test_a_missed_target_fails_a_full_run_but_not_a_quick_one() -> None:
    code = (
        "from benchmarks.__main__ import exit_code\n"
        "from benchmarks.report import Report\n"
        "r = Report()\n"
        "r.target('fast enough', 0.5, 1.0)\n"
        "ok = exit_code(r, quick=False)\n"
        "r.target('too slow', 2.0, 1.0)\n"
        "print(ok, exit_code(r, quick=False), exit_code(r, quick=True))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=child_env(), capture_output=True, text=True
    )
    assert result.stdout.splitlines()[-1].split() == ["0", "1", "0"], result.stderr[-3000:]
    assert "1 of 2 targets missed" in result.stderr
