"""The report in a real browser: headless Chromium via selenium (skips when either is not installed).

Checks what a string test cannot: the page renders, its inline script runs under its own CSP (no console
errors), header clicks sort, the filter box filters, nothing is fetched but the file itself, and injected
payloads never execute. Screenshots go to ``$TEXTROBUST_ARTIFACTS`` (default ``tests/artifacts/``).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from test_reports import make_run_dir

from textrobust.reports import build_report

CHROMIUM = os.environ.get("TEXTROBUST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("TEXTROBUST_CHROMEDRIVER", shutil.which("chromedriver") or "/usr/bin/chromedriver")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1000",
]
# Runs before any page script (CDP bypasses the page's CSP): records alert()/confirm()/prompt() calls.
HOOK = (
    "window.__alerts = []; ['alert','confirm','prompt'].forEach(function (n) { "
    "window[n] = function (m) { window.__alerts.push(String(m)); }; });"
)


def _artifacts() -> Path:
    path = Path(os.environ.get("TEXTROBUST_ARTIFACTS") or Path(__file__).parent / "artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def browser(tmp_path):
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
    if not (Path(CHROMIUM).is_file() and Path(CHROMEDRIVER).is_file()):
        pytest.skip(
            f"headless browser test needs {CHROMIUM} and {CHROMEDRIVER} (apt-get install chromium chromium-driver)"
        )
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # selenium-manager must never try to download a driver
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS + [f"--user-data-dir={tmp_path / 'chrome-profile'}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": HOOK})
        yield driver
    finally:
        driver.quit()


def _open(driver, html_path: Path) -> str:
    url = html_path.resolve().as_uri()
    driver.get(url)
    assert driver.execute_script("return document.readyState") == "complete"
    return url


def _check_clean_load(driver, url: str) -> None:
    errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
    assert not errors, errors
    from_page, elsewhere = set(), set()
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            params = message["params"]
            (from_page if params.get("documentURL") == url else elsewhere).add(params["request"]["url"])
    assert from_page == {url}, from_page - {url}
    # Other documents are the browser's own start page (chrome://, inline data:); none may reach a network.
    assert not {u for u in elsewhere if u.startswith(("http:", "https:", "ws:", "wss:", "file:"))}, elsewhere
    assert driver.execute_script("return performance.getEntriesByType('resource').length") == 0


def _screenshot(driver, name: str, dark: bool = False) -> Path:
    driver.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"features": [{"name": "prefers-color-scheme", "value": "dark" if dark else "light"}]},
    )
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, min(int(height) + 140, 12000))
    path = _artifacts() / name
    driver.save_screenshot(str(path))
    return path


def _column(driver, table_id: str, index: int) -> list[str]:
    cells = driver.find_elements("css selector", f"#{table_id} tbody tr > :nth-child({index})")
    return [c.text for c in cells]


def _open_block(driver, table_id: str) -> None:
    """Example tables sit in collapsed blocks: open one as a reader does, by clicking its title."""
    block = driver.find_element("xpath", f"//table[@id='{table_id}']/ancestor::details[1]")
    block.find_element("tag name", "summary").click()
    assert block.get_attribute("open") is not None


def test_report_in_headless_chromium(browser, tmp_path):
    html_path = build_report(make_run_dir(tmp_path))
    url = _open(browser, html_path)
    summary = browser.find_element("id", "summary").text
    assert "27.4% ± 1.2" in summary and (
        "better accuracy under textfooler attack: +6.1 pts (95% CI +3.0 to +9.2)" in summary
    )
    # The front page at 1,400 px: the summary table fits (no sideways scrolling), and the long example tables come
    # after the per-seed and reproducibility sections, collapsed (issue 28).
    browser.set_window_size(1400, 1000)
    wrap = "document.querySelector('#summary .table-wrap')"
    assert browser.execute_script(f"return {wrap}.scrollWidth <= {wrap}.clientWidth")
    order = browser.execute_script("return Array.from(document.querySelectorAll('main > section')).map(s => s.id)")
    assert order == ["summary", "charts", "details", "per-seed", "repro", "examples"]
    assert not browser.find_element("id", "fail-attack-textfooler-table").is_displayed()
    _open_block(browser, "fail-attack-textfooler-table")

    queries = _column(browser, "fail-attack-textfooler-table", 5)
    assert len(queries) == 50
    browser.find_element(
        "xpath",
        "//table[@id='fail-attack-textfooler-table']//th[normalize-space()='Queries ↕' or "
        "starts-with(normalize-space(), 'Queries')]/button",
    ).click()
    ascending = _column(browser, "fail-attack-textfooler-table", 5)
    assert ascending != queries and ascending == sorted(queries, key=float)
    browser.find_element(
        "xpath", "//table[@id='fail-attack-textfooler-table']//th[starts-with(normalize-space(), 'Queries')]/button"
    ).click()
    assert _column(browser, "fail-attack-textfooler-table", 5) == sorted(queries, key=float, reverse=True)

    box = browser.find_element("css selector", "input[data-table='fail-attack-textfooler-table']")
    assert box.is_displayed()
    box.send_keys("adv_train")
    visible = [
        r for r in browser.find_elements("css selector", "#fail-attack-textfooler-table tbody tr") if r.is_displayed()
    ]
    assert 0 < len(visible) < 50 and all("adv_train" in r.text for r in visible)
    assert (
        "rows match"
        in browser.find_element("css selector", ".filter-status[data-for='fail-attack-textfooler-table']").text
    )
    box.clear()

    _check_clean_load(browser, url)
    assert browser.execute_script("return window.__alerts") == []
    assert _screenshot(browser, "report-light.png").stat().st_size > 10_000
    _screenshot(browser, "report-dark.png", dark=True)


def test_xss_payloads_do_not_execute(browser, tmp_path):
    html_path = build_report(make_run_dir(tmp_path, xss=True))
    url = _open(browser, html_path)
    assert browser.execute_script("return window.__xss === undefined && window.__alerts.length === 0")
    _open_block(browser, "fail-attack-textfooler-table")
    assert browser.execute_script("return document.querySelectorAll('img, iframe, object, embed').length") == 0
    table_text = browser.find_element("css selector", "#fail-attack-textfooler-table").text
    assert "<script>window.__xss=1;alert(1)</script>" in table_text  # shown as text, not run
    assert "U+202E" in table_text and "U+200B" in table_text
    # Sorting and filtering must not turn text into markup either.
    browser.find_element(
        "xpath", "//table[@id='fail-attack-textfooler-table']//th[starts-with(normalize-space(), 'Expected')]/button"
    ).click()
    browser.find_element("css selector", "input[data-table='fail-attack-textfooler-table']").send_keys("<img")
    assert browser.execute_script("return window.__xss === undefined && window.__alerts.length === 0")
    assert browser.execute_script("return document.querySelectorAll('img').length") == 0
    _check_clean_load(browser, url)
    _screenshot(browser, "report-xss.png")
