"""The Arena's handlers: two anonymous generators on one prompt and seed, a vote, the names, the leaderboard.

Battles and votes go to a votes database (evaluation/arena/votes.py); the leaderboard is evaluation/arena/ratings.py on
its votes. Like demo/handlers.py these are plain functions of an Arena, testable without a UI; bad input is
a gr.Error with one line.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import pathlib
import random
import secrets
import threading

import gradio as gr
from PIL import Image

from demo.handlers import DemoSession, _one_image, check_prompt, check_seed, for_display, prompt_for
from demo.verdicts import category, verdict, world_caption
from evaluation.prompts import load_prompts
from evaluation.arena.ratings import Leaderboard, leaderboard, markdown, rating_table
from evaluation.arena.votes import Battle, VoteError, VoteStore

SETTINGS = {"steps": 25, "guidance": 3.0, "sampler": "ddim"}  # every battle's; recorded with each vote
PROMPT_SET = "shapes-full"  # what "Draw a prompt" draws from: single, pair, count and novel world prompts
SPACE_STORAGE = pathlib.Path("/data")  # a Hugging Face Space's persistent storage, when the Space has it
SALT = secrets.token_hex(16)  # per process: a session hash cannot be traced back to Gradio's session id
VOTE_NAMES = {"A": "A is better", "B": "B is better", "tie": "a tie", "both_bad": "both bad"}


def data_dir() -> pathlib.Path:
    """Where the demo keeps what it writes (votes, its own evaluation runs): $GENBENCH_DATA; else
    /data/genbench when a writable /data exists (a Space's persistent storage); else ~/.local/share/genbench."""
    if os.environ.get("GENBENCH_DATA"):
        return pathlib.Path(os.environ["GENBENCH_DATA"])
    if SPACE_STORAGE.is_dir() and os.access(SPACE_STORAGE, os.W_OK):
        return SPACE_STORAGE / "genbench"
    return pathlib.Path.home() / ".local" / "share" / "genbench"


def default_arena_db() -> pathlib.Path:
    return data_dir() / "arena.sqlite3"


@dataclasses.dataclass
class Arena:
    """The generators a battle draws from, and the votes database."""
    session: DemoSession
    store: VoteStore
    bootstrap: int = 200
    _board: tuple[int, Leaderboard] | None = None  # (votes counted, board): recomputed only after new votes
    _lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)


def open_arena(session: DemoSession, path: str | pathlib.Path) -> Arena:
    """The arena over `session`'s generators with votes in `path`; a one-line SystemExit for a bad database."""
    try:
        return Arena(session, VoteStore(path))
    except VoteError as error:
        raise SystemExit(f"error: {error}")


def stored(call, *args):
    """A votes-database call; its one-line VoteError (busy elsewhere, a battle refused, a file gone bad) is shown
    to the user as such, not as Gradio's generic error."""
    try:
        return call(*args)
    except VoteError as error:
        raise gr.Error(str(error)) from None


def anonymous(image: Image.Image) -> Image.Image:
    """The image enlarged and without its metadata (a layout-aware model's image.info would name it)."""
    shown = for_display(image).convert("RGB").copy()
    shown.info.clear()
    return shown


def session_hash(request: gr.Request | None) -> str:
    """An anonymous id of the browser session: a salted hash, never the id itself."""
    raw = getattr(request, "session_hash", None) or ""
    return hashlib.sha256(f"{SALT}:{raw}".encode()).hexdigest()[:16] if raw else ""


_prompts: list[str] = []


def draw_prompt() -> tuple[str, int]:
    """A random world prompt of the built-in set and a random seed, for the next battle."""
    if not _prompts:
        _prompts.extend(item.prompt for item in load_prompts(PROMPT_SET))
    return random.choice(_prompts), random.randint(0, 9999)


def battle(arena: Arena, prompt: str, seed: float):
    """Draw two loaded generators at random, make both images on the prompt and seed, record the battle:
    yields gr.skip() while it works, then (battle id, image A, image B); the names stay hidden."""
    prompt, seed = check_prompt(prompt), check_seed(seed)
    generators = arena.session.generators
    if len(generators) < 2:
        raise gr.Error(f"The arena needs two generators; this demo serves {', '.join(generators)}.")
    names = random.sample(sorted(generators), 2)  # the order is random too: A is either
    plan = arena.session.planner.plan(prompt)
    texts = [prompt_for(generators[name], prompt, plan) for name in names]
    if None in texts:
        raise gr.Error(f"Outside the Shapes world: {plan.reason}")
    yield [gr.skip()] * 3  # before any work starts (see demo/handlers.py, _STARTED)
    images = []
    for name, text in zip(names, texts):
        images.append((yield from _one_image(generators[name], name, text, seed, SETTINGS["steps"],
                                             SETTINGS["guidance"], SETTINGS["sampler"])))
    caption = world_caption(prompt, plan)
    verdicts = [verdict(caption, image) for image in images]
    battle_id = stored(arena.store.record_battle, Battle(prompt, category(prompt, caption), seed, SETTINGS, *names,
                                                         caption, *verdicts))
    yield battle_id, anonymous(images[0]), anonymous(images[1])


def vote(arena: Arena, battle_id: str, choice: str, voter: str = "") -> dict:
    """Record the vote; returns its row (with the names). A gr.Error for a bad label, unknown or voted battle."""
    return stored(arena.store.vote, battle_id, choice, voter)


def reveal(row: dict) -> str:
    """The names behind A and B, the vote, and the judge's verdict when there is one."""
    text = f"**A** was **{row['model_a']}**, **B** was **{row['model_b']}**; you voted {VOTE_NAMES[row['vote']]}."
    judged = [row["judge_a"], row["judge_b"]]
    if all(judged):
        marks = ["✓" if j["full"] else "✗" for j in judged]
        text += f" The judge (world detector) on `{row['caption']}`: A {marks[0]}, B {marks[1]}."
    return text


def board(arena: Arena) -> Leaderboard:
    """The leaderboard of every vote so far, recomputed only when votes were added since the last one."""
    with arena._lock:
        count = stored(arena.store.count)
        if arena._board is None or arena._board[0] != count:
            arena._board = (count, leaderboard(stored(arena.store.votes), bootstrap=arena.bootstrap))
        return arena._board[1]


def board_table(arena: Arena):
    """The ratings as a table: rank, model, rating, 95 % interval, votes, win rate."""
    import pandas as pd

    header, rows = rating_table(board(arena).ratings)
    return pd.DataFrame(rows, columns=header)


def board_markdown(arena: Arena) -> str:
    """What goes under the ratings table: the vote count, the win matrix, per task, the judge."""
    return markdown(board(arena), ratings=False)
