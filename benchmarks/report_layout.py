"""Layout of a report in headless Chromium at a reader's width, and its screenshots (issue 28, trap 9).

Opens ``RUN_DIR/report.html`` at ``--width`` px and prints one JSON line: the page height, how far the summary table
scrolls sideways inside its box, where each section starts (the example tables should come after the per-seed and
reproducibility sections), and chart ticks that are not round (6.25%, 18.75%). Writes ``PREFIX_top.png`` (the first
2,400 px) and ``PREFIX_full.png`` (the whole page, up to 16,000 px).

Usage:
    .venv/bin/python benchmarks/report_layout.py runs/quickstart /tmp/evidence/report --width 1400

Needs selenium (``dev`` extra), Chromium and its driver (``apt-get install chromium chromium-driver``).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

MEASURE = """
const table = document.querySelector('table.summary') || document.querySelector('table');
const box = table.parentElement;
const top = e => Math.round(e.getBoundingClientRect().top + scrollY);
const ticks = [...document.querySelectorAll('svg text')].map(e => e.textContent).filter(s => /^-?[0-9.]+%$/.test(s));
return {
  page_height: document.documentElement.scrollHeight,
  summary_table_width: table.scrollWidth,
  summary_box_width: box.clientWidth,
  summary_sideways_px: Math.max(0, table.scrollWidth - box.clientWidth),
  page_sideways_px: document.documentElement.scrollWidth - document.documentElement.clientWidth,
  sections: [...document.querySelectorAll('section[id]')].map(e => [e.id, top(e)]),
  odd_ticks: [...new Set(ticks)].filter(s => /\\.\\d*[1-9]5%$/.test(s) || /\\.(25|75)%$/.test(s)),
};
"""


def measure(run_dir: Path, prefix: str, width: int) -> dict:
    """Layout figures of ``run_dir``'s report at ``width`` px; screenshots written beside ``prefix``."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # never let selenium-manager look for a driver online
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("TEXTROBUST_CHROMIUM", "/usr/bin/chromium")
    flags = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars"]
    for flag in [*flags, f"--user-data-dir={tempfile.mkdtemp(prefix='report-layout-')}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(
        options=options, service=Service(os.environ.get("TEXTROBUST_CHROMEDRIVER", "/usr/bin/chromedriver"))
    )
    try:
        driver.set_window_size(width, 1000)
        driver.get((run_dir / "report.html").resolve().as_uri())
        figures = driver.execute_script(MEASURE)
        driver.set_window_size(width, 2400)
        driver.save_screenshot(f"{prefix}_top.png")
        driver.set_window_size(width, min(int(figures["page_height"]) + 140, 16000))
        driver.save_screenshot(f"{prefix}_full.png")
    finally:
        driver.quit()
    return {"report": str(run_dir / "report.html"), "width": width, **figures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="a run directory with report.html")
    parser.add_argument("prefix", help="screenshot path prefix (PREFIX_top.png, PREFIX_full.png)")
    parser.add_argument("--width", type=int, default=1400, help="window width in px (default 1400)")
    args = parser.parse_args()
    print(json.dumps(measure(args.run_dir, args.prefix, args.width)))


if __name__ == "__main__":
    main()
