"""``lineage history / diff / stale / impact``, ``--as-of`` and ``graph --diff`` on the real git
history of ``tests.helpers.build_history``, on every store kind."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from lineage_sdk.cli import main
from lineage_sdk.graph import load_graph

from .conftest import Repo
from .helpers import PIPELINE_JOB, PipelineHistory, cli

COUNTS = "calculate_user_counts_7d"
CTR = "calculate_user_ctr"
FEATURES = ["user_clicks_7d", "user_ctr_7d", "user_impressions_7d"]


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out)
    return code, out.getvalue()


@pytest.fixture
def store(history_store: str) -> str:
    return history_store


@pytest.fixture
def in_repo(pipeline_history: PipelineHistory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Repo]:
    """The history's repository as the working directory, restored to its last commit after."""
    monkeypatch.chdir(pipeline_history.repo.root)
    yield pipeline_history.repo
    pipeline_history.repo.git("reset", "-q", "--hard", "HEAD")
    pipeline_history.repo.git("clean", "-qfd")


def test_history_of_the_counts_job(store: str) -> None:
    code, text = run("history", COUNTS, "--store", store)
    assert code == 0
    lines = text.splitlines()
    assert lines[0].split()[:4] == ["revision", "version", "source", "changed"]
    assert "code, version" in lines[3] and "v1.1" in lines[3] and " 1.1 " in lines[3]
    code, text = run("history", COUNTS, "--store", store, "--json")
    assert [r["changed"] for r in json.loads(text)["revisions"]] == [[], ["code", "version"]]
    code, text = run("history", "user_clicks_7d", "--store", store, "--json")
    assert [r["tag"] for r in json.loads(text)["runs"]] == ["v1.1", "v1.0"]


def test_as_of_on_the_query_commands(store: str) -> None:
    code, text = run("runs", "--store", store, "--as-of", "v1.0", "--json")
    assert code == 0
    assert [r["transformation"] for r in json.loads(text)["runs"]] == [
        CTR,
        COUNTS,
        "land_raw_clicks",
    ]
    code, text = run("upstream", "user_ctr_7d", "--store", store, "--as-of", "v1.0")
    assert code == 0 and COUNTS in text.splitlines()
    code, text = run("show", COUNTS, "--store", store, "--as-of", "v1.0", "--json")
    assert [v["version"] for v in json.loads(text)["versions"]] == ["1.0"]
    code, text = run("stale", "--store", store, "--as-of", "v1.0", "--fail")
    assert (code, text) == (0, "nothing is stale\n")


