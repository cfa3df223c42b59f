"""The command line as a person meets it: a real process on a (pseudo-)terminal, big stores."""

from __future__ import annotations

import io
import subprocess
import tracemalloc
from pathlib import Path

import pytest

from lineage_sdk import SQLiteSink
from lineage_sdk.cli import main

from .conftest import child_env
from .helpers import LINEAGE, cli, make_run, require_program, run_on_terminal


def test_colour_only_on_a_terminal_and_never_with_no_color(seed_db: str) -> None:
    code, out, _ = run_on_terminal([LINEAGE, "runs", "--store", seed_db], env=child_env())
    assert code == 0 and "\x1b[32mcompleted\x1b[0m" in out
    code, out, _ = run_on_terminal(
        [LINEAGE, "runs", "--store", seed_db], env=child_env(NO_COLOR="1")
    )
    assert code == 0 and "completed" in out and "\x1b[" not in out
    piped = cli("runs", "--store", seed_db)
    assert piped.returncode == 0 and "completed" in piped.stdout and "\x1b[" not in piped.stdout


@pytest.mark.parametrize("fmt", ["png", "pdf"])
def test_binary_pictures_are_never_written_to_a_terminal(seed_db: str, fmt: str) -> None:
    code, out, err = run_on_terminal(
        [LINEAGE, "graph", "--format", fmt, "--store", seed_db], env=child_env()
    )
    assert code == 2 and out == ""
    assert f"{fmt.upper()} is binary and stdout is a terminal" in err and "-o FILE" in err


def test_a_graph_of_1000_transformations_draws_in_seconds_with_progress(tmp_path: Path) -> None:
    require_program("dot", "apt-get install graphviz")
    store = tmp_path / "big.db"
    sink = SQLiteSink(store)
    sink.emit(
        [
            make_run(f"t{i}", [(f"n{i + 1}", [f"n{i}", f"n{i // 2}"])], [f"n{i}", f"n{i // 2}"], i)
            for i in range(1000)
        ]
    )
    sink.close()
    target = tmp_path / "big.svg"
    code, _, err = run_on_terminal(
        [LINEAGE, "graph", "-o", str(target), "--store", str(store)], env=child_env()
    )
    assert code == 0, err
    assert "laying out 2,001 vertices with Graphviz sfdp" in err and "laid out in" in err
    assert "hint:" in err and "--focus ID --depth N" in err
    assert target.read_bytes().startswith(b"<?xml")
    piped = cli("graph", "-o", str(tmp_path / "again.svg"), "--store", str(store))
    assert piped.returncode == 0 and "laying out" not in piped.stderr  # no progress in a pipe
    assert "hint:" in piped.stderr


def test_bash_completion_completes_subcommands_and_options() -> None:
    bash = require_program("bash", "apt-get install bash")
    script = (
        'eval "$(lineage completion bash)"\n'
        'COMP_WORDS=(lineage up); COMP_CWORD=1; _lineage; echo "${COMPREPLY[*]}"\n'
        'COMP_WORDS=(lineage runs --li); COMP_CWORD=2; _lineage; echo "${COMPREPLY[*]}"\n'
    )
    env = child_env()
    env["PATH"] = f"{Path(LINEAGE).parent}:{env.get('PATH', '')}"
    result = subprocess.run([bash, "-c", script], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["upstream", "--limit"]


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_completion_scripts_name_every_command(shell: str) -> None:
    out = io.StringIO()
    assert main(["completion", shell], out) == 0
    for command in ("upstream", "impact", "path", "versions", "export", "completion"):
        assert command in out.getvalue()


class _Discard(io.TextIOBase):
    """stdout that keeps nothing, so only the export's own memory is measured."""

    def write(self, text: str) -> int:
        return len(text)


def _export_peak(store: Path, fmt: str) -> int:
    tracemalloc.start()
    try:
        assert main(["export", "--format", fmt, "--store", str(store)], _Discard()) == 0
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.fixture(scope="module")
def stores_of_two_sizes(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """SQLite stores of 200 and 1,600 runs (written once for this module)."""
    where = tmp_path_factory.mktemp("export")
    stores = []
    for count in (200, 1_600):
        store = where / f"s{count}.db"
        sink = SQLiteSink(store)
        sink.emit([make_run("daily", [("report", ["raw"])], ["raw"], i) for i in range(count)])
        sink.close()
        stores.append(store)
    return stores


@pytest.mark.parametrize("fmt", ["json", "openlineage"])
def test_export_streams_in_constant_memory(stores_of_two_sizes: list[Path], fmt: str) -> None:
    small, large = (_export_peak(store, fmt) for store in stores_of_two_sizes)
    # Eight times the runs: the peak stays put (a collected export grows about eightfold).
    assert large < small * 1.5, (small, large)
