"""The distribution a new user installs: its name, licence, metadata and what it ships."""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lineage_sdk import _version
from lineage_sdk.export.openlineage import PRODUCER

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
README = (ROOT / "README.md").read_text()
# What the README's commands write into the working directory.
CREATED_BY_README = [
    "lineage.db",
    "lineage.db-wal",
    "lineage.db-shm",
    "lineage.svg",
    "lineage.dot",
    "lineage.html",
    "lineage.jsonl",
    "events.ndjson",
]


def test_the_distribution_name_is_used_everywhere_a_user_types_it() -> None:
    name = PYPROJECT["project"]["name"]
    assert name == _version.DISTRIBUTION == "feature-lineage-sdk"
    assert PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"] == ["lineage_sdk"]
    installs = re.findall(r"pip install '?([A-Za-z0-9_.\-]+)", README)
    assert installs and all(n == name for n in installs if "lineage" in n), installs
    sources = [
        *ROOT.joinpath("lineage_sdk").rglob("*.py"),
        ROOT / "CHANGELOG.md",
        ROOT / "README.md",
    ]
    for path in sources:
        assert not re.search(r"(?<![\w-])lineage-sdk\[", path.read_text()), path
    assert PRODUCER.startswith(_version.HOMEPAGE)


def test_licence_urls_and_python_versions_are_declared() -> None:
    project = PYPROJECT["project"]
    licence = (ROOT / "LICENSE").read_text()
    assert "Apache License" in licence and "Version 2.0, January 2004" in licence
    assert "END OF TERMS AND CONDITIONS" in licence  # the full text, not a stub
    assert project["license"] == "Apache-2.0" and project["license-files"] == ["LICENSE"]
    assert project["requires-python"] == ">=3.10"
    versions = {c.rsplit(" ", 1)[1] for c in project["classifiers"] if "Python :: 3." in c}
    assert {"3.10", "3.11", "3.12"} <= versions
    assert set(project["urls"]) >= {"Homepage", "Source", "Issues", "Changelog"}
    assert "Python 3.10+" in README


def test_the_changelog_has_a_released_section_for_this_version() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert re.search(
        rf"^## \[{re.escape(_version.__version__)}\] - \d{{4}}-\d\d-\d\d$", changelog, re.M
    )
    assert changelog.index("## [Unreleased]") < changelog.index(f"## [{_version.__version__}]")


def test_the_readme_says_how_to_install_before_the_quick_start() -> None:
    assert README.index("## Install") < README.index("## Quick start")
    install = README[README.index("## Install") : README.index("## Quick start")]
    assert "pip install feature-lineage-sdk" in install
    assert "'feature-lineage-sdk[openlineage]'" in install
    assert ".venv/bin/lineage" in install and "activate" in install


def test_files_the_readme_creates_are_ignored_by_git_and_left_out_of_the_sdist(
    tmp_path: Path,
) -> None:
    git = shutil.which("git")
    if git is None:  # pragma: no cover - git is a test requirement
        pytest.fail("git is needed: install it (apt-get install git)")
    shutil.copy(ROOT / ".gitignore", tmp_path / ".gitignore")
    subprocess.run([git, "init", "-q"], cwd=tmp_path, check=True)
    for name in CREATED_BY_README:
        for where in (name, f"examples/{name}", f"jobs/daily/{name}"):
            ignored = subprocess.run([git, "check-ignore", "-q", where], cwd=tmp_path)
            assert ignored.returncode == 0, f"{where} is not git-ignored"
    excluded = PYPROJECT["tool"]["hatch"]["build"]["targets"]["sdist"]["exclude"]
    for name in CREATED_BY_README:
        assert any(fnmatch.fnmatch(name, pattern) for pattern in excluded), name


def test_make_demo_installs_only_the_package() -> None:
    makefile = (ROOT / "Makefile").read_text()
    demo = re.search(r"^demo: (.*)$", makefile, re.M)
    assert demo is not None and "$(DEMO_STAMP)" in demo.group(1) and "$(STAMP)" not in demo.group(1)
    recipe = makefile[makefile.index("$(DEMO_STAMP): ") :].split("\n\n", 1)[0]
    assert "pip install --quiet -e ." in recipe and "[dev" not in recipe
