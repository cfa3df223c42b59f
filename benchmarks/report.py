"""Measurements, targets and the report: one table on the terminal and BENCHMARKS.md."""

from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
import sys
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path


@dataclass
class Row:
    """One measured quantity: the median of its samples, with the spread (min .. max)."""

    section: str
    name: str
    samples: list[float]
    unit: str
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def cell(self) -> str:
        low, high = min(self.samples), max(self.samples)
        return f"{fmt(self.median, self.unit)} ({fmt(low, self.unit)} .. {fmt(high, self.unit)})"


@dataclass
class Target:
    """A ratio measured in this run against its limit."""

    name: str
    value: float
    limit: float
    higher_is_better: bool = False
    detail: str = ""

    @property
    def passed(self) -> bool:
        return self.value >= self.limit if self.higher_is_better else self.value <= self.limit

    def line(self) -> str:
        op = ">=" if self.higher_is_better else "<="
        verdict = "PASS" if self.passed else "FAIL"
        detail = f"  [{self.detail}]" if self.detail else ""
        return f"{verdict}  {self.name}: {self.value:.3g} {op} {self.limit:g}{detail}"


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, section: str, name: str, samples: list[float], unit: str, note: str = "") -> Row:
        row = Row(section, name, list(samples), unit, note)
        self.rows.append(row)
        print(f"  {section:<11} {name:<58} {row.cell()}", flush=True)
        return row

    def target(
        self,
        name: str,
        value: float,
        limit: float,
        *,
        higher_is_better: bool = False,
        detail: str = "",
    ) -> Target:
        t = Target(name, value, limit, higher_is_better, detail)
        self.targets.append(t)
        print(f"  {t.line()}", flush=True)
        return t


def fmt(value: float, unit: str) -> str:
    if unit == "s":
        if value < 1e-6:
            return f"{value * 1e9:.0f} ns"
        if value < 1e-3:
            return f"{value * 1e6:.2f} µs"
        if value < 1:
            return f"{value * 1e3:.2f} ms"
        return f"{value:.2f} s"
    if unit == "runs/s":
        return f"{value:,.0f} runs/s"
    if unit == "MiB":
        return f"{value:.1f} MiB"
    return f"{value:.3g} {unit}"


def _versions() -> dict[str, str]:
    out = {}
    for name in (
        "feature-lineage-sdk",
        "wrapt",
        "attrs",
        "cattrs",
        "opentelemetry-sdk",
        "networkx",
    ):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def write_markdown(report: Report, path: Path, *, quick: bool, seconds: float) -> None:
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m benchmarks`). Every ratio compares numbers measured",
        "in the same run on the same machine; absolute times only describe this machine. Values",
        "are the median of the repeats, with the spread (min .. max) in brackets. A per-call",
        "target is the median of per-repeat ratios (each repeat measures every variant back to",
        "back, so the machine's drift between repeats cancels out).",
        "",
        f"- date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC"
        + (" — **quick mode** (small sizes, for CI; not representative)" if quick else ""),
        f"- machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} "
        f"{platform.release()}",
        f"- Python {platform.python_version()} ({sys.implementation.name})",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in _versions().items()),
        f"- total time: {seconds:.0f} s",
        "",
        "## Targets",
        "",
        "| verdict | target | measured | limit |",
        "| --- | --- | --- | --- |",
    ]
    for t in report.targets:
        op = ">=" if t.higher_is_better else "<="
        detail = f" ({t.detail})" if t.detail else ""
        lines.append(
            f"| {'PASS' if t.passed else '**FAIL**'} | {t.name}{detail} | {t.value:.3g} "
            f"| {op} {t.limit:g} |"
        )
    section = None
    for row in report.rows:
        if row.section != section:
            section = row.section
            lines += [
                "",
                f"## {section}",
                "",
                "| measurement | median (min .. max) | note |",
                "| --- | --- | --- |",
            ]
        lines.append(f"| {row.name} | {row.cell()} | {row.note} |")
    if report.notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in report.notes]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
