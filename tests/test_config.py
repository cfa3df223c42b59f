"""Configuration parsing is pure: every accepted and rejected form, without touching the process."""

from __future__ import annotations

import logging
import math
import os
import re
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

import lineage_sdk
from lineage_sdk import ConfigError, MemorySink, _runtime, config, project_file
from lineage_sdk.config import (
    ENV_VARS,
    Settings,
    SinkTarget,
    parse_bool,
    parse_sinks,
    resolve_settings,
    settings_from_env,
)

CWD = Path("/work/project")


def test_defaults_are_the_embedded_sqlite_store_in_the_working_directory() -> None:
    settings = settings_from_env({}, CWD)
    assert settings == Settings(sinks=(SinkTarget("sqlite", "/work/project/lineage.db"),))
    assert settings.enabled and not settings.async_delivery
    assert settings.on_error == "warn" and settings.namespace == "default" and settings.capture_git


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("memory", (SinkTarget("memory"),)),
        ("MEMORY", (SinkTarget("memory"),)),
        ("json:lineage.jsonl", (SinkTarget("json", "/work/project/lineage.jsonl"),)),
        ("json:/abs/l.jsonl", (SinkTarget("json", "/abs/l.jsonl"),)),
        ("sqlite:../stores/l.db", (SinkTarget("sqlite", "/work/stores/l.db"),)),
        ("sqlite:///var/l.db", (SinkTarget("sqlite", "/var/l.db"),)),
        ("none", ()),
        ("openlineage", (SinkTarget("openlineage"),)),
        (
            " memory , json:a.jsonl ",
            (SinkTarget("memory"), SinkTarget("json", "/work/project/a.jsonl")),
        ),
        ("my_company.sinks:make_sink", (SinkTarget("factory", "my_company.sinks:make_sink"),)),
        ("kafka", (SinkTarget("plugin", "kafka"),)),
        ("kafka:lineage-topic", (SinkTarget("plugin", "kafka:lineage-topic"),)),
    ],
)
def test_accepted_sink_forms(value: str, expected: tuple[SinkTarget, ...]) -> None:
    assert parse_sinks(value, CWD) == expected


def test_home_is_expanded_in_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/ana")
    assert parse_sinks("json:~/l.jsonl", CWD) == (SinkTarget("json", "/home/ana/l.jsonl"),)


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("json:", "the path is empty"),
        ("sqlite:", "the path is empty"),
        ("json", "write it as json:PATH"),
        ("memory:x", "write it as memory"),
        ("json;x.jsonl", "unknown scheme"),
        ("none,memory", "'none' cannot be combined"),
        ("memory,,json:a", "empty entry"),
        (" ", "empty entry"),
        ("$(rm -rf /)", "unknown scheme"),
    ],
)
def test_rejected_sink_forms_name_the_variable_value_and_accepted_forms(
    value: str, why: str
) -> None:
    with pytest.raises(ConfigError) as info:
        parse_sinks(value, CWD)
    message = str(info.value)
    assert message.startswith("LINEAGE_SINK=")
    assert why in message
    assert "accepted: comma-separated list of: memory, json:PATH, sqlite:PATH" in message


@pytest.mark.parametrize("value", ["1", "true", "YES", "on", " 1 "])
def test_true_values(value: str) -> None:
    assert parse_bool(value, "LINEAGE_ASYNC") is True


@pytest.mark.parametrize("value", ["0", "false", "No", "off"])
def test_false_values(value: str) -> None:
    assert parse_bool(value, "LINEAGE_ASYNC") is False


