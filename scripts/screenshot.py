"""Screenshots of the demo for the README: headless Debian chromium (playwright, no browser download).

    python scripts/screenshot.py [--out docs/demo.png] [--prompt "..."]                       # the Compare tab
    python scripts/screenshot.py --tab arena --arena-db VOTES [--out docs/arena.png] [--prompt "..."]
    python scripts/screenshot.py --tab evaluation [--out docs/evaluation-tab.png]       # the shipped quick run

--tab arena saves two pictures: the leaderboard of VOTES as the page opens (OUT with -leaderboard before the
suffix), then a battle on the prompt, voted on with --vote, the names revealed (OUT). The vote is written to
VOTES: give a copy to keep the original as it was.
"""
from __future__ import annotations

import argparse
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # run as a script from any folder

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def compare(page, args) -> None:
    from models.registry import available

    page.fill("#prompt textarea", args.prompt)
    page.click("#generate")
    page.wait_for_function(f"() => document.querySelectorAll('.generator-output img').length === "
                           f"{len(available())}", timeout=300_000)
    page.wait_for_function("() => [...document.querySelectorAll('.generator-output')]"
                           ".every(e => /\\d+\\.\\d\\d s/.test(e.innerText))", timeout=300_000)
    page.wait_for_function(f"() => [...document.querySelectorAll('.block.verdict')].filter(e => /[✓✗]/.test("
                           f"e.innerText)).length === {len(available())}", timeout=300_000)
    page.screenshot(path=args.out, full_page=True)


def arena(page, args) -> None:
    out = pathlib.Path(args.out)
    page.get_by_role("tab", name="Arena").click()
    page.wait_for_selector("#arena-board", state="visible")
    page.locator("#arena-board").screenshot(path=out.with_name(f"{out.stem}-leaderboard{out.suffix}"))
    page.fill("#arena-prompt textarea", args.prompt)
    page.click("#arena-battle")
    page.wait_for_function(f"() => !document.querySelector('#arena-vote-{args.vote}').disabled", timeout=300_000)
    page.click(f"#arena-vote-{args.vote}")
    page.wait_for_function("() => document.querySelector('#arena-reveal').innerText.includes('A was')",
                           timeout=300_000)
    page.locator("#arena-play").screenshot(path=str(out))


def evaluation(page, args) -> None:
    """The tab as a first visit sees it: no runs of one's own, so the shipped quick run (demo/precomputed)."""
    page.set_viewport_size({"width": 1920, "height": 1000})  # eleven columns of intervals need the width
    page.get_by_role("tab", name="Evaluation").click()
    page.wait_for_function("() => [...document.querySelectorAll('#evaluation-summary td')]"
                           ".some(cell => cell.innerText.trim() === 'world')", timeout=120_000)
    page.screenshot(path=args.out, full_page=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tab", choices=("compare", "arena", "evaluation"), default="compare")
    parser.add_argument("--out", default=None, help="default docs/demo.png, docs/arena.png (--tab arena), "
                                                         "docs/evaluation-tab.png (--tab evaluation)")
    parser.add_argument("--prompt", default=None, help="default: a free-text prompt (compare), a pair (arena)")
    parser.add_argument("--arena-db", default=None, help="the votes database the demo serves (--tab arena)")
    parser.add_argument("--vote", choices=("A", "B", "tie", "both_bad"), default="A", help="the vote (--tab arena)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the arena's draw of two generators (default 0)")
    args = parser.parse_args()
    arena_tab = args.tab == "arena"
    args.out = args.out or {"arena": "docs/arena.png", "evaluation": "docs/evaluation-tab.png"}.get(args.tab,
                                                                                                  "docs/demo.png")
    args.prompt = args.prompt or ("a green triangle to the left of a yellow circle" if arena_tab
                                  else "draw a crimson ball up in the left corner")
    if arena_tab and args.arena_db is None:
        parser.error("--tab arena needs --arena-db")

    import random

    from playwright.sync_api import sync_playwright

    from demo.app import build

    random.seed(args.seed)  # the same two generators each time, for a picture that can be remade

    import tempfile

    # no runs of one's own: the evaluation tab opens on the shipped run, as for a first visitor
    with tempfile.TemporaryDirectory() as no_runs:
        app = build(arena_db=args.arena_db, runs=no_runs)
        app.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=None, quiet=True)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.goto(app.local_url)
                pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
                {"arena": arena, "evaluation": evaluation}.get(args.tab, compare)(page, args)
                browser.close()
        finally:
            app.close()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
