"""The playground in a real headless Chromium (Debian's ``chromium``, driven by Playwright's Python package)
against real uvicorn on a free 127.0.0.1 port serving the tiny real engine.

Why these steps: they are what a first-time user does: type, see a translation with its model and latency,
let the language be detected, hit an error (a text over the server's limit, a busy server), and open the page
on a phone. Screenshots are kept under ``tests/e2e/artifacts/`` (``XLT_E2E_ARTIFACTS`` moves them). Skips when
Playwright or Chromium is missing (``apt-get install chromium``, or ``XLT_CHROMIUM``; no ``playwright install``
needed), and fails without Chromium in CI (``tests/system_tools.py``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import SERVER_ENV, Server, start_server, stop_server
from tests.system_tools import need

pytest.importorskip("playwright.sync_api")

from playwright.sync_api import Browser, Page, expect, sync_playwright

ARTIFACTS = Path(os.environ.get("XLT_E2E_ARTIFACTS") or Path(__file__).parent / "artifacts")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WAIT_MS = 30_000  # a bound for each wait on the page; a loaded CI machine translates slower, never wrongly


@pytest.fixture(scope="module")
def server(tiny_models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("playground")
    env = SERVER_ENV | {"XLT_DATA_DIR": str(folder)}
    running = start_server(tiny_models_dir, folder / "xlt-serve.log", env)
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = need("chromium", "chromium", alternatives=("chromium-browser",), override="XLT_CHROMIUM")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=ARGS, headless=True, timeout=WAIT_MS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser, server: Server) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1100, "height": 760})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    expect.set_options(timeout=WAIT_MS)
    page.goto(server.url + "/")
    page.wait_for_selector("body[data-ready=true]")
    yield page
    context.close()


def shot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    return path


def test_type_and_see_the_translation(page: Page) -> None:
    assert page.get_by_label("Model").input_value() == "tiny"
    page.get_by_label("From").select_option("en")
    page.get_by_label("To").select_option("de")
    page.get_by_label("Text").press_sequentially("The house is small.")  # typing: translated after the debounce
    expect(page.locator("#output")).not_to_have_text("")
    expect(page.locator("#output")).to_have_attribute("aria-busy", "false")
    expect(page.locator("#model-used")).to_have_text("Model: tiny")
    expect(page.locator("#latency")).to_have_text(re.compile(r"^\d+ ms$"))
    expect(page.locator("#detected")).to_be_hidden()  # the source was given
    expect(page.locator("#error")).to_be_hidden()
    expect(page.locator("#copy")).to_be_enabled()
    expect(page.locator("#zero-shot")).to_be_hidden()  # en -> de was trained
    expect(page.locator("#off-target")).to_be_hidden()  # trained directions are not judged

    # Keyboard only: auto-detect into a zero-shot direction (de -> fr), Ctrl+Enter in the text box.
    page.get_by_label("From").select_option("auto")
    page.get_by_label("To").select_option("fr")
    page.get_by_label("Text").fill("Das Haus ist klein und der Garten ist grün.")
    page.get_by_label("Text").press("Control+Enter")
    expect(page.locator("#detected")).to_have_text("Detected: German")
    expect(page.locator("#zero-shot")).to_be_visible()  # random weights: the text itself proves nothing
    expect(page.locator("#output")).not_to_have_text("")
    assert shot(page, "playground.png").stat().st_size > 0
    # The button does the same.
    page.get_by_role("button", name="Translate", exact=True).click()
    expect(page.locator("#detected")).to_have_text("Detected: German")


def test_the_file_tab_translates_a_catalog(page: Page) -> None:
    page.get_by_label("From").select_option("en")
    page.get_by_label("To").select_option("de")
    page.get_by_text("Translate a file").click()
    catalog = (
        b'msgid ""\nmsgstr "Content-Type: text/plain; charset=UTF-8\\n"\n\nmsgid "The house is small."\nmsgstr ""\n'
    )
    page.locator("#file").set_input_files({"name": "app.po", "mimeType": "text/plain", "buffer": catalog})
    page.get_by_role("button", name="Translate file").click()
    expect(page.locator("#download")).to_have_text("Download app.de.po")
    with page.expect_download() as caught:
        page.locator("#download").click()
    saved = Path(caught.value.path()).read_text(encoding="utf-8")
    assert 'msgid "The house is small."' in saved and "Language: de" in saved and "#, fuzzy" in saved
    page.locator("#file").set_input_files({"name": "app.exe", "mimeType": "application/octet-stream", "buffer": b"MZ"})
    page.get_by_role("button", name="Translate file").click()
    expect(page.locator("#error")).to_contain_text("unsupported_format")


def test_a_text_over_the_limit_shows_a_readable_error(page: Page) -> None:
    page.get_by_label("Text").fill("word " * 500)  # 2500 characters; the server allows 2000
    page.get_by_role("button", name="Translate", exact=True).click()
    error = page.get_by_role("alert")
    expect(error).to_be_visible()
    expect(error).to_contain_text("too long")
    shot(page, "playground-error.png")


def test_a_busy_server_is_explained(page: Page) -> None:
    busy = json.dumps({"error": {"code": "overloaded", "message": "queue full"}})
    page.route(
        "**/translate",
        lambda route: route.fulfill(
            status=429, headers={"Retry-After": "3"}, content_type="application/json", body=busy
        ),
    )
    page.get_by_label("Text").fill("The house.")
    page.get_by_role("button", name="Translate", exact=True).click()
    expect(page.get_by_role("alert")).to_have_text("The server is busy (overloaded). Try again in 3 s.")
    expect(page.locator("#output")).to_have_attribute("aria-busy", "false")


def test_an_output_still_off_target_is_flagged(page: Page) -> None:
    flagged = {"text": "Das Haus.", "source": "de", "target": "fr", "model": "tiny", "zero_shot": True}
    flagged["off_target"] = True  # what the server says when auto found nothing in the right language
    body = json.dumps({"translations": [flagged]})
    page.route("**/translate", lambda route: route.fulfill(status=200, content_type="application/json", body=body))
    page.get_by_label("Text").fill("Das Haus.")
    page.get_by_role("button", name="Translate", exact=True).click()
    expect(page.locator("#output")).to_have_text("Das Haus.")
    expect(page.locator("#off-target")).to_have_text("may be in another language")
    expect(page.locator("#zero-shot")).to_be_visible()
    page.get_by_label("Text").fill("")  # cleared with the output
    expect(page.locator("#off-target")).to_be_hidden()


def test_fits_a_phone_screen(browser: Browser, server: Server) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True)
    try:
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto(server.url + "/")
        page.wait_for_selector("body[data-ready=true]")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        box = page.get_by_label("Text").bounding_box()
        assert box is not None and box["width"] <= 375
        shot(page, "playground-phone.png")
    finally:
        context.close()
