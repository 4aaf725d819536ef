"""The Arena in the demo: battles, votes and the leaderboard through gradio_client; the judged Compare tab; the
Evaluation tab on a first visit."""
import pathlib

import pytest
from gradio_client import Client
from PIL import Image

from demo import arena_handlers
from demo.app import build
from demo.handlers import DemoSession
from evaluation.arena.votes import VoteStore
from models.registry import load
from models.text.planners import make_planner


@pytest.fixture(scope="module")
def served(tiny_generator, tmp_path_factory):
    path = tmp_path_factory.mktemp("arena") / "votes.sqlite3"
    session = DemoSession({"tiny": tiny_generator, "gan": load("gan")}, make_planner("rules"))
    app = build(session=session, arena_db=path, data=path.parent)
    app.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=None, quiet=True)
    try:
        yield {"client": Client(app.local_url, verbose=False), "path": path, "session": session}
    finally:
        app.close()


def test_a_battle_shows_two_anonymous_images_and_the_vote_reveals_the_names(served):
    client = served["client"]
    battle_id, image_a, image_b = client.predict("a red circle", 3, api_name="/arena_battle")
    for path in (image_a, image_b):
        with Image.open(path) as shown:
            assert shown.size == (256, 256) and shown.format == "PNG"
            assert not {"layout", "caption"} & set(shown.info)  # nothing in the file names the model
    revealed = client.predict(battle_id, "B", api_name="/arena_vote")
    assert "**A** was **" in revealed and "you voted B is better" in revealed
    names = {name for name in ("tiny", "gan") if f"**{name}**" in revealed}
    assert names == {"tiny", "gan"}
    [row] = [v for v in VoteStore(served["path"]).votes() if v["battle_id"] == battle_id]
    assert (row["prompt"], row["seed"], row["vote"], row["category"]) == ("a red circle", 3, "B", "single")
    assert {row["model_a"], row["model_b"]} == {"tiny", "gan"} and row["settings"]["steps"] == arena_handlers.SETTINGS["steps"]
    assert set(row["judge_a"]) >= {"full", "color_shape", "reason"} and len(row["session"]) == 16


def test_a_second_vote_an_unknown_battle_or_a_bad_label_is_refused_and_the_app_keeps_serving(served):
    client = served["client"]
    battle_id, _, _ = client.predict("two green squares", 1, api_name="/arena_battle")
    client.predict(battle_id, "tie", api_name="/arena_vote")
    for args, message in (((battle_id, "A"), "voted on already"), (("no-such-battle", "A"), "Unknown battle"),
                          ((battle_id, "maybe"), "A vote is one of A, B, tie, both_bad")):
        with pytest.raises(Exception, match=message):
            client.predict(*args, api_name="/arena_vote")
    with pytest.raises(Exception, match="Outside the Shapes world"):
        client.predict("an astronaut riding a horse", 0, api_name="/arena_battle")
    with pytest.raises(Exception, match="Seed must be a whole number"):
        client.predict("a red circle", -1, api_name="/arena_battle")
    battle_id, image_a, _ = client.predict("a blue square", 2, api_name="/arena_battle")
    assert battle_id and image_a


def test_the_leaderboard_counts_every_vote_and_a_restart_keeps_them(served, tiny_generator):
    client = served["client"]
    for seed in range(3):
        battle_id, _, _ = client.predict("a red circle", seed, api_name="/arena_battle")
        client.predict(battle_id, "A", api_name="/arena_vote")
    table = client.predict(api_name="/leaderboard")
    assert table["headers"] == ["rank", "model", "rating", "95 % interval", "votes", "win rate"]
    counted = sum(int(row[4]) for row in table["data"]) // 2  # every vote is on two models
    assert counted == VoteStore(served["path"]).count() >= 3
    restarted = build(session=served["session"], arena_db=served["path"], data=served["path"].parent)
    restarted.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=None, quiet=True)
    try:
        again = Client(restarted.local_url, verbose=False).predict(api_name="/leaderboard")
    finally:
        restarted.close()
    assert again["data"] == table["data"]


