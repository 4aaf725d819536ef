"""Screenshot of the demo for the README: headless Debian chromium (playwright, no browser download).

    python scripts/screenshot.py [--out docs/demo.png] [--prompt "..."]
"""
from __future__ import annotations

import argparse
import pathlib

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/demo.png")
    parser.add_argument("--prompt", default="draw a crimson ball up in the left corner")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from demo.app import build
    from models.registry import available

    app = build()
    app.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=None, quiet=True)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(app.local_url)
            page.fill("#prompt textarea", args.prompt)
            page.click("#generate")
            page.wait_for_function(f"() => document.querySelectorAll('.generator-output img').length === "
                                   f"{len(available())}", timeout=300_000)
            page.wait_for_function("() => [...document.querySelectorAll('.generator-output')]"
                                   ".every(e => /\\d+\\.\\d\\d s/.test(e.innerText))", timeout=300_000)
            pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=args.out, full_page=True)
            browser.close()
    finally:
        app.close()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