@pytest.mark.parametrize(
    ("variable", "value", "accepted"),
    [
        ("LINEAGE_ENABLED", "maybe", "1 or 0"),
        ("LINEAGE_ASYNC", "2", "1 or 0"),
        ("LINEAGE_CAPTURE_GIT", "", "1 or 0"),
        ("LINEAGE_ON_ERROR", "explode", "warn, ignore or raise"),
        ("LINEAGE_QUEUE_SIZE", "0", "a whole number, at least 1"),
        ("LINEAGE_QUEUE_SIZE", "ten", "a whole number, at least 1"),
        ("LINEAGE_FLUSH_INTERVAL", "-1", "a number of seconds above 0"),
        ("LINEAGE_FLUSH_INTERVAL", "nan", "a number of seconds above 0"),
        ("LINEAGE_OPENLINEAGE_SOURCE_CODE", "sure", "1 or 0"),
        ("LINEAGE_GIT_BINARY", "/usr/bin/git", "1 or 0"),
    ],
)
def test_bad_variable_values_name_the_variable_and_accepted_forms(
    variable: str, value: str, accepted: str
) -> None:
    with pytest.raises(
        ConfigError, match=rf"^{variable}={value!r} is not valid.*accepted: {accepted}"
    ):
        settings_from_env({variable: value}, CWD)


def test_every_variable_is_read() -> None:
    settings = settings_from_env(
        {
            "LINEAGE_SINK": "memory",
            "LINEAGE_ENABLED": "0",
            "LINEAGE_ASYNC": "1",
            "LINEAGE_ON_ERROR": "RAISE",
            "LINEAGE_NAMESPACE": "feature-platform",
            "LINEAGE_CAPTURE_GIT": "0",
            "LINEAGE_QUEUE_SIZE": "50",
            "LINEAGE_FLUSH_INTERVAL": "0.25",
            "LINEAGE_OPENLINEAGE_SOURCE_CODE": "1",
            "LINEAGE_GIT_BINARY": "0",
            "LINEAGE_CAPTURE_ERRORS": "type",
            "LINEAGE_RUNNING_AFTER": "2.5",
            "LINEAGE_PG_SCHEMA": "team_lineage",
            "LINEAGE_PG_CONNECT_TIMEOUT": "2.5",
        },
        CWD,
    )
    assert settings == Settings(
        sinks=(SinkTarget("memory"),),
        enabled=False,
        async_delivery=True,
        on_error="raise",
        namespace="feature-platform",
        capture_git=False,
        queue_size=50,
        flush_interval_s=0.25,
        openlineage_source_code=True,
        git_binary=False,
        capture_errors="type",
        running_after_s=2.5,
        pg_schema="team_lineage",
        pg_connect_timeout_s=2.5,
    )
    assert set(ENV_VARS) == {
        "LINEAGE_SINK",
        "LINEAGE_ENABLED",
        "LINEAGE_ASYNC",
        "LINEAGE_ON_ERROR",
        "LINEAGE_NAMESPACE",
        "LINEAGE_CAPTURE_GIT",
        "LINEAGE_QUEUE_SIZE",
        "LINEAGE_FLUSH_INTERVAL",
        "LINEAGE_OPENLINEAGE_SOURCE_CODE",
        "LINEAGE_GIT_BINARY",
        "LINEAGE_CAPTURE_ERRORS",
        "LINEAGE_RUNNING_AFTER",
        "LINEAGE_PG_SCHEMA",
        "LINEAGE_PG_CONNECT_TIMEOUT",
    }