def test_one_generator_is_not_an_arena(tiny_generator, tmp_path):
    state = arena_handlers.Arena(DemoSession({"tiny": tiny_generator}, make_planner("rules")), VoteStore(tmp_path / "v.db"))
    with pytest.raises(Exception, match="needs two generators"):
        next(arena_handlers.battle(state, "a red circle", 0))


def test_compare_is_followed_by_the_worlds_rendering_and_the_judges_verdict_on_each_image_shown(served):
    from demo import handlers
    from world.accuracy import judge

    from world.references import reference_image

    session, caption = served["session"], "a large red circle in the center"
    # as the page holds them, enlarged 8x: a perfect image and an empty one
    shown = [handlers.for_display(reference_image(caption, 9)), handlers.for_display(Image.new("RGB", (32, 32)))]
    truth, right, wrong = handlers.judged(session, caption, 4, True, *shown)
    assert truth.size == (256, 256) and judge(caption, truth.resize((32, 32), Image.NEAREST))["full"]
    assert right == "✓ **shows all that was asked** (color ✓ · shape ✓ · size ✓ · position ✓)"
    assert wrong.startswith("✗ **") and "nothing" in wrong and "color ✗" in wrong
    truth, *verdicts = handlers.judged(session, "an astronaut riding a horse", 0, True, None, None)
    assert truth is None and verdicts == ["", ""]
    free_text = handlers.judged(session, "draw a crimson ball up in the left corner", 1, True, *shown)
    assert free_text[0] is not None and all(v.startswith(("✓", "✗")) for v in free_text[1:])


def test_the_compare_endpoint_keeps_its_outputs(served):
    seed, plan, tiny, gan, layout = served["client"].predict("a red circle", 2, False, 2, 3.0, "ddim", True,
                                                             api_name="/compare")
    assert seed == 2 and tiny["value"].endswith(".png") and gan["value"]


def test_evaluation_tab_shows_the_shipped_run_until_the_quick_evaluation_makes_one(tmp_path):
    from demo.evaluation_tab import PRECOMPUTED, first_visit, run_quick

    assert (PRECOMPUTED / "quick" / "metrics.json").is_file()
    text, pictures = first_visit([tmp_path / "runs", tmp_path / "own"], None)
    assert text.startswith("**No run of yours yet.**") and "| dit-layout |" in text and len(pictures) == 3
    run_quick(tmp_path / "own" / "quick", ["gan"], "cpu")
    text, pictures = first_visit([tmp_path / "runs", tmp_path / "own"], None)
    assert text.startswith("**quick**") and "| gan |" in text and "dit-layout" not in text
    with pytest.raises(Exception, match="No built-in generator"):
        run_quick(tmp_path / "own" / "quick", [], "cpu")


def test_data_folder_follows_genbench_data(monkeypatch, tmp_path):
    monkeypatch.setenv("GENBENCH_DATA", str(tmp_path))
    assert arena_handlers.default_arena_db() == pathlib.Path(tmp_path) / "arena.sqlite3"
    monkeypatch.delenv("GENBENCH_DATA")
    monkeypatch.setattr(arena_handlers, "SPACE_STORAGE", tmp_path)
    assert arena_handlers.data_dir() == tmp_path / "genbench"


def test_a_votes_database_that_cannot_be_opened_stops_the_demo_with_one_line(tiny_generator, tmp_path):
    session = DemoSession({"tiny": tiny_generator}, make_planner("rules"))
    (tmp_path / "junk.sqlite3").write_bytes(b"junk" * 1000)
    for bad in (tmp_path / "junk.sqlite3", tmp_path):  # not a database; a folder
        with pytest.raises(SystemExit, match=r"^error: .*votes database") as stopped:
            arena_handlers.open_arena(session, bad)
        assert "\n" not in str(stopped.value)
