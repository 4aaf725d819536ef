"""The demo in a real browser: headless Debian chromium driven by playwright, as a visitor uses it."""
import pathlib

import pytest

CHROMIUM = pathlib.Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium: apt-get install chromium")


@pytest.fixture(scope="module")
def app_url():
    from demo.app import build

    app = build()  # every built-in generator that ships, as `python -m demo` serves them
    app.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=None, quiet=True)
    try:
        yield app.local_url
    finally:
        app.close()


def test_typing_a_prompt_and_pressing_generate_shows_every_generators_image(app_url):
    from playwright.sync_api import sync_playwright

    from models.registry import available

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(app_url)
            page.fill("#prompt textarea", "draw a crimson ball up in the left corner")
            page.click("#generate")
            shown = f"() => document.querySelectorAll('.generator-output img').length === {len(available())}"
            page.wait_for_function(shown, timeout=120_000)
            # the planner's caption appears under the prompt
            page.wait_for_function(
                "() => document.querySelector('#plan').innerText.includes('a red circle in the top left')",
                timeout=120_000)
            # and every final label carries its latency, once generation is over
            page.wait_for_function("() => [...document.querySelectorAll('.generator-output')]"
                                   ".every(e => /\\d+\\.\\d\\d s/.test(e.innerText))", timeout=120_000)
        finally:
            browser.close()
