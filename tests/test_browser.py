"""The demo in a real browser: headless Debian chromium driven by playwright, as a visitor uses it (the `page`
fixture, tests/conftest.py: a missing browser fails rather than skips)."""
import pytest


@pytest.fixture(scope="module")
def app_url():
    from demo.app import build

    app = build()  # every built-in generator that ships, as `python -m demo` serves them
    app.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=None, quiet=True)
    try:
        yield app.local_url
    finally:
        app.close()


def test_typing_a_prompt_and_pressing_generate_shows_every_generators_image(app_url, page):
    from models.registry import available

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
    # then the world's rendering of the caption, and the judge's verdict under every image
    page.wait_for_function("() => document.querySelectorAll('#world-tile img').length === 1", timeout=120_000)
    judged = (f"() => [...document.querySelectorAll('.block.verdict')]"
              f".filter(e => /[✓✗]/.test(e.innerText)).length === {len(available())}")
    page.wait_for_function(judged, timeout=120_000)


@pytest.fixture(scope="module")
def arena_url(tiny_generator, tmp_path_factory):
    from demo.app import build
    from demo.handlers import DemoSession
    from models.registry import load
    from models.text.planners import make_planner

    folder = tmp_path_factory.mktemp("arena")
    session = DemoSession({"tiny": tiny_generator, "gan": load("gan")}, make_planner("rules"))
    app = build(session=session, arena_db=folder / "votes.sqlite3", data=folder, runs=folder / "cli-runs")
    app.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=None, quiet=True)
    try:
        yield app.local_url, folder / "votes.sqlite3"
    finally:
        app.close()


def test_arena_battle_vote_reveals_the_names_and_the_leaderboard_counts_the_vote(arena_url, page):
    from evaluation.arena.votes import VoteStore

    url, votes = arena_url
    page.goto(url)
    page.get_by_role("tab", name="Arena").click()
    page.click("#arena-draw")  # a world prompt drawn from the built-in sets
    page.wait_for_function("() => document.querySelector('#arena-prompt textarea').value.length > 0 && "
                           "document.querySelector('#arena-prompt textarea').value !== "
                           "'a green triangle to the left of a yellow circle'", timeout=60_000)
    page.click("#arena-battle")
    page.wait_for_function("() => document.querySelectorAll('#arena-a img, #arena-b img').length === 2",
                           timeout=120_000)
    page.wait_for_function("() => !document.querySelector('#arena-vote-A').disabled", timeout=60_000)
    assert "tiny" not in page.inner_text("#arena-a") + page.inner_text("#arena-b")  # names hidden
    page.click("#arena-vote-A")
    page.wait_for_function("() => document.querySelector('#arena-reveal').innerText.includes('A was')",
                           timeout=60_000)
    revealed = page.inner_text("#arena-reveal")
    assert "tiny" in revealed and "gan" in revealed and "you voted A is better" in revealed
    page.wait_for_function("() => document.querySelector('#arena-leaderboard').innerText.includes('gan')",
                           timeout=60_000)
    assert page.is_disabled("#arena-vote-B")  # one vote per battle
    [row] = VoteStore(votes).votes()
    assert row["vote"] == "A" and {row["model_a"], row["model_b"]} == {"tiny", "gan"}


def test_evaluation_tab_opens_on_the_shipped_run_and_the_button_makes_the_apps_own(arena_url, page):
    url, votes = arena_url
    page.goto(url)
    page.get_by_role("tab", name="Evaluation").click()
    summary = "document.querySelector('#evaluation-summary').innerText"
    page.wait_for_function(f"() => {summary}.startsWith('No run of yours yet')", timeout=60_000)
    assert "dit-layout" in page.inner_text("#evaluation-summary")  # the shipped run of every built-in model
    page.click("#quick-evaluation")  # this demo serves gan (and a tiny test model no run can load)
    page.wait_for_function(f"() => {summary}.startsWith('quick') && !{summary}.includes('dit-layout')",
                           timeout=300_000)
    assert "gan" in page.inner_text("#evaluation-summary")
    assert (votes.parent / "runs" / "quick" / "metrics.json").is_file()
