"""Arena ratings from votes: Bradley–Terry on the Elo scale, bootstrap intervals, win matrix, per task, judge.

Bradley–Terry gives model i a strength p_i with P(i beats j) = p_i / (p_i + p_j); it is fitted by Hunter's
MM iteration, ties counting half a win to each side. Ratings are 1000 + 400 / ln 10 · ln p_i, shifted so
their mean is 1000: 400 points are 10:1 odds, as in Elo. "both bad" says nothing about which image is
better, so those votes count in the vote totals but not in the ratings, the win matrix or the win rates.
Every model also plays one virtual tie against a fixed opponent of strength 1, which keeps a model that won
(or lost) every vote at a finite rating. Intervals: the 2.5th and 97.5th percentiles of the ratings refitted
on votes resampled with replacement.

The judge: where both images of a battle carry world.accuracy.judge's verdict, the judge prefers the image
that shows all the caption asks when only one does (both right: tie, both wrong: both bad). Its ranking is
fitted the same way on the same battles; voter–judge agreement is the share of judged votes whose preference
(A, B, or neither for tie and both bad) is the judge's.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

ELO = 400 / math.log(10)
BASE = 1000.0
ITERATIONS = 100  # MM creeps at the end; 100 steps leave ratings within a tenth of a point
TOLERANCE = 1e-6  # in ln p: well under a thousandth of a rating point per step
SCORE = {"A": 1.0, "B": 0.0, "tie": 0.5}  # model A's points; both_bad scores nothing
TASKS = ("single", "pair", "count", "novel", "count-high", "multi", "mixed", "between", "sizes", "free text")


@dataclasses.dataclass
class Rating:
    model: str
    rating: float
    low: float | None  # bootstrap 95 % interval (None without bootstrap)
    high: float | None
    votes: int  # every vote on a battle the model was in, both bad included
    win_rate: float | None  # points / rated games, ties half; None without rated games


@dataclasses.dataclass
class Leaderboard:
    votes: int
    ratings: list[Rating]  # best first
    matrix: dict[str, dict[str, float | None]]  # matrix[a][b]: a's share of points against b
    per_task: dict[str, list[Rating]]  # task -> ratings on that task's votes (no intervals)
    judged: int  # votes on battles with a verdict on both images
    judge: list[Rating]  # the judge's ranking on those battles
    agreement: float | None  # voter-judge agreement on them


def judge_vote(judge_a: dict | None, judge_b: dict | None) -> str | None:
    """The judge's vote on a battle: A or B when only that image shows all that was asked; None if unjudged."""
    if not judge_a or not judge_b:
        return None
    right_a, right_b = bool(judge_a.get("full")), bool(judge_b.get("full"))
    if right_a != right_b:
        return "A" if right_a else "B"
    return "tie" if right_a else "both_bad"


def _side(vote: str) -> str | None:
    return vote if vote in ("A", "B") else None


