"""A scripted Arena voter: draws battles on world prompts through gradio_client and votes for the judge's winner.

    python scripts/arena_voter.py --votes 200 --arena-db /tmp/votes.sqlite3      # launches python -m demo itself
    python scripts/arena_voter.py --votes 20 --voters 20 --arena-db /tmp/votes.sqlite3   # 20 voters vote at once
    python scripts/arena_voter.py --votes 0 --arena-db /tmp/votes.sqlite3        # a restart: only the leaderboard
    python scripts/arena_voter.py --url http://127.0.0.1:7860/ --votes 50        # a demo that is already running

Each voter looks at the two images it is shown (PNG, enlarged 8x with nearest-neighbour pixels, so they shrink
back to the exact 32x32 image), asks the world judge which one shows all that its world prompt asks, and votes
A, B, tie (both right) or both bad. With --voters N, N threads each draw a battle, wait until all have one, and
vote at the same moment. At the end it counts the rows of the database (when it knows the file) and prints the
demo's /leaderboard and the full leaderboard of python -m evaluation arena.
"""
from __future__ import annotations

import argparse
import pathlib
import random
import threading
import time

from demo_process import launch_demo, stop  # scripts/demo_process.py: this folder is on the path



def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", default=None, help="a running demo (default: launch python -m demo on a free port)")
    p.add_argument("--arena-db", default=None, help="the votes database the launched demo uses, and whose rows are "
                                                    "counted (required without --url)")
    p.add_argument("--votes", type=int, default=200, help="votes to cast in all (default 200)")
    p.add_argument("--voters", type=int, default=1, help="voters at once, one thread each (default 1)")
    p.add_argument("--models", default=None, help="--models for the launched demo (default: every built-in one)")
    p.add_argument("--seed", type=int, default=0, help="draws prompts and battle seeds (default 0)")
    p.add_argument("--log", default="arena_voter_demo.log", help="the launched demo's output (default %(default)s)")
    return p


def launch(args: argparse.Namespace, log):
    """The demo with the votes database, queue sized for every voter; (process, url) once it answers."""
    options = ["--arena-db", args.arena_db, "--queue-size", str(max(16, 2 * args.voters))]
    return launch_demo(options + (["--models", args.models] if args.models else []), log)


def judge_vote_of(prompt: str, file_a: str, file_b: str) -> str:
    """The judge's vote on the two images as served: A, B, tie or both_bad."""
    from PIL import Image

    from evaluation.arena.ratings import judge_vote
    from world.accuracy import judge

    def verdict(path: str) -> dict:
        with Image.open(path) as shown:
            return judge(prompt, shown.convert("RGB").resize((32, 32), Image.NEAREST))

    return judge_vote(verdict(file_a), verdict(file_b))


def voter(url: str, plan: list[tuple[str, int]], barrier: threading.Barrier | None, tally: dict, lock) -> None:
    """Cast one vote per (prompt, seed) of `plan`; with a barrier, every voter votes at the same moment."""
    from gradio_client import Client

    client = Client(url, verbose=False)
    for prompt, seed in plan:
        battle_id, image_a, image_b = client.predict(prompt, seed, api_name="/arena_battle")
        choice = judge_vote_of(prompt, image_a, image_b)
        if barrier is not None:
            barrier.wait()
        try:
            client.predict(battle_id, choice, api_name="/arena_vote")
            outcome = choice
        except Exception as error:  # counted, not hidden: a lost vote is what this script looks for
            outcome = f"refused: {str(error).splitlines()[0][:80]}"
        with lock:
            tally[outcome] = tally.get(outcome, 0) + 1


def cast(args: argparse.Namespace, url: str) -> dict:
    from evaluation.prompts import load_prompts

    rng = random.Random(args.seed)
    prompts = [item.prompt for item in load_prompts("shapes-full")]
    plan = [(rng.choice(prompts), rng.randint(0, 9999)) for _ in range(args.votes)]
    barrier = threading.Barrier(args.voters) if args.voters > 1 else None
    tally, lock = {}, threading.Lock()
    threads = [threading.Thread(target=voter, args=(url, plan[i::args.voters], barrier, tally, lock))
               for i in range(args.voters)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return tally


def rows(path: str | None) -> int | None:
    from evaluation.arena.votes import VoteStore

    # read-only: counting the rows must not write to a database the demo is using
    return VoteStore(path, read_only=True).count() if path and pathlib.Path(path).is_file() else None


def main() -> None:
    args = parser().parse_args()
    if args.url is None and args.arena_db is None:
        raise SystemExit("error: give --arena-db (the launched demo's votes database) or --url")
    if not 0 <= args.votes <= 100_000 or not 1 <= args.voters <= 200 or args.votes % args.voters:
        raise SystemExit("error: --votes from 0 to 100000, --voters from 1 to 200, and --votes a multiple of --voters")
    before = rows(args.arena_db)
    log = open(args.log, "w") if args.url is None else None
    process, url = launch(args, log) if args.url is None else (None, args.url)
    try:
        started = time.perf_counter()
        tally = cast(args, url) if args.votes else {}
        seconds = time.perf_counter() - started
        from gradio_client import Client

        table = Client(url, verbose=False).predict(api_name="/leaderboard")
    finally:
        if process is not None:
            stop(process)
    after = rows(args.arena_db)
    print(f"{args.votes} votes by {args.voters} voter(s) in {seconds:.0f} s: {tally}")
    if after is not None:
        print(f"rows in {args.arena_db}: {before or 0} before, {after} after (+{after - (before or 0)}, "
              f"expected +{args.votes})")
    print("/leaderboard:", *[" | ".join(table["headers"])] + [" | ".join(map(str, r)) for r in table["data"]],
          sep="\n")


if __name__ == "__main__":
    main()
