"""The CTR example end to end: a real repo, the default store, the registry and the drawing."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import lineage_sdk
from lineage_sdk.graph.sql import SQLBackend

from .conftest import Repo, child_env

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "ctr_7d.py"
COUNTS = "calculate_user_counts_7d_job_v1.2"
CTR = "calculate_user_ctr_job_v1.0"


def test_ctr_example_writes_the_seed_registry_to_the_default_store(
    make_repo: Callable[..., Repo],
) -> None:
    repo = make_repo(remote="https://github.com/acme/feature-jobs.git")
    (repo.root / "jobs").mkdir()
    shutil.copy(EXAMPLE, repo.root / "jobs" / "user_aggregation.py")
    sha = repo.commit("jobs")
    repo.git("tag", "-a", "v1.2", "-m", "v1.2")
    env = child_env()
    result = subprocess.run(
        [sys.executable, "jobs/user_aggregation.py", "--users", "800"],
        cwd=repo.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    text = result.stdout
    registry = json.loads(text[text.index("{") : text.index("\nupstream(")])
    assert (repo.root / "lineage.db").exists()
    assert registry == lineage_sdk.registry_dict(f"sqlite:{repo.root / 'lineage.db'}")
    ref = "git://github.com/acme/feature-jobs/jobs/user_aggregation.py#tag=v1.2"
    assert registry[COUNTS] == {
        "type": "Transformation",
        "details": {
            "description": "Counts impressions and clicks per user over a 7-day window",
            "code_reference": ref,
            "compute_framework": "Spark",
        },
    }
    assert registry["user_clicks_7d"]["generated_by"] == {
        "transformation_id": COUNTS,
        "inputs": ["raw_clicks_kafka_topic"],
    }
    assert registry["user_ctr_7d"]["generated_by"] == {
        "transformation_id": CTR,
        "inputs": ["user_impressions_7d", "user_clicks_7d"],
    }
    assert registry["user_profiles_postgres_table"] == {
        "type": "DataSource",
        "details": {
            "id": "user_profiles_postgres_table",
            "type": "postgres_table",
            "schema": ["user_id", "country", "registration_date"],
            "description": "User profile attributes",
            "owner": "growth-team",
        },
    }
    assert "generated_by" not in registry["raw_clicks_kafka_topic"]
    graph = lineage_sdk.load_graph(f"sqlite:{repo.root / 'lineage.db'}")
    assert isinstance(graph.backend, SQLBackend)  # queries run in SQL, not in memory
    assert {r.git.commit for r in graph.runs() if r.git} == {sha}
    # Column level: the counts read user_id and timestamp, never ad_id.
    assert graph.impact("raw_clicks_kafka_topic.ad_id") == []
    assert graph.impact("raw_clicks_kafka_topic.timestamp") == ["user_clicks_7d", "user_ctr_7d"]
    assert "impact(raw_clicks_kafka_topic.ad_id): []" in text
    if shutil.which("dot"):
        assert (repo.root / "lineage.svg").read_bytes().startswith(b"<?xml")
        assert f"graph drawn to {repo.root / 'lineage.svg'}" in text
