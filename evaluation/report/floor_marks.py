"""The noise floor in the report: which figures a model shares with a perfect generator, FID_inf, the ranking.

The run's `world` row (evaluation/metrics/noise_floor.py) is the world's own rendering with other seeds; a model's figure
that lies inside the floor row's 95 % interval (KID and CMMD: the bootstrap over prompts; CLIP score and
accuracy: their bootstrap intervals; FID: two standard errors of a bootstrap over prompts; precision, recall, density
and coverage: their 95 % bootstrap intervals over prompts) is marked ≈: the run cannot tell it from a perfect generator's.
"""
from __future__ import annotations

from evaluation.metrics.noise_floor import FLOOR_MODEL, floor_record, within
from evaluation.report.plots import guidance_text, shown_model

MARK = " ≈"


def mark(record: dict, floor: dict | None, value, *path) -> str:
    """MARK when `value` lies inside the floor's interval found under `path` of the floor record."""
    if floor is None or record is floor:
        return ""
    interval = floor
    for key in path:
        interval = interval.get(key) if isinstance(interval, dict) else None
    return MARK if within(value, interval) else ""


def fid_mark(record: dict, floor: dict | None, kind: str) -> str:
    """The floor row's FID standard error (± se); ≈ on a model's FID within two of them."""
    interval = (floor or {}).get("fid_interval", {}).get(kind)
    if record is floor:
        return f" ± {interval[1]:.2f}" if interval else ""
    return mark(record, floor, record["fid"].get(kind), "fid_interval", kind)


def prdc_mark(record: dict, floor: dict | None, kind: str, metric: str) -> str:
    """The floor row's 95 % interval of a precision/recall/density/coverage figure; ≈ on a model's inside it."""
    interval = ((floor or {}).get("prdc_interval", {}).get(kind) or {}).get(metric)
    if record is floor:
        return f" [{interval[1]:.3f}, {interval[2]:.3f}]" if interval else ""
    return mark(record, floor, ((record.get("prdc") or {}).get(kind) or {}).get(metric), "prdc_interval", kind, metric)


def fid_inf(record: dict, kind: str) -> str:
    entry = record.get("fid_inf", {}).get(kind)
    return "–" if not entry else f"{entry['value']:.2f}"


def notes(records: list[dict]) -> list[str]:
    """What the floor row is and what ≈ means; FID_inf and the ranking it gives."""
    floor = floor_record(records)
    out = []
    if floor is not None:
        out.append(f"Noise floor: the row `{FLOOR_MODEL}` is the world's own rendering of each prompt with other seeds "
                   f"than the references (a perfect generator), on the same prompts and sample count. ≈: a figure "
                   f"inside that row's 95 % interval, no different from a perfect generator's at this size. KID and "
                   f"CMMD leave out the pairs of images that share a prompt (evaluation/metrics/kid.py), so the floor "
                   f"reads 0 within its interval. FID: ≈ within two of the floor's standard errors (± beside its FID, a bootstrap "
                   f"over prompts); precision, recall, density and coverage: inside the floor's 95 % interval (in "
                   f"brackets, the same bootstrap; evaluation/metrics/prompt_bootstrap.py). The judge's \"unsure\" "
                   f"(a poor shape fit) is never right and counted apart in the column `unsure`.")
    kinds = sorted({k for r in records for k, v in r.get("fid_inf", {}).items() if v})
    for kind in kinds[:1]:
        ranked = sorted((r for r in records if r.get("fid_inf", {}).get(kind)), key=lambda r: r["fid_inf"][kind]["value"])
        order = " < ".join(f"{shown_model(r)} ({r['sampler'] or '–'}, g={guidance_text(r)}) "
                           f"{r['fid_inf'][kind]['value']:.2f}" for r in ranked)
        out.append(f"FID∞ ({kind}): FID extrapolated to infinitely many images over subsets of prompts (Chong & "
                   f"Forsyth 2020); FID at n is biased upward by a term that depends on the model, so rankings use "
                   f"FID∞: {order}.")
    return out
