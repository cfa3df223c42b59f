"""Helpers shared by several test modules: the seed scenario, the real CLI, reading DOT back."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import lineage_sdk
from lineage_sdk import DataSource, Feature, log_lineage

from .conftest import child_env

COUNTS = "calculate_user_counts_7d_job_v1.2"
CTR = "calculate_user_ctr_job_v1.0"

impressions = DataSource(
    "raw_impressions_kafka_topic", type="kafka_topic", schema=["user_id", "timestamp", "ad_id"]
)
clicks = DataSource(
    "raw_clicks_kafka_topic", type="kafka_topic", schema=["user_id", "timestamp", "ad_id"]
)
profiles = DataSource(
    "user_profiles_postgres_table",
    type="postgres_table",
    schema=["user_id", "country", "registration_date"],
)
n_imp = Feature("user_impressions_7d", value_type="int", entity="user")
n_clk = Feature("user_clicks_7d", value_type="int", entity="user")
ctr = Feature("user_ctr_7d", value_type="float", entity="user")


def run_seed() -> None:
    @log_lineage(
        inputs=[impressions, clicks],
        outputs={n_imp: [impressions], n_clk: [clicks]},
        name=COUNTS,
        version="1.2",
        compute_framework="Spark",
    )
    def counts() -> None:
        pass

    @log_lineage(
        inputs=[n_imp, n_clk], outputs=[ctr], name=CTR, version="1.0", compute_framework="pandas"
    )
    def rate(fail: bool = False) -> None:
        if fail:
            raise ZeroDivisionError("no impressions")

    lineage_sdk.register(profiles)
    counts()
    rate()


def dot_json(source: str) -> dict:  # type: ignore[type-arg]
    out = subprocess.run(
        ["dot", "-Tjson"], input=source, capture_output=True, text=True, check=True
    )
    assert "Warning" not in out.stderr and "Error" not in out.stderr, out.stderr
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def title_of(label: str) -> str:
    match = re.match(r"^<b>(.*?)</b>", label, re.S)
    assert match, label
    return html.unescape(match.group(1).replace("<br/>", "\n"))


def shown(text: str) -> str:
    """How an id appears in a drawing: control characters become U+FFFD, CRLF a line break."""
    text = text.replace("\r\n", "\n")
    return "".join(c if c >= " " or c in "\n\t" else "\ufffd" for c in text)


LINEAGE = shutil.which("lineage", path=str(Path(sys.executable).parent)) or "lineage"


def cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = child_env(**(env or {}))
    return subprocess.run(
        [LINEAGE, *args], capture_output=True, text=True, cwd=cwd, env=full_env, timeout=60
    )