def _games(votes: list[dict], models: list[str], label: str = "vote") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(index of A, index of B, A's points) of the rated votes (both bad left out)."""
    where = {m: i for i, m in enumerate(models)}
    rated = [v for v in votes if v[label] in SCORE]
    return (np.array([where[v["model_a"]] for v in rated], dtype=int),
            np.array([where[v["model_b"]] for v in rated], dtype=int),
            np.array([SCORE[v[label]] for v in rated], dtype=float))


def fit(a: np.ndarray, b: np.ndarray, score: np.ndarray, k: int, weights: np.ndarray | None = None,
        start: np.ndarray | None = None) -> np.ndarray:
    """Bradley–Terry ratings [k] on the Elo scale (mean BASE) by MM; games (a[g], b[g]) with a's points score[g]."""
    if k == 0:
        return np.zeros(0)
    weights = np.ones(len(a)) if weights is None else weights
    wins = np.bincount(a, weights * score, minlength=k) + np.bincount(b, weights * (1 - score), minlength=k) + 0.5
    games = np.zeros((k, k))  # games[i, j]: games between i and j
    np.add.at(games, (a, b), weights)
    games = games + games.T
    strength = np.ones(k) if start is None else np.exp((start - BASE) / ELO)  # a bootstrap starts at the fit
    for _ in range(ITERATIONS):
        # MM step; the last term is the virtual tie against the fixed opponent of strength 1
        denominator = (games / (strength[:, None] + strength[None, :])).sum(axis=1) + 1 / (strength + 1)
        updated = wins / denominator
        done = np.max(np.abs(np.log(updated) - np.log(strength))) < TOLERANCE
        strength = updated
        if done:
            break
    ratings = ELO * np.log(strength)
    return BASE + ratings - ratings.mean()


def _ratings(votes: list[dict], models: list[str], label: str, bootstrap: int, seed: int) -> list[Rating]:
    a, b, score = _games(votes, models, label)
    k = len(models)
    point = fit(a, b, score, k)
    low = high = [None] * k
    if bootstrap and len(a):
        rng = np.random.default_rng(seed)
        draws = np.stack([fit(a, b, score, k, np.bincount(rng.integers(len(a), size=len(a)), minlength=len(a)), point)
                          for _ in range(bootstrap)])  # [bootstrap, k]
        low, high = np.percentile(draws, 2.5, axis=0), np.percentile(draws, 97.5, axis=0)
    points = np.bincount(a, score, minlength=k) + np.bincount(b, 1 - score, minlength=k)
    played = np.bincount(a, minlength=k) + np.bincount(b, minlength=k)
    every = {m: sum(m in (v["model_a"], v["model_b"]) for v in votes) for m in models}
    rows = [Rating(m, float(point[i]), None if low[i] is None else float(low[i]),
                   None if high[i] is None else float(high[i]), every[m],
                   float(points[i] / played[i]) if played[i] else None) for i, m in enumerate(models)]
    return sorted(rows, key=lambda r: -r.rating)


def win_matrix(votes: list[dict], models: list[str]) -> dict[str, dict[str, float | None]]:
    """matrix[a][b]: the share of points a took from b over their rated votes (ties half); None if they never met."""
    points = {m: {o: 0.0 for o in models} for m in models}
    games = {m: {o: 0 for o in models} for m in models}
    for v in votes:
        if v["vote"] not in SCORE:
            continue
        first, second, score = v["model_a"], v["model_b"], SCORE[v["vote"]]
        points[first][second] += score
        points[second][first] += 1 - score
        games[first][second] += 1
        games[second][first] += 1
    return {m: {o: points[m][o] / games[m][o] if games[m][o] else None for o in models} for m in models}


def leaderboard(votes: list[dict], bootstrap: int = 200, seed: int = 0) -> Leaderboard:
    """Everything the arena shows, from the store's votes (dicts with model_a, model_b, vote, category,
    judge_a, judge_b)."""
    models = sorted({v["model_a"] for v in votes} | {v["model_b"] for v in votes})
    per_task = {}
    for task in TASKS:
        chosen = [v for v in votes if v.get("category") == task]
        if chosen:
            in_task = sorted({v["model_a"] for v in chosen} | {v["model_b"] for v in chosen})
            per_task[task] = _ratings(chosen, in_task, "vote", 0, seed)
    judged = [{**v, "judge": judge_vote(v.get("judge_a"), v.get("judge_b"))} for v in votes]
    judged = [v for v in judged if v["judge"] is not None]
    agreement = (sum(_side(v["vote"]) == _side(v["judge"]) for v in judged) / len(judged)) if judged else None
    return Leaderboard(len(votes), _ratings(votes, models, "vote", bootstrap, seed), win_matrix(votes, models),
                       per_task, len(judged), _ratings(judged, models, "judge", bootstrap, seed) if judged else [],
                       agreement)


def _number(value: float | None, form: str = "{:.0f}") -> str:
    return "–" if value is None else form.format(value)


def rating_table(ratings: list[Rating]) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of a ranking, for Markdown and the demo's table."""
    header = ["rank", "model", "rating", "95 % interval", "votes", "win rate"]
    rows = [[str(i), r.model, _number(r.rating), f"[{_number(r.low)}, {_number(r.high)}]", str(r.votes),
             _number(None if r.win_rate is None else 100 * r.win_rate, "{:.0f} %")]
            for i, r in enumerate(ratings, start=1)]
    return header, rows


def _markdown(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]


def matrix_markdown(board: Leaderboard) -> list[str]:
    order = [r.model for r in board.ratings]
    rows = [[m] + [_number(None if board.matrix[m][o] is None else 100 * board.matrix[m][o], "{:.0f} %")
                   for o in order] for m in order]
    return _markdown(["row beats column"] + order, rows)


def markdown(board: Leaderboard, ratings: bool = True) -> str:
    """The whole leaderboard as Markdown: what `python -m evaluation arena` prints; the demo shows the ratings in
    a table of its own and the rest (ratings=False) under it."""
    if not board.votes:
        return "No votes yet."
    lines = [f"**{board.votes} votes.** Bradley–Terry ratings (Elo scale, mean 1000; ties half a win, "
             "\"both bad\" left out), bootstrap 95 % intervals."]
    lines += ([""] + _markdown(*rating_table(board.ratings))) if ratings else []
    lines += ["", "**Win matrix** (share of points, ties half):", ""] + matrix_markdown(board)
    if board.per_task:
        width = max(map(len, board.per_task.values()))
        rows = [[task] + [f"{r.model} {r.rating:.0f} · {r.votes}" for r in ranked] + [""] * (width - len(ranked))
                for task, ranked in board.per_task.items()]
        header = ["task"] + [f"#{i + 1}" for i in range(width)]
        lines += ["", "**Per task** (rating · votes):", ""] + _markdown(header, rows)
    if board.judged:
        lines += ["", f"**The judge** (world detector) on the {board.judged} judged battles; voters agree with it "
                  f"on {100 * board.agreement:.0f} % of them:", ""] + _markdown(*rating_table(board.judge))
    return "\n".join(lines)
