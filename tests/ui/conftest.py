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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lineage_sdk import DataSource, Feature, JsonFileSink, configure, log_lineage
from tests.conftest import ROOT, child_env

CHROME_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,900",
)
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


def need(condition: bool, reason: str) -> None:
    """Skip the test when a component is missing, but fail under CI, where it must be present."""
    if condition:
        return
    message = f"{reason}; {INSTALL_HINT}"
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
    for flag in CHROME_FLAGS:
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


def synthetic_records(transformations: int, seed: int, sources: int = 20) -> list[Any]:
    """A random layered lineage with per-output derivation: what the big-graph tests walk.

    Each transformation reads 2-6 earlier nodes and writes 1-3 new features, each output derived
    from a random non-empty subset of its inputs; some transformations' last run failed.
    """
    import datetime as dt
    import random

    from lineage_sdk import DataSource, Feature, Run, Transformation

    rng = random.Random(seed)
    at = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    nodes: list[str] = [f"src_{i}" for i in range(sources)]
    records: list[Any] = [DataSource(n, type="table", description=f"source {n}") for n in nodes]
    for j in range(transformations):
        inputs = rng.sample(nodes[-60:], min(len(nodes[-60:]), rng.randint(2, 6)))
        outputs = [f"feat_{j}_{k}" for k in range(rng.randint(1, 3))]
        derivation = [(o, rng.sample(inputs, rng.randint(1, len(inputs)))) for o in outputs]
        records += [Feature(o, value_type="float", description=f"feature {o}") for o in outputs]
        records.append(Transformation(f"job_{j}", version="1", compute_framework="pandas"))
        for r, status in enumerate(("completed", "failed" if j % 7 == 0 else "completed")):
            when = at + dt.timedelta(minutes=j * 10 + r)
            records.append(
                Run(
                    f"run-{j}-{r}",
                    f"job_{j}",
                    status,
                    when,
                    when,
                    0.5 + r,
                    inputs=inputs,
                    outputs=outputs,
                    derivation=derivation,
                )
            )
        nodes += outputs
    return records