def test_a_bad_environment_disables_lineage_with_one_clear_error(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("LINEAGE_SINK", "ftp://nowhere")
    caplog.set_level(logging.ERROR, logger="lineage_sdk")

    @lineage_sdk.log_lineage()
    def job() -> int:
        return 1

    assert job() == 1 and job() == 1
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "LINEAGE_SINK='ftp://nowhere'" in errors[0].getMessage()
    assert not _runtime.current().enabled


def test_a_bad_environment_raises_in_strict_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINEAGE_SINK", "json:")
    monkeypatch.setenv("LINEAGE_ON_ERROR", "raise")

    @lineage_sdk.log_lineage()
    def job() -> int:
        return 1

    with pytest.raises(ConfigError, match="LINEAGE_SINK"):
        job()


def test_a_directory_where_a_file_is_needed(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory; a file is needed"):
        lineage_sdk.configure(f"sqlite:{tmp_path}")
    with pytest.raises(ConfigError, match="is a directory; a file is needed"):
        lineage_sdk.configure(f"json:{tmp_path}")


def test_an_unknown_plugin_and_an_unimportable_factory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no sink named 'nosuchsink' is installed"):
        lineage_sdk.configure("nosuchsink")
    with pytest.raises(ConfigError, match="cannot import the sink factory"):
        lineage_sdk.configure("no_such_module.sinks:factory")


def test_configure_overrides_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINEAGE_NAMESPACE", "from-env")
    monkeypatch.setenv("LINEAGE_ASYNC", "1")
    sink = MemorySink()
    lineage_sdk.configure([sink], namespace="from-code")
    settings = _runtime.current().settings
    assert settings.namespace == "from-code"
    assert settings.async_delivery  # not overridden: still from the environment
    assert _runtime.current().sinks == (sink,)


def test_configure_rejects_unknown_options() -> None:
    with pytest.raises(TypeError, match=r"unknown option.*'sink_url'.*accepted: sinks, enabled"):
        lineage_sdk.configure(sink_url="x")


def test_relative_paths_resolve_against_the_working_directory_at_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = tmp_path / "first"
    first.mkdir()
    monkeypatch.chdir(first)
    lineage_sdk.configure("json:rel.jsonl")
    monkeypatch.chdir(tmp_path)

    @lineage_sdk.log_lineage()
    def job() -> None:
        pass

    job()
    assert (first / "rel.jsonl").exists() and not (tmp_path / "rel.jsonl").exists()


@pytest.mark.parametrize(
    ("options", "argument", "accepted"),
    [
        ({"on_error": "loudly"}, "on_error='loudly'", "warn, ignore or raise"),
        ({"queue_size": "ten"}, "queue_size='ten'", "a whole number, at least 1"),
        ({"queue_size": 0, "async_delivery": True}, "queue_size=0", "a whole number, at least 1"),
        ({"queue_size": 2.5}, "queue_size=2.5", "a whole number, at least 1"),
        ({"queue_size": True}, "queue_size=True", "a whole number, at least 1"),
        ({"flush_interval_s": 0}, "flush_interval_s=0", "a number of seconds above 0"),
        ({"flush_interval_s": math.inf}, "flush_interval_s=inf", "a number of seconds above 0"),
        ({"enabled": "yes"}, "enabled='yes'", "1 or 0"),
        ({"async_delivery": 1}, "async_delivery=1", "1 or 0"),
        ({"namespace": "  "}, "namespace='  '", "non-empty text"),
        ({"namespace": "a\nb"}, "namespace='a\\nb'", "non-empty text"),
        ({"namespace": 7}, "namespace=7", "non-empty text"),
        ({"sinks": "json:"}, "sinks='json:'", "comma-separated list of"),
        ({"sinks": ["memory", "ftp://x"]}, "sinks='ftp://x'", "comma-separated list of"),
    ],
)
def test_a_bad_configure_argument_names_the_argument_not_a_variable(
    options: dict[str, Any], argument: str, accepted: str
) -> None:
    with pytest.raises(ConfigError) as info:
        lineage_sdk.configure(**options)
    message = str(info.value)
    assert message.startswith(f"configure({argument})")
    assert f"accepted: {accepted}" in message
    assert "LINEAGE_" not in message.split("accepted:", maxsplit=1)[0]
    assert _runtime._current is None  # nothing was installed


def test_configure_never_passes_arguments_through_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A variable that would be refused does not matter when the argument replaces it...
    monkeypatch.setenv("LINEAGE_ASYNC", "maybe")
    before = dict(os.environ)
    lineage_sdk.configure([MemorySink()], async_delivery=False, namespace="from code")
    assert _runtime.current().settings.namespace == "from code"
    assert dict(os.environ) == before
    # ...and is reported, under its own name, when nothing replaces it.
    with pytest.raises(ConfigError, match=r"^LINEAGE_ASYNC='maybe' is not valid"):
        lineage_sdk.configure([MemorySink()])


def test_configure_gives_typed_values_as_they_are() -> None:
    lineage_sdk.configure([MemorySink()], queue_size=3, flush_interval_s=0.5, enabled=True)
    settings = _runtime.current().settings
    assert (settings.queue_size, settings.flush_interval_s) == (3, 0.5)


def test_configure_none_means_not_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINEAGE_NAMESPACE", "from-env")
    lineage_sdk.configure([MemorySink()], namespace=None)
    assert _runtime.current().settings.namespace == "from-env"


def test_configure_with_an_unknown_keyword_is_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"unknown option\(s\) \['unknown'\]"):
        lineage_sdk.configure(unknown=1)
    with pytest.raises(TypeError, match="unknown option"):
        resolve_settings({"queue": 1}, {}, CWD)


def test_settings_are_immutable() -> None:
    settings = settings_from_env({}, CWD)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        settings.namespace = "other"  # type: ignore[misc]


def test_every_option_is_one_settings_field_with_a_documented_variable() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    names = [o.name for o in config.options()]
    assert names == [f.name for f in attrs.fields(Settings) if f.name != "origins"]
    assert len(set(ENV_VARS)) == len(ENV_VARS)
    for opt in config.options():
        assert opt.variable.startswith("LINEAGE_") and opt.doc
        assert f"`{opt.variable}`" in readme, f"{opt.variable} is not in the README"
    assert set(Settings(sinks=()).summary()) == set(names)


def test_no_module_but_config_reads_a_lineage_variable() -> None:
    package = Path(lineage_sdk.__file__).parent
    reads = re.compile(
        r"(environ|getenv)\b.*LINEAGE_|LINEAGE_\w+.*\b(environ|getenv)|(get\(|\[)\s*[\"']LINEAGE_"
    )
    writes = re.compile(r"\[\s*[\"']LINEAGE_\w+[\"']\s*\]\s*=(?!=)")  # setting one is fine
    offenders = [
        f"{path.relative_to(package)}:{number}"
        for path in package.rglob("*.py")
        if path.name != "config.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if reads.search(line) and not writes.search(line)
    ]
    assert offenders == []


@given(st.integers(min_value=1, max_value=10**12))
def test_whole_numbers_read_the_same_from_text_and_from_code(number: int) -> None:
    from_env = resolve_settings({}, {"LINEAGE_QUEUE_SIZE": str(number)}, CWD)
    assert from_env == resolve_settings({"queue_size": number}, {}, CWD)


@given(st.floats(min_value=1e-9, max_value=1e9, allow_nan=False, allow_infinity=False))
def test_seconds_read_the_same_from_text_and_from_code(seconds: float) -> None:
    from_env = resolve_settings({}, {"LINEAGE_FLUSH_INTERVAL": repr(seconds)}, CWD)
    assert from_env == resolve_settings({"flush_interval_s": seconds}, {}, CWD)


@given(st.booleans(), st.sampled_from(["{}", "{!s}", "{:d}"]))
def test_booleans_read_the_same_from_text_and_from_code(value: bool, form: str) -> None:
    from_env = resolve_settings({}, {"LINEAGE_ASYNC": form.format(value)}, CWD)
    assert from_env == resolve_settings({"async_delivery": value}, {}, CWD)


def test_a_bad_on_error_variable_is_not_taken_for_strict_mode(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("LINEAGE_ON_ERROR", "loudly")
    caplog.set_level(logging.ERROR, logger="lineage_sdk")
    assert not _runtime.current().enabled
    assert "LINEAGE_ON_ERROR='loudly' is not valid" in caplog.text


# --- pyproject.toml [tool.lineage] ---------------------------------------------------------------
def _project(root: Path, body: str, sub: str = "src/jobs") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(f'[project]\nname = "x"\n\n[tool.lineage]\n{body}\n')
    work = root / sub
    work.mkdir(parents=True, exist_ok=True)
    return work


def test_the_project_file_is_found_upward_and_pins_the_store_to_its_folder(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    work = _project(root, 'sink = "sqlite:lineage.db"\nasync = true\nqueue-size = 5')
    (work.parent / "pyproject.toml").write_text("[tool.ruff]\nline-length = 99\n")  # passed over
    settings = project_file.load_settings({}, {}, work)
    assert settings.sinks == (SinkTarget("sqlite", str(root / "lineage.db")),)
    assert settings.async_delivery is True and settings.queue_size == 5
    assert settings.origin_of("sinks") == str(root / "pyproject.toml")
    assert settings.origin_of("namespace") == "default"


def test_precedence_is_argument_then_environment_then_project_file_then_default(
    tmp_path: Path,
) -> None:
    work = _project(tmp_path / "p", 'namespace = "from-file"\non_error = "ignore"')
    env = {"LINEAGE_NAMESPACE": "from-env"}
    settings = project_file.load_settings({"on_error": "raise"}, env, work)
    assert (settings.namespace, settings.on_error) == ("from-env", "raise")
    assert settings.origin_of("namespace") == "LINEAGE_NAMESPACE"
    assert settings.origin_of("on_error") == "configure()"
    assert project_file.load_settings({}, {}, work).on_error == "ignore"
    assert project_file.load_settings({}, {}, tmp_path).on_error == "warn"  # above: default


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('async = "maybe"', r"\[tool.lineage\] async='maybe' is not valid.*accepted: 1 or 0"),
        ("queue_size = 0", r"\[tool.lineage\] queue_size=0 is not valid.*at least 1"),
        ('sink = "json:"', r"\[tool.lineage\] sink='json:' is not valid \(the path is empty\)"),
        ('sinks = "memory"', r"\[tool.lineage\] sinks is not an option; accepted: sink, enabled"),
        ("namespace = [1]", r"\[tool.lineage\] namespace=\[1\] is not valid"),
        ("sink = ", r"cannot read \[tool.lineage\]"),
    ],
)
def test_a_bad_project_file_names_the_file_and_the_key(
    tmp_path: Path, body: str, message: str
) -> None:
    work = _project(tmp_path / "p", body)
    with pytest.raises(ConfigError, match=message) as info:
        project_file.load_settings({}, {}, work)
    assert str(tmp_path / "p" / "pyproject.toml") in str(info.value)


def test_someone_elses_broken_pyproject_is_not_our_business(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.poetry\nname = lineage-jobs")
    assert project_file.find_project_config(tmp_path) is None
    assert project_file.load_settings({}, {}, tmp_path).sinks == (
        SinkTarget("sqlite", str(tmp_path / "lineage.db")),
    )


def test_runs_from_a_subfolder_go_to_the_project_store_and_the_first_write_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "project"
    work = _project(root, 'sink = "json:lineage.jsonl"')
    monkeypatch.chdir(work)
    caplog.set_level(logging.INFO, logger="lineage_sdk")

    @lineage_sdk.log_lineage(name="from_subfolder")
    def job() -> int:
        return 1

    assert job() == 1 and job() == 1
    lineage_sdk.flush()
    store = root / "lineage.jsonl"
    assert store.exists() and not (work / "lineage.jsonl").exists()
    assert len(lineage_sdk.load_graph(f"json:{store}").runs(transformation="from_subfolder")) == 2
    said = [r.getMessage() for r in caplog.records if "records to" in r.getMessage()]
    assert said == [f"lineage-sdk records to json:{store} (from {root / 'pyproject.toml'})"]
