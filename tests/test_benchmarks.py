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
    for section in ("## overhead", "## throughput", "## queries", "## import", "## git"):
        assert section in text
    assert "quick mode" in text
    verdicts = [
        line for line in result.stdout.splitlines() if line.strip().startswith(("PASS", "FAIL"))
    ]
    assert len(verdicts) >= 12
