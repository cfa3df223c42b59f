"""What changed, what is stale, what a patch hits: pinned answers on a real git history.

The history is built once per module in a temp git repository by running the pipeline as real
processes, writing to every store kind at once:

1. the seed pipeline (clicks landed, counts, CTR) at tag v1.0;
2. the counts job edited (code and version), tagged v1.1 and run again; the CTR job is not;
3. after an unrelated commit, the raw clicks (the counts job's clicks input) landed again;
4. one more commit, at which nothing runs.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from lineage_sdk.changes import (
    ChangeSource,
    RunsChangeSource,
    current_source_sha256,
    diff,
    git_diff,
    history,
    impact_of_patch,
    lines_at_ref,
    parse_patch,
    resolve_moment,
    stale,
)
from lineage_sdk.changes.model import revision_id, revision_key
from lineage_sdk.changes.sql import SQLChangeSource
from lineage_sdk.records import Run
from lineage_sdk.sinks.jsonfile import read_json_lines
from lineage_sdk.sinks.memory import MemorySink
from lineage_sdk.sinks.sqlite import connect, read_records

from .conftest import GIT_ENV, Repo, child_env, git, import_path

PIPELINE = Path(__file__).resolve().parent / "data" / "changes_pipeline.py"
COUNTS = "calculate_user_counts_7d"
CTR = "calculate_user_ctr"
LAND = "land_raw_clicks"
STORE_KINDS = ["json", "sqlite"]
JOB = "jobs/pipeline.py"


@attrs.frozen
class History:
    repo: Repo
    stores: dict[str, str]
    tags: dict[str, str]  # tag -> commit


def _run(repo: Repo, env: dict[str, str], *stages: str) -> None:
    result = subprocess.run(
        [sys.executable, JOB, *stages],
        cwd=repo.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def edit_counts(text: str) -> str:
    """Version 1.1 of the counts job: a different body and version."""
    return text.replace(
        '    name="calculate_user_counts_7d",\n    version="1.0",',
        '    name="calculate_user_counts_7d",\n    version="1.1",',
    ).replace(
        "        clicked[user] = clicked.get(user, 0) + 1\n",
        "        if user >= 0:  # v1.1: ignore anonymous users\n"
        "            clicked[user] = clicked.get(user, 0) + 1\n",
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> History:
    base = tmp_path_factory.mktemp("changes")
    home = base / "home"
    home.mkdir()
    root = base / "feature-jobs"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    repo = Repo(root)
    (root / "jobs").mkdir()
    shutil.copy(PIPELINE, root / JOB)
    repo.commit("seed pipeline")
    repo.git("tag", "-a", "v1.0", "-m", "v1.0")
    stores = {"json": f"json:{base / 'lineage.jsonl'}", "sqlite": f"sqlite:{base / 'lineage.db'}"}
    env = child_env(LINEAGE_SINK=",".join(stores.values()), HOME=str(home), **GIT_ENV)
    _run(repo, env, "clicks", "counts", "ctr")
    job = root / JOB
    job.write_text(edit_counts(job.read_text()))
    repo.commit("counts: ignore anonymous users")
    repo.git("tag", "-a", "v1.1", "-m", "v1.1")
    _run(repo, env, "counts")
    (root / "README.md").write_text("feature jobs\n")
    repo.commit("readme")
    _run(repo, env, "clicks")
    (root / "NOTES.md").write_text("nothing ran here\n")
    repo.commit("notes")  # HEAD: a commit at which nothing ran
    tags = {t: repo.git("rev-parse", f"{t}^{{commit}}") for t in ("v1.0", "v1.1")}
    return History(repo, stores, tags)


def runs_of(store: str) -> list[Run]:
    scheme, _, path = store.partition(":")
    records = read_json_lines(path) if scheme == "json" else read_records(path)
    return [r for r in records if isinstance(r, Run)]


@pytest.fixture(params=STORE_KINDS)
def store(request: pytest.FixtureRequest, built: History) -> str:
    return built.stores[request.param]


@pytest.fixture
def source(store: str) -> Iterator[ChangeSource]:
    """The store's own answers: SQL for an SQL store, the runs in memory otherwise."""
    scheme, _, path = store.partition(":")
    if scheme == "json":
        yield RunsChangeSource(runs_of(store))
        return
    conn = connect(path, create=False)
    yield SQLChangeSource(conn.execute)
    conn.close()


