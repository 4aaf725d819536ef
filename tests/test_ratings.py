"""Arena ratings: Bradley–Terry on the Elo scale, intervals, win matrix, per task, the judge; and the CLI."""
import json
import math
import random
import subprocess
import sys

import pytest

from evaluation.arena.ratings import judge_vote, leaderboard, markdown
from evaluation.arena.votes import Battle, VoteStore


def vote(a, b, choice, category="single", judge=None):
    ja, jb = ({"full": judge[0]}, {"full": judge[1]}) if judge else (None, None)
    return {"model_a": a, "model_b": b, "vote": choice, "category": category, "judge_a": ja, "judge_b": jb}


def by_model(ratings):
    return {r.model: r for r in ratings}


def test_three_to_one_odds_are_about_191_points_on_the_elo_scale_around_1000():
    votes = [vote("x", "y", "A")] * 300 + [vote("x", "y", "B")] * 100
    ratings = by_model(leaderboard(votes, bootstrap=0).ratings)
    gap = ratings["x"].rating - ratings["y"].rating
    assert gap == pytest.approx(400 * math.log10(3), abs=2)  # the virtual tie pulls it in a little
    assert ratings["x"].rating + ratings["y"].rating == pytest.approx(2000)
    assert ratings["x"].win_rate == pytest.approx(0.75) and ratings["x"].votes == 400


def test_ties_count_half_and_both_bad_is_left_out_of_the_ratings_but_counted_as_a_vote():
    even = by_model(leaderboard([vote("x", "y", "tie")] * 10, bootstrap=0).ratings)
    assert even["x"].rating == pytest.approx(1000) and even["x"].win_rate == pytest.approx(0.5)
    base = [vote("x", "y", "A"), vote("y", "x", "A"), vote("x", "y", "A")]
    with_bad = leaderboard(base + [vote("y", "x", "both_bad")] * 5, bootstrap=0)
    assert [(r.model, r.rating) for r in with_bad.ratings] == [(r.model, r.rating)
                                                             for r in leaderboard(base, bootstrap=0).ratings]
    assert by_model(with_bad.ratings)["x"].votes == 8 and with_bad.votes == 8


def test_a_model_that_won_every_vote_has_a_finite_rating_first():
    board = leaderboard([vote("x", "y", "A"), vote("z", "x", "B"), vote("y", "z", "tie")], bootstrap=50)
    assert board.ratings[0].model == "x" and math.isfinite(board.ratings[0].rating)
    assert board.ratings[0].rating > 1000 > board.ratings[-1].rating


def simulated(n: int, seed: int = 0):
    """Votes by a voter who prefers the right image; models right 95, 80, 50 % of the time."""
    rng, right = random.Random(seed), {"good": 0.95, "fair": 0.8, "poor": 0.5}
    votes = []
    for _ in range(n):
        a, b = rng.sample(sorted(right), 2)
        ra, rb = rng.random() < right[a], rng.random() < right[b]
        votes.append(vote(a, b, judge_vote({"full": ra}, {"full": rb}), rng.choice(["single", "pair"]), (ra, rb)))
    return votes


def test_the_order_is_recovered_and_intervals_hold_the_rating_and_narrow_with_more_votes():
    small, large = leaderboard(simulated(60), bootstrap=100), leaderboard(simulated(600), bootstrap=100)
    assert [r.model for r in large.ratings] == ["good", "fair", "poor"]
    for board in (small, large):
        assert all(r.low <= r.rating <= r.high for r in board.ratings)
    width = {b: sum(r.high - r.low for r in board.ratings) for b, board in (("small", small), ("large", large))}
    assert width["large"] < width["small"] / 2


def test_win_matrix_per_task_and_judge_agreement():
    votes = [vote("x", "y", "A", "pair", (True, False)), vote("y", "x", "A", "pair", (False, False)),
             vote("x", "z", "tie", "count", (True, True)), vote("x", "y", "both_bad", "novel")]
    board = leaderboard(votes, bootstrap=0)
    assert board.matrix["x"]["y"] == 0.5 and board.matrix["y"]["x"] == 0.5 and board.matrix["y"]["z"] is None
    assert board.matrix["x"]["z"] == 0.5
    assert set(board.per_task) == {"pair", "count", "novel"}
    assert {r.model for r in board.per_task["pair"]} == {"x", "y"}
    # judged: 3 battles; the judge says A, both_bad, tie; the voters A, A, tie: they agree on 2 of 3
    assert board.judged == 3 and board.agreement == pytest.approx(2 / 3)
    assert judge_vote({"full": True}, None) is None and judge_vote({"full": False}, {"full": True}) == "B"


def test_markdown_shows_ratings_intervals_matrix_tasks_and_the_judge():
    text = markdown(leaderboard(simulated(100), bootstrap=20))
    assert text.startswith("**100 votes.**") and "95 % interval" in text and "row beats column" in text
    assert "| single |" in text and "voters agree with it on 100 %" in text
    assert markdown(leaderboard([], bootstrap=20)) == "No votes yet."


def cli(*args):
    return subprocess.run([sys.executable, "-m", "evaluation", "arena", *map(str, args)], capture_output=True,
                          text=True, timeout=120)


def test_cli_prints_the_leaderboard_exports_votes_and_refuses_a_missing_database(tmp_path):
    store = VoteStore(tmp_path / "votes.sqlite3")
    for model_a, model_b, choice in (("ddpm", "gan", "A"), ("gan", "ddpm", "B"), ("ddpm", "gan", "tie")):
        store.vote(store.record_battle(Battle("a red circle", "single", 0, {}, model_a, model_b)), choice)
    done = cli(store.path, "--export", tmp_path / "votes.jsonl", "--bootstrap", 20)
    assert done.returncode == 0, done.stderr
    assert "wrote 3 votes" in done.stdout and "| 1 | ddpm |" in done.stdout and "**3 votes.**" in done.stdout
    assert [json.loads(line)["vote"] for line in open(tmp_path / "votes.jsonl")] == ["A", "B", "tie"]
    missing = cli(tmp_path / "none.sqlite3")
    assert missing.returncode == 2 and missing.stderr.startswith("error: no votes database at")
    assert not (tmp_path / "none.sqlite3").exists()
    bad = cli(store.path, "--export", tmp_path / "votes.txt")
    assert bad.returncode == 2 and bad.stderr.strip().endswith("export to a .csv or .jsonl file")
