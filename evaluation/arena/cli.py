"""python -m evaluation arena PATH [--export votes.csv|votes.jsonl]: the arena's leaderboard from its votes database."""
from __future__ import annotations

import argparse
import pathlib
import sys

from evaluation.arguments import seed


def _error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def cmd_arena(args: argparse.Namespace) -> None:
    from evaluation.arena.ratings import leaderboard, markdown
    from evaluation.arena.votes import VoteError, VoteStore, export

    path = pathlib.Path(args.path)
    if not path.is_file():  # the store would create an empty database; a typo should not
        _error(f"no votes database at {path} (the demo writes one: python -m demo --arena-db PATH)")
    if not 0 <= args.bootstrap <= 10_000:
        _error("--bootstrap must be from 0 to 10000")
    try:
        votes = VoteStore(path, read_only=True).votes()  # export and ratings never write to the file
        if args.export:
            written = export(votes, args.export)
            print(f"wrote {written} votes to {args.export}")
    except VoteError as error:
        _error(str(error))
    except OSError as error:
        _error(f"{args.export}: {error.strerror or error}")
    print(markdown(leaderboard(votes, bootstrap=args.bootstrap, seed=args.seed)))


def add_parser(sub) -> None:
    p = sub.add_parser("arena", help="the arena's leaderboard (Bradley-Terry, intervals, judge) from its votes",
                       description="Read the demo's votes database and print the leaderboard: Bradley-Terry ratings "
                                   "on the Elo scale with bootstrap 95 %% intervals, votes and win rate per model, "
                                   "the pairwise win matrix, ratings per task, and the judge's ranking on the same "
                                   "battles with the voter-judge agreement.")
    p.add_argument("path", help="the votes database (python -m demo --arena-db PATH)")
    p.add_argument("--export", default=None, help="also write every vote to this .csv or .jsonl file")
    p.add_argument("--bootstrap", type=int, default=200, help="bootstrap resamples for the intervals (default 200)")
    p.add_argument("--seed", type=seed, default=0, help="seed of the bootstrap resampling (default 0)")
    p.set_defaults(run=cmd_arena)
