"""README.md is true: every Python block runs as written, every ``lineage`` sample shows what the
command prints.

A fence may be preceded by a marker comment ``<!-- readme: WORD [reason] -->``:

- ``continues``: this Python block runs after the block before it, in the same process;
- ``demo``: run on the demo's store (``examples/ctr_7d.py`` into ``./lineage.db``); the default
  for console samples;
- ``history``: run on the seed pipeline's git history (``tests.helpers.build_history``: tags
  v1.0 and v1.1, then the raw clicks landed again), working directory its repository with its
  SQLite store as ``./lineage.db``; a command commented ``# after editing ...`` runs after a
  line inside ``calculate_user_counts_7d`` was edited;
- ``skip REASON``: not run here, for REASON (an external service).

Python blocks without a marker run alone in an empty temporary directory.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from .conftest import GIT_ENV, ROOT, child_env
from .helpers import PIPELINE_JOB, build_history, require_program

README = ROOT / "README.md"
DEMO = ROOT / "examples" / "ctr_7d.py"
LINEAGE = [sys.executable, "-m", "lineage_sdk.cli"]
MARKER = re.compile(r"<!--\s*readme:\s*(\w[\w-]*)\s*(.*?)\s*-->")
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)
EDITED = "# after editing"


@attrs.frozen
class Block:
    """One fenced block of the README: its language, text, line and preceding marker."""

    lang: str
    text: str
    line: int
    marker: str | None
    reason: str

    @property
    def name(self) -> str:
        return f"README.md:{self.line}"


def readme_blocks() -> list[Block]:
    """Every top-level fenced block of README.md, with the marker comment right above it."""
    text = README.read_text(encoding="utf-8")
    blocks = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip().rsplit("\n", 1)[-1]
        marker = MARKER.fullmatch(before.strip())
        blocks.append(
            Block(
                lang=match.group(1),
                text=match.group(2),
                line=text.count("\n", 0, match.start()) + 1,
                marker=marker.group(1) if marker else None,
                reason=marker.group(2) if marker else "",
            )
        )
    return blocks


def python_programs() -> list[tuple[Block, str]]:
    """Each Python block with the program it runs as: itself, after the blocks it continues."""
    programs: list[tuple[Block, str]] = []
    for block in readme_blocks():
        if block.lang != "python":
            continue
        if block.marker == "continues":
            assert programs, f"{block.name} continues nothing"
            first, earlier = programs[-1]
            programs.append((attrs.evolve(block, marker=first.marker), earlier + block.text))
        else:
            programs.append((block, block.text))
    return programs


def samples(block: Block) -> list[tuple[str, str]]:
    """The ``$ lineage ...`` commands of a console block, each with the output shown under it."""
    pairs: list[tuple[str, list[str]]] = []
    for line in block.text.splitlines():
        if line.startswith("$ "):
            pairs.append((line[2:], []))
        elif pairs:
            pairs[-1][1].append(line)
    return [(cmd, "\n".join(out)) for cmd, out in pairs if cmd.startswith("lineage ")]


def console_blocks() -> list[Block]:
    """Blocks that show what a ``lineage`` command prints (a ``$ lineage`` line with output)."""
    return [
        b
        for b in readme_blocks()
        if b.lang in ("", "console", "sh", "shell", "bash") and samples(b)
    ]


# --- normalising what truly varies between runs ------------------------------------------------
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_NORMALISE = [
    (re.compile(_UUID), "<run-id>"),  # run ids (UUIDv7: time and randomness)
    (re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?(\+00:00)?"), "<time>"),
    (re.compile(r"\b\d+\.\d+s\b"), "<duration>"),
    # where the code lives: the clone's remote (or folder name) and the commit it is at
    (re.compile(r"git://\S+?/examples/"), "git://<repository>/examples/"),
    (re.compile(r"https://\S+"), "<link>"),
    # a clone whose remote is on no known host (GitHub, GitLab, Bitbucket) has no code link
    (re.compile(r"^code_link([ \t]+)-$", re.M), r"code_link\1<link>"),
    (re.compile(r"#commit=[0-9a-f]{40}(&dirty=true)?"), "#commit=<commit>"),
    # commits (a checkout with uncommitted changes marks them dirty), source and revision hashes
    (re.compile(r"\b[0-9a-f]{10,40}\b(\+dirty)?"), "<hash>"),
    (re.compile(r"-{3,}"), "---"),  # table rules follow the widths of what varies
    (re.compile(r"[ \t]+"), " "),  # and so does column padding
]
#: A run's tag depends on the checkout (a release clone is at a tag): the runs table's tag column.
_TAG_COLUMN = re.compile(r"<hash> \S+ <run-id>")


def normalise(text: str, tmp: Path | None = None) -> str:
    """``text`` with run ids, times, durations, commits, hashes, links and paths replaced."""
    if tmp is not None:
        text = text.replace(str(tmp), "<tmp>")
    for pattern, replacement in _NORMALISE:
        text = pattern.sub(replacement, text)
    text = _TAG_COLUMN.sub("<hash> <tag> <run-id>", text)
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


# --- the scenarios the samples are run on ------------------------------------------------------
@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo pipeline run into a fresh store: the folder holding its ``lineage.db``."""
    where = tmp_path_factory.mktemp("demo")
    result = subprocess.run(
        [sys.executable, str(DEMO), "--users", "300", "--svg", str(where / "lineage.svg")],
        cwd=where,
        env=child_env(LINEAGE_SINK=f"sqlite:{where / 'lineage.db'}"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return where


@pytest.fixture(scope="module")
def history_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seed pipeline's history: its repository, with the SQLite store as ``lineage.db`` and
    ``origin/main`` at HEAD (a pull request's base)."""
    history = build_history(tmp_path_factory.mktemp("history"))
    root = history.repo.root
    shutil.copy(history.stores["sqlite"].removeprefix("sqlite:"), root / "lineage.db")
    history.repo.git("update-ref", "refs/remotes/origin/main", "HEAD")
    return root


@pytest.fixture
def scenario(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    """The working directory for a block: an empty folder, the demo's, or the history's repo."""
    kind = request.param
    if kind == "history":
        root: Path = request.getfixturevalue("history_repo")
        job = root / PIPELINE_JOB
        original = job.read_text()
        yield root
        job.write_text(original)  # a sample that edits the job leaves the history as it was
        return
    work = tmp_path / "readme"
    work.mkdir()
    if kind == "demo":
        shutil.copy(request.getfixturevalue("demo_store") / "lineage.db", work / "lineage.db")
    yield work


def _scenario_of(block: Block, default: str) -> str:
    return block.marker if block.marker in ("demo", "history") else default


def _python_cases() -> list[object]:
    return [
        pytest.param(
            program,
            _scenario_of(block, "empty"),
            id=block.name,
            marks=[pytest.mark.skip(reason=block.reason)] if block.marker == "skip" else [],
        )
        for block, program in python_programs()
    ]


def _console_cases() -> list[object]:
    return [
        pytest.param(
            block,
            _scenario_of(block, "demo"),
            id=block.name,
            marks=[pytest.mark.skip(reason=block.reason)] if block.marker == "skip" else [],
        )
        for block in console_blocks()
    ]


@pytest.mark.parametrize(("program", "scenario"), _python_cases(), indirect=["scenario"])
def test_python_block_runs_as_written(program: str, scenario: Path) -> None:
    if ".render(" in program:
        require_program("dot", "install Graphviz: apt-get install graphviz, brew install graphviz")
    script = scenario / "readme_block.py"
    script.write_text(program, encoding="utf-8")
    try:
        result = subprocess.run(
            [sys.executable, str(script)],
            cwd=scenario,
            env=child_env(**GIT_ENV),
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        script.unlink()
    assert result.returncode == 0, f"{program}\n--- stderr ---\n{result.stderr}"


def _edit_counts_job(root: Path) -> None:
    job = root / PIPELINE_JOB
    job.write_text(job.read_text().replace("shown.get(user, 0) + 1", "shown.get(user, 0) + 2"))


@pytest.mark.parametrize(("block", "scenario"), _console_cases(), indirect=["scenario"])
def test_console_sample_is_what_the_command_prints(block: Block, scenario: Path) -> None:
    for command, shown in samples(block):
        command, _, comment = command.partition("  #")
        if EDITED in f"#{comment}":
            _edit_counts_job(scenario)
        argv = shlex.split(command)
        result = subprocess.run(
            [*LINEAGE, *argv[1:]],
            cwd=scenario,
            env=child_env(COLUMNS="200", **GIT_ENV),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode in (0, 1), result.stderr
        assert normalise(result.stdout, scenario) == normalise(shown, scenario), command


def test_every_block_that_names_a_marker_is_understood() -> None:
    markers = {b.marker for b in readme_blocks()} - {None}
    assert markers <= {"continues", "demo", "history", "skip"}, markers
    assert all(b.reason for b in readme_blocks() if b.marker == "skip")
    assert console_blocks(), "the README shows no lineage output: the parser is broken"
