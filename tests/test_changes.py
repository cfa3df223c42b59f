"""What changed, what is stale, what a patch hits: pinned answers on a real git history.

The history (``tests.helpers.build_history``): the seed pipeline at tag v1.0; the counts job
edited, tagged v1.1 and rerun while the CTR job is not; after another commit, the raw clicks (the
counts job's clicks input) landed again; a last commit at which nothing ran. Every answer is
pinned on every store kind, each answering in its own way (SQL for an SQL store).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import lineage_sdk
from lineage_sdk import MemorySink, Run
from lineage_sdk.graph import LineageGraph, load_graph
from lineage_sdk.graph.changes import (
    MomentError,
    RunsChangeSource,
    current_source_sha256,
    parse_patch,
    resolve_moment,
)
from lineage_sdk.graph.changes.model import revision_id, revision_key

from .conftest import Repo, import_path
from .helpers import CHANGES_PIPELINE, PIPELINE_JOB, PipelineHistory

COUNTS = "calculate_user_counts_7d"
CTR = "calculate_user_ctr"
LAND = "land_raw_clicks"
JOB = PIPELINE_JOB
FEATURES = ["user_clicks_7d", "user_ctr_7d", "user_impressions_7d"]


@pytest.fixture
def graph(history_store: str) -> Iterator[LineageGraph]:
    lineage = load_graph(history_store)
    yield lineage
    lineage.close()


@pytest.fixture
def clean_tree(pipeline_history: PipelineHistory) -> Iterator[Repo]:
    """The repository, restored to its last commit afterwards (tests edit the working tree)."""
    yield pipeline_history.repo
    pipeline_history.repo.git("reset", "-q", "--hard", "HEAD")
    pipeline_history.repo.git("clean", "-qfd")


def runs_by_commit(graph: LineageGraph) -> dict[str, list[Run]]:
    out: dict[str, list[Run]] = {}
    for run in graph.runs():
        assert run.git is not None
        out.setdefault(run.git.commit, []).append(run)
    return out


# --- history ------------------------------------------------------------------------------------
def test_history_of_the_counts_job_has_two_revisions_code_and_version_changed(
    pipeline_history: PipelineHistory, graph: LineageGraph
) -> None:
    revs = graph.history(COUNTS).revisions
    assert [r.version for r in revs] == ["1.0", "1.1"]
    assert [r.changed for r in revs] == [(), ("code", "version")]
    assert [r.first_run.tag for r in revs] == ["v1.0", "v1.1"]
    assert [r.last_run.commit for r in revs] == [
        pipeline_history.tags["v1.0"],
        pipeline_history.tags["v1.1"],
    ]
    assert [r.runs for r in revs] == [1, 1]
    assert revs[0].source_sha256 != revs[1].source_sha256
    assert revs[1].derivation == (
        ("user_clicks_7d", ("raw_clicks_kafka_topic",)),
        ("user_impressions_7d", ("raw_impressions_kafka_topic",)),
    )
    assert (revs[1].file, revs[1].line_start, revs[1].line_end) == (JOB, 32, 47)
    assert graph.history(COUNTS).to_json()["revisions"][1]["changed"] == ["code", "version"]


def test_history_of_the_ctr_job_is_one_revision(graph: LineageGraph) -> None:
    (rev,) = graph.history(CTR).revisions
    assert (rev.version, rev.changed, rev.runs, rev.first_run.tag) == ("1.0", (), 1, "v1.0")


def test_history_of_a_feature_lists_its_producing_runs_newest_first(graph: LineageGraph) -> None:
    history = graph.history("user_clicks_7d")
    revs = graph.history(COUNTS).revisions
    assert history.kind == "Feature"
    assert [p.run.tag for p in history.runs] == ["v1.1", "v1.0"]
    assert [p.revision for p in history.runs] == [revs[1].id, revs[0].id]
    newest = history.to_json()["runs"][0]  # type: ignore[index]
    assert (newest["version"], newest["inputs"]) == ("1.1", ["raw_clicks_kafka_topic"])
    assert graph.history("raw_impressions_kafka_topic").runs == ()  # never produced


def test_revision_ids_are_the_same_in_every_store(pipeline_history: PipelineHistory) -> None:
    ids = set()
    for store in pipeline_history.stores.values():
        with_store = load_graph(store)
        ids.add(tuple(r.id for r in with_store.history(COUNTS).revisions))
        with_store.close()
    assert len(ids) == 1


# --- as of --------------------------------------------------------------------------------------
def test_as_of_a_tag_is_the_last_run_at_its_commit(
    pipeline_history: PipelineHistory, graph: LineageGraph
) -> None:
    by_commit = runs_by_commit(graph)
    source = graph.backend.changes()
    repo = pipeline_history.repo.root
    for tag, commit in pipeline_history.tags.items():
        moment = resolve_moment(tag, source, cwd=repo)
        assert moment.at == max(r.ended_at for r in by_commit[commit])
        # Without the repository, the tags recorded in the runs answer the same.
        assert graph.moment(tag).at == moment.at
    short = pipeline_history.tags["v1.1"][:10]
    v11 = max(r.ended_at for r in by_commit[pipeline_history.tags["v1.1"]])
    assert graph.moment(short).at == v11
    first = graph.runs()[-1]
    assert graph.moment(first.run_id).at == first.ended_at
    newest = max(r.ended_at for r in graph.runs())
    assert resolve_moment("main", source, cwd=repo).at == newest  # HEAD ran nothing: the branch


def test_as_of_rejects_what_names_no_moment(
    pipeline_history: PipelineHistory, graph: LineageGraph
) -> None:
    with pytest.raises(MomentError, match="ISO-8601"):
        graph.as_of("v9.9")
    with pytest.raises(MomentError, match="no run was recorded"):
        resolve_moment("HEAD", graph.backend.changes(), cwd=pipeline_history.repo.root)
    assert graph.moment("2026-11-24").at.isoformat() == "2026-11-24T00:00:00+00:00"


def test_as_of_each_tag_shows_the_graph_as_it_stood(graph: LineageGraph) -> None:
    v10, v11 = graph.as_of("v1.0"), graph.as_of("v1.1")
    try:
        assert [r.transformation for r in v10.runs()] == [CTR, COUNTS, LAND]
        assert [r.version for r in v10.runs(transformation=COUNTS)] == ["1.0"]
        assert [r.transformation for r in v11.runs()] == [COUNTS, CTR, COUNTS, LAND]
        assert [v.version for v in v11.versions(COUNTS)] == ["1.0", "1.1"]
        for snapshot in (v10, v11):
            assert snapshot.upstream("user_ctr_7d") == graph.upstream("user_ctr_7d")
            assert snapshot.downstream("raw_clicks_kafka_topic", 2) == [COUNTS, "user_clicks_7d"]
            assert snapshot.node("user_ctr_7d").kind == "Feature"
        assert [s.id for s in v11.stale()] == ["user_ctr_7d"]
        assert v10.stale() == []
        assert [r.version for r in v10.history(COUNTS).revisions] == ["1.0"]
    finally:
        v10.close()
        v11.close()
    assert graph.as_of("2000-01-01").node_ids() == []


def test_load_graph_as_of(pipeline_history: PipelineHistory) -> None:
    for store in pipeline_history.stores.values():
        kind, _, where = store.partition(":")
        files = (
            sorted(Path(where).parent.glob(Path(where).name + "*")) if kind != "postgresql" else []
        )
        before = [(f.name, f.read_bytes()) for f in files]
        snapshot = load_graph(store, as_of="v1.0")
        assert len(snapshot.runs()) == 3
        assert snapshot.upstream("user_ctr_7d")  # the snapshot's tables answer
        snapshot.close()
        assert [(f.name, f.read_bytes()) for f in files] == before  # a reader never writes


# --- diff ---------------------------------------------------------------------------------------
def test_diff_between_the_tags_pins_the_counts_change(
    pipeline_history: PipelineHistory, graph: LineageGraph
) -> None:
    result = graph.diff("v1.0", "v1.1").to_json()
    a, b = graph.moment("v1.0"), graph.moment("v1.1")
    (change,) = result.pop("changed")  # type: ignore[misc]
    assert result == {
        "from": {"when": "v1.0", "at": a.at.isoformat()},
        "to": {"when": "v1.1", "at": b.at.isoformat()},
        "added": [],
        "removed": [],
        "edges_added": [],
        "edges_removed": [],
        "affected": FEATURES,
    }
    revs = graph.history(COUNTS).revisions
    tags = pipeline_history.tags
    assert change == {
        "id": COUNTS,
        "fields": ["code", "version"],
        "from": {
            "revision": revs[0].id,
            "version": "1.0",
            "source_sha256": revs[0].source_sha256,
            "commit": tags["v1.0"],
            "tag": "v1.0",
        },
        "to": {
            "revision": revs[1].id,
            "version": "1.1",
            "source_sha256": revs[1].source_sha256,
            "commit": tags["v1.1"],
            "tag": "v1.1",
        },
    }


def test_diff_backwards_and_from_nothing(graph: LineageGraph) -> None:
    assert [c.fields for c in graph.diff("v1.1", "v1.0").changed] == [("code", "version")]
    grown = graph.diff("2000-01-01", "v1.0")
    assert grown.added == tuple(sorted((LAND, COUNTS, CTR)))
    assert ("raw_clicks_kafka_topic", "user_clicks_7d") in grown.edges_added
    assert graph.diff("v1.0", "2000-01-01").removed == grown.added
    assert graph.diff("v1.1", "v1.1").to_json()["affected"] == []


# --- stale --------------------------------------------------------------------------------------
def test_stale_pins_every_reason(graph: LineageGraph) -> None:
    result = graph.stale()
    assert [e.id for e in result] == ["user_clicks_7d", "user_ctr_7d"]
    by_id = {e.id: e.to_json() for e in result}
    land = graph.history("raw_clicks_kafka_topic").runs[0].run
    counts = graph.history("user_clicks_7d").runs[0].run
    ctr = graph.history("user_ctr_7d").runs[0].run
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
    again = (
        f"was produced again by run {counts.run_id} of {COUNTS} at {counts.ended_at.isoformat()}"
    )
    assert by_id["user_ctr_7d"] == {
        "id": "user_ctr_7d",
        "reasons": [
            {"kind": "upstream_newer", "detail": f"user_impressions_7d {again}"},
            {"kind": "upstream_newer", "detail": f"user_clicks_7d {again}"},
            {"kind": "upstream_stale", "detail": "user_clicks_7d is out of date"},
        ],
        "produced_by": ctr.run_id,
    }


def test_stale_check_code_sees_a_working_tree_edit(clean_tree: Repo, graph: LineageGraph) -> None:
    kinds = [r.kind for e in graph.stale(check_code=clean_tree.root) for r in e.reasons]
    assert "code_changed" not in kinds
    job = clean_tree.root / JOB
    job.write_text(job.read_text().replace("/ n for user", "/ max(n, 1) for user"))
    result = graph.stale(check_code=clean_tree.root)
    (code,) = [
        r for e in result if e.id == "user_ctr_7d" for r in e.reasons if r.kind == "code_changed"
    ]
    assert code.detail.startswith(f"{CTR} in {JOB} hashes ")
    assert "user_impressions_7d" not in [e.id for e in result]


def test_stale_names_a_new_revision_that_failed(make_repo: Any, memory_sink: MemorySink) -> None:
    repo = make_repo()
    (repo.root / "jobs").mkdir()
    shutil.copy(CHANGES_PIPELINE, repo.root / JOB)
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
    graph = lineage_sdk.load_graph(memory_sink)
    (entry,) = graph.stale()
    failed = graph.runs(status="failed")[0]
    produced = graph.runs(transformation=CTR, status="completed")[0]
    revs = graph.history(CTR).revisions
    assert [r.changed for r in revs] == [(), ("code", "version")]
    assert revs[1].source_sha256 is not None
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


# --- impact of a patch --------------------------------------------------------------------------
def test_impact_of_an_edit_inside_the_counts_job(clean_tree: Repo, graph: LineageGraph) -> None:
    job = clean_tree.root / JOB
    job.write_text(job.read_text().replace("shown.get(user, 0) + 1", "shown.get(user, 0) + 2"))
    assert graph.impact_of_git_diff("HEAD", clean_tree.root).to_json() == {
        "transformations": [{"id": COUNTS, "file": JOB, "lines": [32, 47]}],
        "affected": FEATURES,
    }


def test_impact_of_an_edit_elsewhere_in_the_file_touches_nothing(
    clean_tree: Repo, graph: LineageGraph
) -> None:
    job = clean_tree.root / JOB
    job.write_text(job.read_text().replace("return [(i % 7, i % 3)", "return [(i % 5, i % 3)"))
    patch = clean_tree.git("diff", "HEAD")
    assert "i % 5" in patch
    empty = {"transformations": [], "affected": []}
    assert graph.impact_of_git_diff("HEAD", clean_tree.root).to_json() == empty
    assert graph.impact_of_patch(patch).to_json() == empty


def test_impact_follows_a_moved_file(clean_tree: Repo, graph: LineageGraph) -> None:
    (clean_tree.root / "pipelines").mkdir()
    clean_tree.git("mv", JOB, "pipelines/ctr.py")
    moved = clean_tree.root / "pipelines" / "ctr.py"
    moved.write_text(moved.read_text().replace("/ n for user", "/ n if n else 0.0 for user"))
    clean_tree.git("add", "-A")
    patch = clean_tree.git("diff", "-M", "HEAD")
    assert [(c.old_path, c.new_path) for c in parse_patch(patch)] == [(JOB, "pipelines/ctr.py")]
    result = graph.impact_of_git_diff("HEAD", clean_tree.root)
    assert [t.id for t in result.transformations] == [CTR]
    assert result.affected == ("user_ctr_7d",)
    # A patch file (a pull request's, with context lines) gives the same answer.
    assert graph.impact_of_patch(patch, root=clean_tree.root, ref="HEAD") == result


# --- pure pieces --------------------------------------------------------------------------------
def test_parse_patch_with_context_counts_only_changed_lines() -> None:
    text = (
        "diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -10,7 +10,8 @@ def f():\n"
        "     a\n     b\n     c\n-    d\n+    d2\n+    d3\n     e\n     f\n     g\n"
    )
    (change,) = parse_patch(text)
    assert change.old_lines == {13} and change.insert_after == {13}
    assert change.new_lines == {13, 14}


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
    pipeline_history: PipelineHistory, graph: LineageGraph
) -> None:
    rev = graph.history(CTR).revisions[-1]
    assert rev.qualname == CTR
    path = pipeline_history.repo.root / JOB
    assert current_source_sha256(path, CTR) == rev.source_sha256
    assert current_source_sha256(path, "no_such_function") is None


def test_revision_key_ignores_order_and_its_id_tells_revisions_apart() -> None:
    def key(version: str, ins: list[str]) -> Any:
        return revision_key(
            COUNTS, version, "ab", inputs=ins, outputs=["z"], derivation=[("z", ins)]
        )

    assert key("1.0", ["x", "y"]) == key("1.0", ["y", "x"])
    assert revision_id(key("1.0", ["x", "y"])) != revision_id(key("1.1", ["x", "y"]))
    assert len(revision_id(key("1.0", ["x"]))) == 16


def test_the_memory_oracle_agrees_with_the_store(pipeline_history: PipelineHistory) -> None:
    sql = load_graph(pipeline_history.stores["sqlite"])
    oracle = RunsChangeSource(sql.runs())
    store = sql.backend.changes()
    for until in (None, sql.moment("v1.0").at, sql.moment("v1.1").at):
        assert store.producers(until) == oracle.producers(until)
        assert store.newest_runs(until) == oracle.newest_runs(until)
        assert sorted(store.revisions(until), key=lambda r: r.id) == sorted(
            oracle.revisions(until), key=lambda r: r.id
        )
    sql.close()


@pytest.mark.parametrize("kind", ["json", "sqlite"])
def test_as_of_keeps_failed_runs_apart_unless_asked(kind: str, tmp_path: Any) -> None:
    from lineage_sdk import DataSource, Feature, log_lineage

    store = f"{kind}:{tmp_path / ('s.jsonl' if kind == 'json' else 's.db')}"
    lineage_sdk.configure(store, on_error="raise")
    raw, feat = DataSource("raw", type="t"), Feature("feat")

    @log_lineage(inputs=[raw], outputs=[feat], name="job")
    def job(fail: bool) -> None:
        if fail:
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        job(True)
    lineage_sdk.flush()
    graph = load_graph(store)
    first = graph.runs()[0].run_id
    graph.close()
    job(False)
    lineage_sdk.flush()
    for include_failed, expected in ((False, []), (True, ["job", "raw"])):
        # At the failed run, only a failed run had written feat: lineage only on request.
        snapshot = load_graph(store, as_of=first, include_failed=include_failed)
        assert snapshot.upstream("feat") == expected
        snapshot.close()
    graph = load_graph(store)
    assert graph.upstream("feat") == ["job", "raw"]
    graph.close()
