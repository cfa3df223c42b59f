"""The ``lineage`` console script, run as a real process against real stores."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

import lineage_sdk
from lineage_sdk import DataSource, Feature, log_lineage

from .helpers import COUNTS, CTR, cli, run_seed


@pytest.fixture
def store(tmp_path: Path) -> str:
    target = f"sqlite:{tmp_path / 'seed.db'}"
    lineage_sdk.configure(target, on_error="raise")
    run_seed()
    lineage_sdk.flush()
    return target


def test_upstream_prints_one_id_per_line(store: str) -> None:
    result = cli("upstream", "user_impressions_7d", "--store", store)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [COUNTS, "raw_impressions_kafka_topic"]


def test_downstream_with_depth_and_json(store: str) -> None:
    result = cli("--store", store, "downstream", "raw_clicks_kafka_topic", "--depth", "2", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [
        {"id": COUNTS, "kind": "Transformation"},
        {"id": "user_clicks_7d", "kind": "Feature"},
    ]


def test_an_unknown_id_exits_1_with_did_you_mean(store: str) -> None:
    result = cli("upstream", "user_ctr_7", "--store", store)
    assert result.returncode == 1
    assert "did you mean 'user_ctr_7d'" in result.stderr


def test_usage_and_configuration_errors_exit_2(store: str, tmp_path: Path) -> None:
    assert cli("upstream").returncode == 2
    assert cli("upstream", "x", "--depth", "0", "--store", store).returncode == 2
    missing = cli("runs", "--store", f"sqlite:{tmp_path / 'missing.db'}")
    assert missing.returncode == 2 and "no lineage store" in missing.stderr
    bad = cli("runs", "--store", "ftp;//x")
    assert bad.returncode == 2 and "accepted:" in bad.stderr


def test_default_store_comes_from_lineage_sink_then_the_working_directory(
    store: str, tmp_path: Path
) -> None:
    from_env = cli(
        "upstream", "user_ctr_7d", "--depth", "1", env={"LINEAGE_SINK": f"memory,{store}"}
    )
    assert from_env.stdout.splitlines() == [CTR]
    with (
        sqlite3.connect(store.split(":", 1)[1]) as src,
        sqlite3.connect(tmp_path / "lineage.db") as dst,
    ):
        src.backup(dst)  # a plain copy would miss what still sits in the WAL
    in_cwd = cli("upstream", "user_ctr_7d", "--depth", "1", cwd=tmp_path)
    assert in_cwd.stdout.splitlines() == [CTR]


def test_runs_table_is_aligned_and_filterable(store: str) -> None:
    result = cli("runs", "--store", store)
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["started", "(UTC)", "transformation"]
    assert len(lines) == 4
    col = lines[0].index("status")
    assert {line[col : col + 9].strip() for line in lines[2:]} == {"completed"}
    only = cli("runs", "--store", store, "--transformation", COUNTS, "--json")
    [run] = json.loads(only.stdout)["runs"]
    assert run["transformation"] == COUNTS and run["version"] == "1.2"
    failed = json.loads(cli("runs", "--store", store, "--status", "failed", "--json").stdout)
    assert failed == {"runs": [], "limit": 20, "truncated": False}


def test_show_a_transformation_and_a_feature(store: str) -> None:
    shown = json.loads(cli("show", COUNTS, "--store", store, "--json").stdout)
    assert shown["kind"] == "Transformation" and shown["compute_framework"] == "Spark"
    assert shown["outputs"] == ["user_clicks_7d", "user_impressions_7d"]
    assert len(shown["recent_runs"]) == 1 and shown["versions"][0]["version"] == "1.2"
    text = cli("show", "user_ctr_7d", "--store", store).stdout
    assert "value_type" in text and "float" in text and CTR in text


def test_graph_writes_svg_and_dot(store: str, tmp_path: Path) -> None:
    dot = cli("graph", "--store", store)
    assert dot.returncode == 0 and dot.stdout.startswith("digraph lineage")
    focused = cli("graph", "--store", store, "--focus", "user_impressions_7d", "--depth", "1")
    assert "raw_clicks_kafka_topic" not in focused.stdout
    if shutil.which("dot"):
        out = tmp_path / "g.svg"
        result = cli("graph", "--store", store, "-o", str(out))
        assert result.returncode == 0 and out.read_bytes().startswith(b"<?xml")


def test_export_json_lines_and_registry(store: str, tmp_path: Path) -> None:
    lines = cli("export", "--format", "json", "--store", store).stdout.splitlines()
    types = [json.loads(line)["record_type"] for line in lines]
    assert types.count("run") == 2 and types.count("data_source") == 3
    out = tmp_path / "registry.json"
    cli("export", "--format", "registry", "--store", store, "-o", str(out))
    registry = json.loads(out.read_text())
    assert registry["user_impressions_7d"]["generated_by"] == {
        "transformation_id": COUNTS,
        "inputs": ["raw_impressions_kafka_topic"],
    }
    assert registry[CTR]["details"]["compute_framework"] == "pandas"


def test_doctor_reports_configuration_store_and_git(store: str, tmp_path: Path) -> None:
    result = cli("doctor", "--json", env={"LINEAGE_SINK": store}, cwd=tmp_path)
    report = json.loads(result.stdout)
    assert result.returncode == 0, report
    assert report["settings"]["sinks"] == [store]
    assert report["sinks"][0]["runs"] == 2 and report["git"] is None
    bad = cli("doctor", env={"LINEAGE_SINK": "json:"}, cwd=tmp_path)
    assert bad.returncode == 1 and "problem: LINEAGE_SINK='json:'" in bad.stdout


@pytest.mark.parametrize(
    "args",
    [[], ["graph"], ["upstream"], ["downstream"], ["show"], ["runs"], ["export"], ["doctor"]],
)
def test_help_on_every_level(args: list[str]) -> None:
    result = cli(*args, "--help")
    assert result.returncode == 0 and "usage: lineage" in result.stdout


def test_hostile_ids_cannot_forge_terminal_lines(tmp_path: Path) -> None:
    target = f"json:{tmp_path / 'h.jsonl'}"
    lineage_sdk.configure(target)
    evil = "evil\nuser_ctr_7d\x1b[2J"

    @log_lineage(inputs=[DataSource(evil, type="t")], outputs=[Feature("out")], name="t")
    def job() -> None:
        pass

    job()
    lines = cli("upstream", "out", "--store", target).stdout.splitlines()
    assert lines == ["evil\\nuser_ctr_7d\\x1b[2J", "t"]  # sorted by id; escaped, one line
    exact = json.loads(cli("upstream", "out", "--store", target, "--json").stdout)
    assert exact[0]["id"] == evil


def test_doctor_and_the_default_store_follow_the_project_file(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    work = root / "jobs" / "daily"
    work.mkdir(parents=True)
    (root / "pyproject.toml").write_text('[tool.lineage]\nsink = "json:lineage.jsonl"\n')
    store = root / "lineage.jsonl"
    report = json.loads(cli("doctor", "--json", cwd=work).stdout)
    assert report["settings"]["sinks"] == [f"json:{store}"]
    assert report["store_origin"] == str(root / "pyproject.toml")
    human = cli("doctor", cwd=work).stdout
    assert "sinks from" in human and str(root / "pyproject.toml") in human
    default = json.loads(cli("doctor", "--json", cwd=tmp_path).stdout)
    assert default["store_origin"].startswith("default")
    from lineage_sdk.cli import default_store

    assert default_store({}, work) == f"json:{store}"
    assert default_store({"LINEAGE_SINK": "sqlite:x.db"}, work) == f"sqlite:{work / 'x.db'}"