def kind_of(node: str) -> str | None:
    return "DataSource" if node.startswith("raw_") else "Feature"


@pytest.fixture
def clean_tree(built: History) -> Iterator[Repo]:
    """The repository, restored to its last commit afterwards (tests edit the working tree)."""
    yield built.repo
    built.repo.git("reset", "-q", "--hard", "HEAD")
    built.repo.git("clean", "-qfd")


# --- history ------------------------------------------------------------------------------------
def test_history_of_the_counts_job_has_two_revisions_code_and_version_changed(
    built: History, source: ChangeSource
) -> None:
    revs = history(source, COUNTS, "Transformation", None).revisions
    assert [r.version for r in revs] == ["1.0", "1.1"]
    assert [r.changed for r in revs] == [(), ("code", "version")]
    assert [r.first_run.tag for r in revs] == ["v1.0", "v1.1"]
    assert [r.first_run.commit for r in revs] == [built.tags["v1.0"], built.tags["v1.1"]]
    assert [r.runs for r in revs] == [1, 1]
    assert revs[0].source_sha256 != revs[1].source_sha256
    assert revs[1].derivation == (
        ("user_clicks_7d", ("raw_clicks_kafka_topic",)),
        ("user_impressions_7d", ("raw_impressions_kafka_topic",)),
    )
    assert revs[1].file == JOB


def test_history_of_the_ctr_job_is_one_revision(source: ChangeSource) -> None:
    (rev,) = history(source, CTR, "Transformation", None).revisions
    assert (rev.version, rev.changed, rev.runs, rev.first_run.tag) == ("1.0", (), 1, "v1.0")


def test_history_of_a_feature_lists_its_producing_runs_newest_first(
    source: ChangeSource,
) -> None:
    runs = history(source, "user_clicks_7d", "Feature", None).runs
    revs = history(source, COUNTS, "Transformation", None).revisions
    assert [p.run.tag for p in runs] == ["v1.1", "v1.0"]
    assert [p.revision for p in runs] == [revs[1].id, revs[0].id]
    assert runs[0].to_json()["version"] == "1.1"


def test_revision_ids_are_the_same_in_every_store(built: History) -> None:
    ids = {
        kind: [
            r.id
            for r in history(RunsChangeSource(runs_of(s)), COUNTS, "Transformation", None).revisions
        ]
        for kind, s in built.stores.items()
    }
    assert len({tuple(v) for v in ids.values()}) == 1


# --- as of --------------------------------------------------------------------------------------
def test_as_of_a_tag_is_the_last_run_at_its_commit(built: History, source: ChangeSource) -> None:
    runs = runs_of(built.stores["json"])
    by_commit = {}
    for run in runs:
        assert run.git is not None
        by_commit.setdefault(run.git.commit, []).append(run.ended_at)
    for tag, commit in built.tags.items():
        moment = resolve_moment(tag, source, cwd=built.repo.root)
        assert moment.at == max(by_commit[commit])
        # Without the repository, the tags recorded in the runs answer the same.
        assert resolve_moment(tag, source, cwd=built.repo.root.parent).at == moment.at
    short = built.tags["v1.1"][:10]
    assert resolve_moment(short, source, cwd=built.repo.root.parent).at == max(
        by_commit[built.tags["v1.1"]]
    )
    first = min(runs, key=lambda r: r.started_at)
    assert resolve_moment(first.run_id, source).at == first.ended_at
    assert resolve_moment("main", source, cwd=built.repo.root).at == max(r.ended_at for r in runs)


