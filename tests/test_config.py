"""Configuration parsing is pure: every accepted and rejected form, without touching the process."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

import lineage_sdk
from lineage_sdk import ConfigError, MemorySink, _runtime
from lineage_sdk.config import Settings, SinkTarget, parse_bool, parse_sinks, settings_from_env

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
    )


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
    with pytest.raises(TypeError, match=r"unknown option.*'sink_url'.*accepted: enabled"):
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
