"""The complete command line: every subcommand on real stores, through ``main(argv, out)``."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import pytest

import lineage_sdk
from lineage_sdk import CodeRef, GitInfo, Run, SQLiteSink
from lineage_sdk.cli import main

from .helpers import COUNTS, CTR, UTC, make_run, run_seed


def lineage(*argv: str) -> tuple[int, str]:
    """Run the command in this process: (exit code, stdout)."""
    out = io.StringIO()
    code = main(list(argv), out)
    return code, out.getvalue()


def test_impact_path_orphans_and_cycles(seed_db: str) -> None:
    assert lineage("impact", "raw_clicks_kafka_topic", "--store", seed_db) == (
        0,
        "user_clicks_7d\nuser_ctr_7d\n",
    )
    code, out = lineage("path", "raw_clicks_kafka_topic", "user_ctr_7d", "--store", seed_db)
    assert code == 0
    assert out.split() == ["raw_clicks_kafka_topic", COUNTS, "user_clicks_7d", CTR, "user_ctr_7d"]
    code, out = lineage("path", "user_ctr_7d", "raw_clicks_kafka_topic", "--store", seed_db)
    assert code == 1 and out == "no path from user_ctr_7d to raw_clicks_kafka_topic\n"
    code, out = lineage("orphans", "--store", seed_db, "--json")
    assert json.loads(out) == [{"id": "user_profiles_postgres_table", "kind": "DataSource"}]
    assert lineage("cycles", "--store", seed_db) == (0, "no cycles\n")
    assert lineage("cycles", "--store", seed_db, "--json") == (0, "[]\n")


def test_versions_lists_the_code_versions_and_refuses_a_feature(
    seed_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = lineage("versions", COUNTS, "--store", seed_db, "--json")
    [version] = json.loads(out)
    assert code == 0 and version["version"] == "1.2" and version["runs"] == 1
    assert lineage("versions", COUNTS, "--store", seed_db)[1].splitlines()[0].startswith("version")
    assert lineage("versions", "user_ctr_7d", "--store", seed_db)[0] == 2
    assert "is a Feature, not a transformation" in capsys.readouterr().err


def test_a_bare_store_path_is_read_by_its_suffix(seed_db: str, tmp_path: Path) -> None:
    assert lineage("upstream", "user_clicks_7d", "--store", seed_db)[0] == 0
    lineage_sdk.configure(f"json:{tmp_path / 'seed.jsonl'}", on_error="raise")
    run_seed()
    lineage_sdk.flush()
    code, out = lineage("upstream", "user_clicks_7d", "--store", str(tmp_path / "seed.jsonl"))
    assert code == 0 and out.split() == [COUNTS, "raw_clicks_kafka_topic"]


@pytest.mark.parametrize(
    "argv",
    [
        ["export", "--format", "json"],
        ["completion", "bash"],
        ["graph"],  # DOT on stdout is not JSON; with -o FILE it reports the file
    ],
)
def test_json_is_refused_where_the_output_is_not_json(
    seed_db: str, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert lineage(*argv, "--json", "--store", seed_db) == (2, "")
    assert "--json does not apply" in capsys.readouterr().err


def test_json_is_honoured_by_every_other_command(seed_db: str, tmp_path: Path) -> None:
    for argv in (
        ["upstream", "user_ctr_7d"],
        ["downstream", "raw_clicks_kafka_topic"],
        ["impact", "raw_clicks_kafka_topic"],
        ["path", "raw_clicks_kafka_topic", "user_ctr_7d"],
        ["orphans"],
        ["cycles"],
        ["versions", CTR],
        ["show", "user_ctr_7d"],
        ["runs"],
        ["graph", "-o", str(tmp_path / "g.dot")],
        ["doctor"],
    ):
        code, out = lineage(*argv, "--json", "--store", seed_db)
        assert code in (0, 1), argv
        json.loads(out)  # one JSON document, whatever the command


def _many_runs(path: Path, count: int) -> None:
    sink = SQLiteSink(path)
    sink.emit([make_run("daily", [("report", ["raw"])], ["raw"], i) for i in range(count)])
    sink.close()


def test_runs_json_says_when_it_stopped_at_the_limit(tmp_path: Path) -> None:
    _many_runs(tmp_path / "many.db", 25)
    store = str(tmp_path / "many.db")
    page = json.loads(lineage("runs", "--store", store, "--json")[1])
    assert (len(page["runs"]), page["limit"], page["truncated"]) == (20, 20, True)
    assert page["runs"][0]["run_id"] == "run-24"  # newest first
    everything = json.loads(lineage("runs", "--store", store, "--json", "--limit", "30")[1])
    assert (len(everything["runs"]), everything["truncated"]) == (25, False)
    assert "showing the newest 20" in lineage("runs", "--store", store)[1]


def test_limit_zero_is_refused_with_a_message_about_the_limit(
    seed_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        lineage("runs", "--store", seed_db, "--limit", "0")
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--limit" in err and "1 or more" in err and "depth" not in err


def test_did_you_mean_ignores_case(seed_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert lineage("upstream", "USER_CTR_7D", "--store", seed_db)[0] == 1
    assert "did you mean 'user_ctr_7d'" in capsys.readouterr().err


def test_empty_results_say_so(seed_db: str, tmp_path: Path) -> None:
    assert lineage("downstream", "user_ctr_7d", "--store", seed_db) == (
        0,
        "nothing downstream of user_ctr_7d\n",
    )
    assert lineage("impact", "user_ctr_7d", "--store", seed_db)[1] == (
        "no feature depends on user_ctr_7d\n"
    )
    _, out = lineage("runs", "--store", seed_db, "--status", "failed")
    assert out == "no runs recorded (with status failed)\n"
    assert lineage("upstream", "user_ctr_7d", "--store", seed_db, "--json")[1] != "[]\n"


def test_include_failed_adds_the_failed_runs_edges(tmp_path: Path) -> None:
    sink = SQLiteSink(tmp_path / "f.db")
    sink.emit(
        [
            make_run("daily", [("report", ["clean.csv"])], ["clean.csv"], 1),
            make_run("daily", [("report", ["ghost.csv"])], ["ghost.csv"], 2, status="failed"),
        ]
    )
    sink.close()
    store = str(tmp_path / "f.db")
    assert lineage("upstream", "report", "--store", store)[1].split() == ["clean.csv", "daily"]
    assert lineage("upstream", "report", "--include-failed", "--store", store)[1].split() == [
        "clean.csv",
        "daily",
        "ghost.csv",
    ]
    assert lineage("runs", "--status", "failed", "--store", store)[1].count("failed") == 1


def test_show_run_id_reads_like_a_report(tmp_path: Path) -> None:
    at = dt.datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    run = Run(
        "run-failed-1",
        "daily",
        "failed",
        at,
        at + dt.timedelta(seconds=2),
        2.0,
        inputs=("clean.csv",),
        outputs=("report",),
        derivation=(("report", ("clean.csv",)),),
        error_type="builtins.ValueError",
        error_message="bad row 17",
        error_stack='  File "jobs/daily.py", line 14, in daily\n    raise ValueError("bad row 17")',
        code=CodeRef(
            module="jobs.daily", qualname="daily", file="jobs/daily.py", line_start=9, line_end=15
        ),
        git=GitInfo(
            commit="a" * 40,
            branch="main",
            tag="v0.1",
            dirty=True,
            remote_url="git@github.com:acme/jobs.git",
        ),
    )
    sink = SQLiteSink(tmp_path / "r.db")
    sink.emit([run])
    sink.close()
    store = str(tmp_path / "r.db")
    code, out = lineage("show", "run-failed-1", "--store", store)
    assert code == 0
    for expected in (
        "builtins.ValueError: bad row 17",
        "jobs/daily.py:9-15",
        "aaaaaaaaaa+dirty",
        "uncommitted changes  yes",
        f"https://github.com/acme/jobs/blob/{'a' * 40}/jobs/daily.py#L9-L15",
        "stack (most recent call last):",
        '    raise ValueError("bad row 17")',
        "report from",
    ):
        assert expected in out, expected
    shown = json.loads(lineage("show", "run-failed-1", "--store", store, "--json")[1])
    assert shown["kind"] == "Run" and shown["git"]["dirty"] is True
    assert shown["code_link"].endswith("/jobs/daily.py#L9-L15")
    assert "+dirty" in lineage("runs", "--store", store)[1]


@pytest.mark.parametrize(
    "command",
    [
        "graph",
        "upstream",
        "downstream",
        "impact",
        "path",
        "orphans",
        "cycles",
        "versions",
        "show",
        "runs",
        "export",
        "doctor",
        "completion",
        "ui",
    ],
)
def test_every_subcommand_help_has_a_description_and_an_example(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "examples:\n  lineage" in text or "examples:\n  eval" in text
    description = text.split("\n\n")[1]
    assert len(description) > 30 and not description.startswith(("positional", "options"))


def test_export_of_a_json_store_streams_declarations_then_runs(tmp_path: Path) -> None:
    lineage_sdk.configure(f"json:{tmp_path / 'seed.jsonl'}", on_error="raise")
    run_seed()
    lineage_sdk.flush()
    code, out = lineage("export", "--format", "json", "--store", str(tmp_path / "seed.jsonl"))
    kinds = [json.loads(line)["record_type"] for line in out.splitlines()]
    assert code == 0 and kinds.count("run") == 2
    assert kinds.index("run") == len(kinds) - 2  # every declaration before the first run
    stored = (tmp_path / "seed.jsonl").read_text().splitlines()
    assert sorted(out.splitlines()) == sorted(stored)