def test_as_of_that_names_nothing_is_a_usage_error(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = run("upstream", "user_ctr_7d", "--store", store, "--as-of", "v9.9")
    assert code == 2
    assert "--as-of: 'v9.9' names no recorded moment" in capsys.readouterr().err


def test_diff_json_is_the_graph_diff(store: str) -> None:
    code, text = run("diff", "v1.0", "v1.1", "--store", store, "--json")
    assert code == 0
    graph = load_graph(store)
    assert json.loads(text) == graph.diff("v1.0", "v1.1").to_json()
    graph.close()
    code, text = run("diff", "v1.0", "v1.1", "--store", store)
    assert "added: -" in text and f"{COUNTS}  code, version  1.0" in text
    assert f"affected: {', '.join(FEATURES)}" in text


def _vertex(dot: str, ident: str) -> str:
    (line,) = [ln for ln in dot.splitlines() if f"<b>{ident}</b>" in ln]
    return line


def test_graph_diff_marks_the_changed_transformation(store: str) -> None:
    code, dot = run("graph", "--diff", "v1.0", "v1.1", "--store", store)
    assert code == 0
    assert "#7048e8" in _vertex(dot, COUNTS) and "changed: code, version" in _vertex(dot, COUNTS)
    assert "#7048e8" not in _vertex(dot, CTR) and "stale" not in dot
    code, dot = run("graph", "--diff", "2000-01-01", "v1.0", "--store", store)
    assert "#2f9e44" in _vertex(dot, CTR) and "added" in _vertex(dot, "user_ctr_7d")
    assert len(re.findall(r'\[color="#2f9e44", penwidth=2\]', dot)) == 8  # every edge is new
    code, dot = run("graph", "--diff", "v1.0", "2000-01-01", "--store", store)
    assert 'style="filled,dashed"' in _vertex(dot, CTR) and "removed" in _vertex(dot, CTR)


def test_static_graph_marks_stale_features(store: str) -> None:
    code, dot = run("graph", "--store", store)
    assert code == 0
    assert "#f08c00" in _vertex(dot, "user_ctr_7d") and "stale" in _vertex(dot, "user_ctr_7d")
    assert "stale" not in _vertex(dot, "user_impressions_7d")
    code, dot = run("graph", "--store", store, "--as-of", "v1.0")
    assert "stale" not in dot


def test_stale_fail_is_a_ci_gate(store: str) -> None:
    result = cli("stale", "--fail", "--store", store)
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines()[2].split()[:2] == ["user_clicks_7d", "upstream_newer"]
    code, text = run("stale", "--store", store, "--json")
    assert code == 0
    assert [(e["id"], [r["kind"] for r in e["reasons"]]) for e in json.loads(text)] == [
        ("user_clicks_7d", ["upstream_newer"]),
        ("user_ctr_7d", ["upstream_newer", "upstream_newer", "upstream_stale"]),
    ]


def test_stale_check_code(store: str, in_repo: Repo) -> None:
    job = in_repo.root / PIPELINE_JOB
    job.write_text(job.read_text().replace("/ n for user", "/ max(n, 1) for user"))
    code, text = run("stale", "--store", store, "--check-code", "--json")
    assert code == 0
    ctr = next(e for e in json.loads(text) if e["id"] == "user_ctr_7d")
    assert "code_changed" in [r["kind"] for r in ctr["reasons"]]


def test_impact_of_the_working_tree_and_of_a_patch_file(
    store: str, in_repo: Repo, tmp_path: Path
) -> None:
    job = in_repo.root / PIPELINE_JOB
    job.write_text(job.read_text().replace("shown.get(user, 0) + 1", "shown.get(user, 0) + 2"))
    code, text = run("impact", "--git-diff", "HEAD", "--store", store, "--json")
    assert code == 0
    expected = {
        "transformations": [{"id": COUNTS, "file": PIPELINE_JOB, "lines": [32, 47]}],
        "affected": FEATURES,
    }
    assert json.loads(text) == expected
    patch = tmp_path / "pr.diff"
    patch.write_text(in_repo.git("diff", "HEAD") + "\n")
    code, text = run("impact", "--patch", str(patch), "--store", store, "--json")
    assert json.loads(text) == expected
    code, text = run("impact", "--git-diff", "HEAD", "--store", store)
    assert text.splitlines()[-1] == f"affected: {', '.join(FEATURES)}"
    code, text = run("impact", "raw_clicks_kafka_topic", "--store", store)
    assert text.splitlines() == ["user_clicks_7d", "user_ctr_7d"]


def test_impact_of_an_unknown_ref_is_a_usage_error(
    store: str, in_repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = run("impact", "--git-diff", "no-such-ref", "--store", store)
    assert code == 2
    assert "git diff 'no-such-ref' failed" in capsys.readouterr().err


def test_impact_options_extend_an_impact_command_registered_before() -> None:
    import argparse

    from lineage_sdk.cli.changes import impact_parser
    from lineage_sdk.cli.output import Result

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    by_id = sub.add_parser("impact")
    by_id.add_argument("id")
    by_id.set_defaults(handler=lambda args: Result(data=["by id", args.id]))
    impact_parser(sub, argparse.ArgumentParser(add_help=False))
    args = parser.parse_args(["impact", "raw_clicks_kafka_topic"])
    assert args.handler(args).data == ["by id", "raw_clicks_kafka_topic"]
    args = parser.parse_args(["impact", "--git-diff", "HEAD"])
    assert (args.id, args.git_diff, args.patch) == (None, "HEAD", None)


def test_hostile_ids_stay_inert_in_history_stale_and_the_drawing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import lineage_sdk
    from lineage_sdk import DataSource, Feature, log_lineage

    evil = 'job"\n<b>x</b>\u202e->{}'
    src = DataSource("src\nFAKE LINE", type="t")
    out = Feature('feat"]; evil -> x [', value_type="int")
    store = f"sqlite:{tmp_path / 'h.db'}"
    lineage_sdk.configure(store, on_error="raise")
    for version in ("1", "2"):

        @log_lineage(inputs=[src], outputs=[out], name=evil, version=version)
        def job() -> None:
            pass

        job()
    lineage_sdk.flush()
    code, text = run("history", evil, "--store", store)
    assert code == 0 and len(text.splitlines()) == 4  # header, rule, two revisions
    code, text = run("diff", "2000-01-01", "2100-01-01", "--store", store)
    assert code == 0 and 'added: job"\\n<b>x</b>' in text  # the newline shown escaped
    code, dot = run("graph", "--diff", "2000-01-01", "2100-01-01", "--store", store)
    assert code == 0 and dot.count(" -> ") == 2  # exactly the two real edges
    assert "<b>x</b>" not in dot and "&lt;b&gt;x&lt;/b&gt;" in dot
