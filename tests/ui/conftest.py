"""A real headless Chromium for the explorer tests: one per test session, driven by Selenium.

Without Chromium, chromedriver or selenium the browser tests skip and say how to get them; under
``CI`` they fail instead, so a CI machine cannot pass them by lacking the browser.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from lineage_sdk import DataSource, Feature, JsonFileSink, configure, log_lineage
from tests.conftest import ROOT, child_env

INSTALL_HINT = (
    "install Chromium and its driver (Debian: apt-get install chromium chromium-driver, or "
    "`make test` as root) and the dev extra (pip install -e '.[dev]', for selenium)"
)


HOSTILE = [
    "<img src=x onerror=alert(1)>",
    "</script><script>alert(1)</script>",
    "a\u2028b\u2029c & <!-- --> ]]>",
]


def hostile_store(path: Path) -> str:
    """A JSON store whose ids and texts are markup and script."""
    configure([JsonFileSink(path)], on_error="raise")
    src = DataSource(HOSTILE[0], type="<b>kafka</b>", description=HOSTILE[1], schema=[HOSTILE[2]])
    out = Feature(HOSTILE[1], value_type="<i>float</i>", description="<script>x()</script>")

    @log_lineage(inputs=[src], outputs=[out], name=HOSTILE[2], description="\"'><svg onload=1>")
    def job() -> None:
        return None

    job()
    return f"json:{path}"


def need(condition: bool, reason: str, how: str = INSTALL_HINT) -> None:
    """Skip the test when a component is missing, but fail under CI, where it must be present."""
    if condition:
        return
    message = f"{reason}; {how}"
    if os.environ.get("CI"):
        pytest.fail(f"CI is set and {message}")
    pytest.skip(message)


class Browser:
    """The session's Chromium: load a page, read what it logged and requested, run scripts."""

    def __init__(self, driver: Any) -> None:
        self.driver = driver

    def open(self, url: str) -> None:
        """Load ``url`` with empty logs and a recorder for alert/confirm/prompt calls."""
        self.drain()
        self.driver.get("about:blank")
        self.drain()
        self.driver.get(url)

    def drain(self) -> tuple[list[dict[str, Any]], list[str]]:
        """(console entries, URLs requested) since the last call."""
        console = self.driver.get_log("browser")
        urls = []
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message["method"] == "Network.requestWillBeSent":
                urls.append(message["params"]["request"]["url"])
        return console, urls

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """One headless Chromium for the whole session (starting one costs about a second)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    need(chromium is not None, "the chromium browser is not installed")
    need(driver_path is not None, "chromedriver is not installed")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        need(False, "selenium is not installed")
        raise
    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium)
    from benchmarks.explorer import CHROME_FLAGS  # the same browser the benchmark measures

    for flag in (*CHROME_FLAGS, "--window-size=1400,900"):
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(driver_path)), options=options)
    # Record instead of showing dialogs: a hostile id that ran alert() must be seen, not block.
    driver.execute_cdp_cmd(
        "Page.addScriptToEvaluateOnNewDocument",
        {
            "source": "window.__dialogs = [];"
            "for (const f of ['alert', 'confirm', 'prompt']) {"
            "  window[f] = (m) => { window.__dialogs.push(f + ':' + m); }; }"
        },
    )
    try:
        yield Browser(driver)
    finally:
        driver.quit()


@pytest.fixture(scope="session")
def seed_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seed pipeline (examples/ctr_7d.py) run for real into an SQLite store, once."""
    where = tmp_path_factory.mktemp("seed")
    store = where / "lineage.db"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "ctr_7d.py"),
            "--users",
            "300",
            "--svg",
            str(where / "lineage.svg"),
        ],
        cwd=where,
        env=child_env(LINEAGE_SINK=f"sqlite:{store}"),
        check=True,
        capture_output=True,
    )
    return store


def synthetic_records(transformations: int, seed: int) -> list[Any]:
    """A random layered lineage with per-output derivation (the explorer benchmark's shape)."""
    from benchmarks.explorer import records

    return list(records(transformations, seed))


def write_page(graph: Any, path: Path) -> str:
    """Build the explorer for ``graph`` into ``path``; its ``file:`` URI."""
    from lineage_sdk.ui import build_page

    path.write_text(build_page(graph), encoding="utf-8")
    return path.as_uri()


@contextmanager
def serving(open_graph: Any) -> Iterator[str]:
    """The explorer's server on a free loopback port in a thread; yields its URL."""
    from lineage_sdk.ui.server import ExplorerServer

    server = ExplorerServer(("127.0.0.1", 0), open_graph)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def serve_command(store: str, *options: str) -> subprocess.Popen[str]:
    """``lineage ui --serve --port 0`` on ``store`` as a child process (stdout piped)."""
    return subprocess.Popen(
        [sys.executable, "-m", "lineage_sdk.cli", "ui", "--store", store, "--serve",
         "--port", "0", *options],
        cwd=ROOT,
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
