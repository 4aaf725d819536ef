"""The tables and sentences of the report's "Accuracy and FID vs steps" section, from its points.

A point (evaluation/report/steps_curve.py) is one step count of one model x sampler (x guidance) line: its images,
FID, and accuracy per task and over all tasks (ALL) with a 95 % interval. The tables: every point with its accuracy
per task and FID, the noise floor first; and the steps a line needs to reach within WITHIN of the accuracy at its
largest step count, per task and over all. The sentences say both per line.
"""
from __future__ import annotations

from collections import defaultdict

from evaluation.metrics.noise_floor import FLOOR_MODEL
from evaluation.prompts import task_order

ALL = "all"  # the accuracy over every judged row, beside each task's
WITHIN = 0.02  # "within 2 points of the largest step count's accuracy"
FEW_STEPS = 20  # "few steps": the sentence compares the largest step count up to this with the largest run
FLOOR_LABEL = "noise floor"
_TOLERANCE = 1e-9  # shares are ratios of counts: 0.755 - 0.02 must not fall out by rounding


def labels(keys) -> dict[tuple, str]:
    """A line's name within its model: the sampler, and the guidance when the model has several."""
    scales: dict[str, set] = defaultdict(set)
    for model, _, guidance in keys:
        scales[model].add(guidance)
    return {(m, s, g): s if len(scales[m]) == 1 else f"{s}, g={'n/a' if g is None else f'{g:g}'}"
            for m, s, g in keys}


def percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def with_interval(share: tuple | None) -> str:
    """'75.0 % [50, 100]': the share and its 95 % interval, in percent."""
    if share is None:
        return "–"
    mean, low, high = share
    return f"{100 * mean:.1f} % [{100 * low:.0f}, {100 * high:.0f}]"


def fid_text(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def tasks_of(found: dict[tuple, list], floor=None) -> list[str]:
    """The tasks any point was judged on, in the world's order."""
    points = [p for line in found.values() for p in line] + ([floor] if floor else [])
    return task_order({t for p in points for t in p.accuracy} - {ALL})


def table(found: dict[tuple, list], kind: str | None, tasks: list[str] | None = None, floor=None
          ) -> tuple[list[str], list[list[str]]]:
    """A row per point: accuracy over all tasks and per task (default: every task judged), with intervals, and FID;
    the floor's row first."""
    names = labels(found)
    tasks = tasks_of(found, floor) if tasks is None else tasks
    header = ["model", "sampler", "steps", "images", f"acc. {ALL}", *[f"acc. {t}" for t in tasks],
              f"FID ({kind})" if kind else "FID"]

    def cells(point) -> list[str]:
        return [str(point.images), *[with_interval(point.accuracy.get(t)) for t in [ALL, *tasks]], fid_text(point.fid)]

    body = [] if floor is None else [[FLOOR_MODEL, FLOOR_LABEL, "–", *cells(floor)]]
    body += [[model, names[(model, sampler, guidance)], str(p.steps), *cells(p)]
             for (model, sampler, guidance), points in found.items() for p in points]
    return header, body


def steps_to_reach(points: list, task: str = ALL, within: float = WITHIN) -> int | None:
    """The fewest steps below the largest measured whose accuracy on `task`, and every larger step count's, is at
    most `within` below the largest's (above counts as reached); None when no smaller step count qualifies."""
    measured = [(p.steps, p.share(task)) for p in points if p.share(task) is not None]
    if len(measured) < 2:
        return None
    top = measured[-1][1]
    reached = None
    for steps, share in reversed(measured[:-1]):  # down from the top: the first that falls out ends the run
        if share < top - within - _TOLERANCE:
            break
        reached = steps
    return reached


def _reach_text(points: list, task: str) -> str:
    if sum(p.share(task) is not None for p in points) < 2:
        return "n/a"  # the task was judged at fewer than two step counts of this line
    reached = steps_to_reach(points, task)
    return "–" if reached is None else str(reached)


def reach_table(found: dict[tuple, list], tasks: list[str]) -> tuple[str, list[str], list[list[str]]]:
    """(what it means, header, body): per line, the steps to reach within WITHIN of its largest step count (N)."""
    names = labels(found)
    intro = (f"Steps to reach within {100 * WITHIN:g} points of the N-step accuracy (N: each line's largest step "
             f"count): the fewest steps whose accuracy, and that of every larger step count measured, is at most "
             f"{100 * WITHIN:g} points below N's (above counts); – none below N; n/a: judged at fewer than two step "
             f"counts.")
    header = ["model", "sampler", "N", ALL, *tasks]
    body = [[key[0], names[key], str(points[-1].steps), *[_reach_text(points, t) for t in [ALL, *tasks]]]
            for key, points in found.items()]
    return intro, header, body


def _reach_clause(points: list, tasks: list[str]) -> str:
    """' Within 2 points of its 50-step accuracy (or above) from 8 steps on; slowest task: count (32 steps).'"""
    measured = [p.steps for p in points if p.share() is not None]
    if len(measured) < 2:
        return ""  # nothing judged (prompts without a world target): FID alone
    top, reached = measured[-1], steps_to_reach(points)
    clause = (f" Not within {100 * WITHIN:g} points of its {top}-step accuracy at {measured[-2]} steps, the next count "
              f"below" if reached is None else
              f" Within {100 * WITHIN:g} points of its {top}-step accuracy (or above) from {reached} steps on")
    judged = [t for t in tasks if sum(p.share(t) is not None for p in points) >= 2]
    if len(judged) > 1:
        # a task never reached below N counts as needing N
        slowest = max(judged, key=lambda t: steps_to_reach(points, t) or top)
        steps = steps_to_reach(points, slowest)
        clause += f"; slowest task: {slowest} ({'not below ' + str(top) if steps is None else f'{steps} steps'})"
    return clause + "."


def sentence(model: str, label: str, points: list, tasks: list[str] = ()) -> str:
    """'dit, ddim at 20 steps: accuracy X vs Y at 250 (Δ ...), FID A vs B. Within 2 points of ... from S steps on.'
    from the points themselves."""
    top = points[-1]
    # the largest few-step count below the largest run: with steps 5,10 that is 5 vs 10, not 10 vs itself
    few = [p for p in points if p.steps <= FEW_STEPS and p.steps < top.steps]
    if not few:
        return f"{model}, {label}: no run at ≤ {FEW_STEPS} steps below {top.steps} to compare with." + \
            _reach_clause(points, tasks)
    low = few[-1]
    delta = ("" if low.share() is None or top.share() is None
             else f" (Δ {100 * (low.share() - top.share()):+.1f} points)")
    return (f"{model}, {label} at {low.steps} steps: accuracy {percent(low.share())} vs {percent(top.share())} "
            f"at {top.steps}{delta}, FID {fid_text(low.fid)} vs {fid_text(top.fid)}." + _reach_clause(points, tasks))


def floor_sentence(floor) -> str:
    return (f"Noise floor (`{FLOOR_MODEL}`: the world's own rendering with other seeds, a perfect generator): "
            f"accuracy {with_interval(floor.accuracy.get(ALL))}, FID {fid_text(floor.fid)}; the dashed lines of the "
            f"plots and the first row of the table. [a, b]: 95 % bootstrap interval over prompts.")


def sentences(found: dict[tuple, list], tasks: list[str] = (), floor=None) -> list[str]:
    names = labels(found)
    said = [sentence(key[0], names[key], points, tasks) for key, points in found.items()]
    return said + ([] if floor is None else [floor_sentence(floor)])