def test_as_of_rejects_what_names_no_moment(source: ChangeSource, built: History) -> None:
    from lineage_sdk.changes import MomentError

    with pytest.raises(MomentError, match="ISO-8601"):
        resolve_moment("v9.9", source, cwd=built.repo.root)
    with pytest.raises(MomentError, match="no run was recorded"):
        resolve_moment("HEAD", source, cwd=built.repo.root)
    assert resolve_moment("2026-11-24", source).at.isoformat() == "2026-11-24T00:00:00+00:00"


# --- diff ---------------------------------------------------------------------------------------
def test_diff_between_the_tags_pins_the_counts_change(built: History, source: ChangeSource) -> None:
    a = resolve_moment("v1.0", source, cwd=built.repo.root)
    b = resolve_moment("v1.1", source, cwd=built.repo.root)
    result = diff(source, a, b, kind_of).to_json()
    (change,) = result.pop("changed")
    assert result == {
        "from": {"when": "v1.0", "at": a.at.isoformat()},
        "to": {"when": "v1.1", "at": b.at.isoformat()},
        "added": [],
        "removed": [],
        "edges_added": [],
        "edges_removed": [],
        "affected": ["user_clicks_7d", "user_ctr_7d", "user_impressions_7d"],
    }
    revs = history(source, COUNTS, "Transformation", None).revisions
    assert change == {
        "id": COUNTS,
        "fields": ["code", "version"],
        "from": {
            "revision": revs[0].id,
            "version": "1.0",
            "source_sha256": revs[0].source_sha256,
            "commit": built.tags["v1.0"],
            "tag": "v1.0",
        },
        "to": {
            "revision": revs[1].id,
            "version": "1.1",
            "source_sha256": revs[1].source_sha256,
            "commit": built.tags["v1.1"],
            "tag": "v1.1",
        },
    }


def test_diff_backwards_and_from_nothing(built: History, source: ChangeSource) -> None:
    a = resolve_moment("v1.0", source, cwd=built.repo.root)
    b = resolve_moment("v1.1", source, cwd=built.repo.root)
    back = diff(source, b, a, kind_of)
    assert [c.fields for c in back.changed] == [("code", "version")]
    empty = resolve_moment("2000-01-01", source)
    grown = diff(source, empty, a, kind_of)
    assert grown.added == tuple(sorted((LAND, COUNTS, CTR)))
    assert ("raw_clicks_kafka_topic", "user_clicks_7d") in grown.edges_added
    assert diff(source, a, empty, kind_of).removed == grown.added


# --- stale --------------------------------------------------------------------------------------
def _reasons(result: list, node: str) -> list[str]:
    return [r.kind for e in result if e.id == node for r in e.reasons]


def test_stale_pins_every_reason(source: ChangeSource) -> None:
    result = stale(source)
    assert [e.id for e in result] == ["user_clicks_7d", "user_ctr_7d"]
    by_id = {e.id: e.to_json() for e in result}
    land = history(source, "raw_clicks_kafka_topic", "DataSource", None).runs[0].run
    counts = history(source, "user_clicks_7d", "Feature", None).runs[0].run
    ctr = history(source, "user_ctr_7d", "Feature", None).runs[0].run
    assert by_id["user_clicks_7d"] == {
        "id": "user_clicks_7d",
        "reasons": [
            {
                "kind": "upstream_newer",
                "detail": f"raw_clicks_kafka_topic was produced again by run {land.run_id} of "
                f"{LAND} at {land.ended_at.isoformat()}",
            }
        ],
        "produced_by": counts.run_id,
    }
    assert by_id["user_ctr_7d"]["produced_by"] == ctr.run_id
    assert by_id["user_ctr_7d"]["reasons"] == [
        {
            "kind": "upstream_newer",
            "detail": f"user_impressions_7d was produced again by run {counts.run_id} of "
            f"{COUNTS} at {counts.ended_at.isoformat()}",
        },
        {
            "kind": "upstream_newer",
            "detail": f"user_clicks_7d was produced again by run {counts.run_id} of "
            f"{COUNTS} at {counts.ended_at.isoformat()}",
        },
        {"kind": "upstream_stale", "detail": "user_clicks_7d is out of date"},
    ]


