"""``python -m benchmarks.screenshot [PNG]``: the README's picture of the explorer.

Runs the seed pipeline (examples/ctr_7d.py) twice into a fresh SQLite store, builds the page and
photographs it in headless Chromium with the Spark job selected and focus mode on.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lineage_sdk.graph import load_graph
from lineage_sdk.ui import build_page

from .explorer import chromium

ROOT = Path(__file__).resolve().parent.parent
SELECTED = "calculate_user_counts_7d_job_v1.2"


def main(argv: list[str]) -> int:
    target = Path(argv[0] if argv else ROOT / "docs" / "explorer.png").resolve()
    work = Path(tempfile.mkdtemp(prefix="lineage-screenshot-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINEAGE_")}
    env["LINEAGE_SINK"] = f"sqlite:{work / 'lineage.db'}"
    for users in (2000, 3000):
        subprocess.run(
            [sys.executable, str(ROOT / "examples" / "ctr_7d.py"), "--users", str(users)],
            cwd=work, env=env, check=True, capture_output=True,
        )  # fmt: skip
        time.sleep(1.1)  # two runs a second apart, so the timeline shows two bars
    page = work / "lineage.html"
    page.write_text(build_page(load_graph(f"sqlite:{work / 'lineage.db'}")), encoding="utf-8")
    driver = chromium(window="1400,760")
    if driver is None:
        print("Chromium, chromedriver or selenium is missing: `make chromium`", file=sys.stderr)
        return 1
    try:
        driver.get(f"{page.as_uri()}#node={SELECTED}")
        driver.find_element("id", "focus-mode").click()
        driver.find_element("id", "zoom-fit").click()
        target.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(target))
    finally:
        driver.quit()
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
