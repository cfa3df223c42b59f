"""Import time in fresh interpreters, and git capture: first, cached, and as subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lineage_sdk.capture import git as git_capture

from .report import Report

ROOT = Path(__file__).resolve().parent.parent


def _import_seconds(module: str) -> float:
    code = (
        "import json, sys, time\n"
        f"t = time.perf_counter(); import {module}; t = time.perf_counter() - t\n"
        "print(json.dumps({'t': t, 'heavy': [m for m in ('graphviz', 'openlineage', 'cattrs') "
        "if m in sys.modules]}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=_child_env()
    )
    data = json.loads(out.stdout)
    _heavy[module] = data["heavy"]
    return float(data["t"])


_heavy: dict[str, list[str]] = {}
_pycache: list[str] = []  # made on first use, in the run's scratch folder


def _child_env() -> dict[str, str]:
    # Both modules are timed with their bytecode compiled, as an installed package has it: with
    # PYTHONDONTWRITEBYTECODE set (as on CI machines) an editable checkout would otherwise be
    # compiled from source on every import while the other comes with its .pyc files. The
    # bytecode goes to a temporary prefix, never into the checkout.
    if not _pycache:
        _pycache.append(tempfile.mkdtemp(prefix="pycache-"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = _pycache[0]
    return env


def run_imports(report: Report, *, quick: bool) -> None:
    repeats = 3 if quick else 9
    ours: list[float] = []
    otel: list[float] = []
    for module in ("lineage_sdk", "opentelemetry.sdk.trace"):
        _import_seconds(module)  # untimed: writes the bytecode of both
    for _ in range(repeats):  # interleaved, so disk caches favour neither
        ours.append(_import_seconds("lineage_sdk"))
        otel.append(_import_seconds("opentelemetry.sdk.trace"))
    ours_row = report.add("import", "import lineage_sdk (fresh interpreter)", ours, "s")
    otel_row = report.add("import", "import opentelemetry.sdk.trace (fresh interpreter)", otel, "s")
    report.target(
        "import lineage_sdk / import opentelemetry.sdk.trace",
        ours_row.median / otel_row.median,
        1.0,
    )
    heavy = _heavy.get("lineage_sdk", [])
    report.target(
        "graphviz, openlineage, cattrs imported by `import lineage_sdk`",
        float(len(heavy)),
        0,
        detail=", ".join(heavy) or "none",
    )


def run_git(report: Report, *, quick: bool) -> None:
    repeats = 5 if quick else 20
    n = 2_000 if quick else 20_000
    first: list[float] = []
    cached: list[float] = []
    subproc: list[float] = []
    for _ in range(repeats):
        git_capture._reset_caches()
        start = time.perf_counter()
        repo = git_capture.repository_for(ROOT)
        state = repo.state() if repo is not None else None
        first.append(time.perf_counter() - start)
        if repo is None or state is None:
            report.notes.append(f"{ROOT} is not a git repository: git capture not measured")
            return
        start = time.perf_counter()
        for _ in range(n):
            repo.state()
        cached.append((time.perf_counter() - start) / n)
        start = time.perf_counter()
        for args in (
            ["rev-parse", "HEAD"],
            ["describe", "--tags", "--always", "--dirty"],
            ["status", "--porcelain"],
        ):
            subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, check=False)
        subproc.append(time.perf_counter() - start)
    report.add("git", "first capture (files + git binary)", first, "s")
    cached_row = report.add(
        "git", "cached capture (stat of HEAD and the ref it points to)", cached, "s"
    )
    report.add("git", "git rev-parse + describe + status as subprocesses", subproc, "s")
    report.target("cached git capture, microseconds", cached_row.median * 1e6, 5.0)