def test_stale_as_of_v1_1_is_only_the_ctr(built: History, source: ChangeSource) -> None:
    at = resolve_moment("v1.1", source, cwd=built.repo.root).at
    result = stale(source, until=at)
    assert [(e.id, [r.kind for r in e.reasons]) for e in result] == [
        ("user_ctr_7d", ["upstream_newer", "upstream_newer"])
    ]
    assert stale(source, until=resolve_moment("v1.0", source, cwd=built.repo.root).at) == []


def test_stale_check_code_sees_a_working_tree_edit(clean_tree: Repo, source: ChangeSource) -> None:
    assert _reasons(stale(source, check_code=clean_tree.root), "user_ctr_7d") == [
        "upstream_newer",
        "upstream_newer",
        "upstream_stale",
    ]
    job = clean_tree.root / JOB
    job.write_text(
        job.read_text().replace("clicked.get(user, 0) / n", "clicked.get(user, 0) / max(n, 1)")
    )
    result = stale(source, check_code=clean_tree.root)
    (code,) = [
        r for e in result if e.id == "user_ctr_7d" for r in e.reasons if r.kind == "code_changed"
    ]
    assert code.detail.startswith(f"{CTR} in {JOB} hashes ")
    assert "user_impressions_7d" not in [e.id for e in result]


# --- impact of a patch --------------------------------------------------------------------------
def test_impact_of_an_edit_inside_the_counts_job(clean_tree: Repo, source: ChangeSource) -> None:
    job = clean_tree.root / JOB
    job.write_text(
        job.read_text().replace(
            "shown[user] = shown.get(user, 0) + 1", "shown[user] = shown.get(user, 0) + 2"
        )
    )
    result = impact_of_patch(
        parse_patch(git_diff("HEAD", clean_tree.root)), source, kind_of
    ).to_json()
    rev = history(source, COUNTS, "Transformation", None).revisions[-1]
    assert result == {
        "transformations": [{"id": COUNTS, "file": JOB, "lines": [rev.line_start, rev.line_end]}],
        "affected": ["user_clicks_7d", "user_ctr_7d", "user_impressions_7d"],
    }
    assert (rev.line_start, rev.line_end) == (32, 47)


def test_impact_of_an_edit_elsewhere_in_the_file_touches_nothing(
    clean_tree: Repo, source: ChangeSource
) -> None:
    job = clean_tree.root / JOB
    job.write_text(job.read_text().replace("return [(i % 7, i % 3)", "return [(i % 5, i % 3)"))
    patch = git_diff("HEAD", clean_tree.root)
    assert "make_events" in patch or "i % 5" in patch
    assert impact_of_patch(parse_patch(patch), source, kind_of).to_json() == {
        "transformations": [],
        "affected": [],
    }


def test_impact_follows_a_moved_file(clean_tree: Repo, source: ChangeSource) -> None:
    (clean_tree.root / "pipelines").mkdir()
    clean_tree.git("mv", JOB, "pipelines/ctr.py")
    moved = clean_tree.root / "pipelines" / "ctr.py"
    moved.write_text(moved.read_text().replace("/ n for user", "/ n if n else 0.0 for user"))
    clean_tree.git("add", "-A")
    changes = parse_patch(git_diff("HEAD", clean_tree.root))
    assert [(c.old_path, c.new_path) for c in changes] == [(JOB, "pipelines/ctr.py")]
    result = impact_of_patch(changes, source, kind_of, locate=lines_at_ref("HEAD", clean_tree.root))
    assert [t.id for t in result.transformations] == [CTR]
    assert result.affected == ("user_ctr_7d",)


