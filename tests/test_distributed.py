"""Runs in worker processes and on a real Dask cluster; run context across process boundaries."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import lineage_sdk
from lineage_sdk import RunContext, attach, current_context, log_lineage

from . import pool_jobs
from .conftest import child_env
from .helpers import cli

ROOT = Path(__file__).resolve().parent.parent


def exiting_worker(n: int) -> int:
    """Runs the decorated job, then leaves the way multiprocessing's own workers may: os._exit."""
    pool_jobs.double(n)
    os._exit(0)


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
@pytest.mark.parametrize("async_delivery", ["0", "1"])
def test_pool_workers_lose_no_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, start_method: str, async_delivery: str
) -> None:
    store = tmp_path / "pool.db"
    monkeypatch.setenv("LINEAGE_SINK", f"sqlite:{store}")
    monkeypatch.setenv("LINEAGE_ASYNC", async_delivery)
    context = multiprocessing.get_context(start_method)
    with context.Pool(2) as pool:  # __exit__ terminates the workers: no exit handler runs
        assert pool.map(pool_jobs.double, range(40)) == [2 * i for i in range(40)]
    with ProcessPoolExecutor(2, mp_context=context) as executor:
        assert list(executor.map(pool_jobs.double, range(40))) == [2 * i for i in range(40)]
    runs = lineage_sdk.load_graph(f"sqlite:{store}").runs(transformation="pool_double")
    assert len(runs) == 80
    assert os.getpid() not in {r.pid for r in runs}


def test_a_worker_that_exits_with_os_exit_keeps_its_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "exit.jsonl"
    monkeypatch.setenv("LINEAGE_SINK", f"json:{store}")
    monkeypatch.setenv("LINEAGE_ASYNC", "1")  # ignored in workers: they may never run atexit
    context = multiprocessing.get_context("spawn")
    procs = [context.Process(target=exiting_worker, args=(i,)) for i in range(3)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    runs = lineage_sdk.load_graph(f"json:{store}").runs(transformation="pool_double")
    assert len(runs) == 3


def test_context_token_pickles_and_round_trips_as_json() -> None:
    token = RunContext("01a20ec1-ab23-7df1-b012-b6ba6d7dc9aa", "driver", "ns")
    assert pickle.loads(pickle.dumps(token)) == token
    assert RunContext.from_dict(token.to_dict()) == token
    with pytest.raises(ValueError, match="run_id"):
        RunContext("", "driver")


def test_attach_makes_calls_children_of_the_remote_run(memory_sink: Any) -> None:
    @log_lineage(name="driver")
    def driver() -> RunContext | None:
        return current_context()

    @log_lineage(name="worker_job")
    def worker_job() -> None:
        pass

    token = driver()
    assert token is not None and token.transformation == "driver"
    assert current_context() is None
    with attach(token.to_dict()):
        assert current_context() == token
        worker_job()
    with attach(None):  # a driver outside any run: nothing to attach, nothing breaks
        worker_job()
    runs = {r.transformation: r for r in memory_sink.records if isinstance(r, lineage_sdk.Run)}
    worker_runs = [
        r
        for r in memory_sink.records
        if isinstance(r, lineage_sdk.Run) and r.transformation == "worker_job"
    ]
    assert worker_runs[0].parent_run_id == runs["driver"].run_id
    assert worker_runs[0].parent_transformation == "driver"
    assert worker_runs[1].parent_run_id is None
    with pytest.raises(TypeError, match="RunContext"), attach("not a token"):  # type: ignore[arg-type]
        pass


def _attached_double(n: int, token: dict[str, str]) -> int:
    with attach(token):
        return pool_jobs.double(n)


@pytest.mark.slow
def test_dask_workers_record_every_partition_with_the_driver_as_parent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    distributed = pytest.importorskip("distributed")
    store = tmp_path / "dask.db"
    monkeypatch.setenv("LINEAGE_SINK", f"sqlite:{store}")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))

    @log_lineage(name="dask_driver")
    def driver(client: Any) -> list[int]:
        token = current_context()
        assert token is not None
        futures = client.map(_attached_double, range(24), token=token.to_dict(), pure=False)
        return list(client.gather(futures))

    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        assert driver(client) == [2 * i for i in range(24)]
        worker_pids = set(client.run(os.getpid).values())
    graph = lineage_sdk.load_graph(f"sqlite:{store}")
    [driver_run] = graph.runs(transformation="dask_driver")
    runs = graph.runs(transformation="pool_double")
    assert len(runs) == 24
    assert {r.parent_run_id for r in runs} == {driver_run.run_id}
    assert {r.pid for r in runs} <= worker_pids and os.getpid() not in {r.pid for r in runs}
    assert all(r.host for r in runs)


@pytest.mark.slow
def test_the_dask_example_shows_the_parent_link(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    env = child_env()
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "ctr_dask.py"), "--users", "300"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "has 7 partition runs" in result.stdout
    assert (tmp_path / "lineage.db").exists()


MOUNTS = """\
/dev/vda1 / ext4 rw,relatime 0 0
server:/export/lineage /mnt/shared nfs4 rw,relatime 0 0
//files/team /mnt/team\\040share cifs rw 0 0
sshfs#me@host: /home/me/remote fuse.sshfs rw 0 0
"""


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/mnt/shared/lineage.db", "nfs4"),
        ("/mnt/shared", "nfs4"),
        ("/mnt/team share/l.db", "cifs"),
        ("/home/me/remote/l.db", "fuse.sshfs"),
        ("/mnt/sharedness/l.db", None),  # a prefix of the name is not the mount
        ("/var/lib/lineage.db", None),
    ],
)
def test_network_file_systems_are_recognised(path: str, expected: str | None) -> None:
    from lineage_sdk.filesystems import network_filesystem

    assert network_filesystem(path, MOUNTS) == expected


def test_doctor_reports_no_network_filesystem_for_a_local_store(tmp_path: Path) -> None:
    result = cli("doctor", "--json", "--store", f"sqlite:{tmp_path / 'l.db'}", cwd=tmp_path)
    report = __import__("json").loads(result.stdout)
    [store] = report["sinks"]
    assert store["filesystem"] is None
    assert not any("network file system" in p for p in report["problems"])


@pytest.mark.parametrize(
    ("path", "atomic"),
    [
        ("/var/lib/lineage.jsonl", True),  # ext4: the kernel appends each write whole
        ("/mnt/shared/lineage.jsonl", False),  # NFS: only a lock keeps two hosts' lines apart
        ("/mnt/team share/l.jsonl", False),
        ("/home/me/remote/l.jsonl", False),
    ],
)
def test_json_appends_skip_the_lock_only_on_known_local_file_systems(
    path: str, atomic: bool
) -> None:
    from lineage_sdk.filesystems import atomic_appends

    assert atomic_appends(path, MOUNTS) is atomic
    assert atomic_appends(path, "") is False  # unknown: lock