# --- pure pieces --------------------------------------------------------------------------------
def test_parse_patch_with_context_counts_only_changed_lines() -> None:
    text = (
        "diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -10,7 +10,8 @@ def f():\n"
        "     a\n     b\n     c\n-    d\n+    d2\n+    d3\n     e\n     f\n     g\n"
    )
    (change,) = parse_patch(text)
    assert change.old_lines == {13} and change.insert_after == {13} and change.new_lines == {13, 14}


def test_parse_patch_new_and_deleted_files() -> None:
    text = (
        "diff --git a/old.py b/old.py\ndeleted file mode 100644\n--- a/old.py\n+++ /dev/null\n"
        "@@ -1,2 +0,0 @@\n-a\n-b\n"
        "diff --git a/new.py b/new.py\nnew file mode 100644\n--- /dev/null\n+++ b/new.py\n"
        "@@ -0,0 +1 @@\n+c\n"
    )
    old, new = parse_patch(text)
    assert (old.old_path, old.new_path, old.old_lines) == ("old.py", None, {1, 2})
    assert (new.old_path, new.new_path, new.new_lines) == (None, "new.py", {1})


def test_current_source_hash_matches_what_the_decorator_recorded(
    built: History, source: ChangeSource
) -> None:
    rev = history(source, CTR, "Transformation", None).revisions[-1]
    assert rev.qualname == CTR
    assert current_source_sha256(built.repo.root / JOB, CTR) == rev.source_sha256
    assert current_source_sha256(built.repo.root / JOB, "no_such_function") is None


def test_revision_key_ignores_order_and_its_id_tells_revisions_apart() -> None:
    a = revision_key(
        COUNTS, "1.0", "ab", inputs=["x", "y"], outputs=["z"], derivation=[("z", ["x", "y"])]
    )
    b = revision_key(
        COUNTS, "1.0", "ab", inputs=["y", "x"], outputs=["z"], derivation=[("z", ["y", "x"])]
    )
    c = revision_key(
        COUNTS, "1.1", "ab", inputs=["x", "y"], outputs=["z"], derivation=[("z", ["x", "y"])]
    )
    assert a == b and revision_id(a) == revision_id(b) != revision_id(c)
    assert len(revision_id(a)) == 16


def test_stale_names_a_new_revision_that_failed(make_repo: Any, memory_sink: MemorySink) -> None:
    repo = make_repo()
    (repo.root / "jobs").mkdir()
    shutil.copy(PIPELINE, repo.root / JOB)
    repo.commit("seed")
    import_path(repo.root / JOB).main(["counts", "ctr"])
    job = repo.root / JOB
    job.write_text(
        job.read_text()
        .replace("/ n for user", "/ max(n, 1) for user")
        .replace(
            'name="calculate_user_ctr",\n    version="1.0"',
            'name="calculate_user_ctr",\n    version="1.1"',
        )
    )
    repo.commit("ctr: never divide by zero")
    import_path(repo.root / JOB).main(["fail-ctr"])
    runs = [r for r in memory_sink.records if isinstance(r, Run)]
    source = RunsChangeSource(runs)
    (entry,) = stale(source)
    failed = next(r for r in runs if r.status == "failed")
    produced = next(r for r in runs if r.transformation == CTR and r.status == "completed")
    revs = history(source, CTR, "Transformation", None).revisions
    assert [r.changed for r in revs] == [(), ("code", "version")]
    assert entry.to_json() == {
        "id": "user_ctr_7d",
        "reasons": [
            {
                "kind": "code_changed",
                "detail": f"{CTR} has since run as revision {revs[1].id} (version 1.1, source "
                f"{revs[1].source_sha256[:12]}; run {failed.run_id}), which has not produced it",
            },
            {
                "kind": "last_run_failed",
                "detail": f"run {failed.run_id} of {CTR} failed at {failed.ended_at.isoformat()} "
                "(builtins.ZeroDivisionError) after the run that produced it",
            },
        ],
        "produced_by": produced.run_id,
    }
