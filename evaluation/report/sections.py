"""The report's reading aids beside the main table, computed from the metrics records: how many samples each FID
rests on (and a warning below the feature dimension), whether CMMD orders the models as FID does, fidelity and
diversity per model, the judge's accuracy on its own references, and the CLIP score per prompt category.
run_report.py renders them; this module only words and tabulates."""
from __future__ import annotations

import itertools

from evaluation.report import floor_marks
from evaluation.report.plots import guidance_text, shown_model


def _name(record: dict) -> str:
    return f"{shown_model(record)} ({record['sampler'] or '–'}, g={guidance_text(record)})"


def _sorted(records: list[dict]) -> list[dict]:
    return sorted(records, key=lambda r: (shown_model(r), r["sampler"] or "", r["steps"] or 0, r["guidance"] or 0))


def fid_sample_notes(records: list[dict]) -> list[str]:
    """One sentence per feature kind: the sample counts FID rests on, with a warning when they are below the
    feature dimension (the covariance is then rank-deficient and FID biased upward)."""
    notes = []
    kinds = sorted({k for r in records for k in r.get("fid_n", {})})
    for kind in kinds:
        counts = [r["fid_n"][kind] for r in records if r.get("fid_n", {}).get(kind)]
        generated = sorted({c["generated"] for c in counts})
        real = sorted({c["real"] for c in counts if c["real"] is not None})
        dim = counts[0]["dim"]
        text = (f"FID ({kind}) rests on {'/'.join(map(str, generated))} generated"
                + (f" and {'/'.join(map(str, real))} real" if real else " images against given statistics")
                + f" images per model, features of dimension {dim}.")
        if min(generated + real) < dim:
            text = ("⚠ " + text + f" That is fewer samples than dimensions: the covariance is rank-deficient and FID "
                    f"is biased upward and unstable at this size; read CMMD, KID and the paired tests instead.")
        notes.append(text)
    return notes


def _order(records: list[dict], value) -> list[dict]:
    return sorted((r for r in records if value(r) is not None), key=value)


def cmmd_vs_fid(records: list[dict]) -> str | None:
    """Whether CMMD ranks the model x settings as FID does, and where they differ."""
    kind = "world" if any(r["fid"].get("world") is not None for r in records) else \
        next((k for r in records for k in r["fid"] if r["fid"][k] is not None), None)
    clip = next((c for r in records for c in r.get("cmmd", {}) if r["cmmd"][c] is not None), None)
    both = [r for r in records if kind and clip and r["fid"].get(kind) is not None
            and r.get("cmmd", {}).get(clip) is not None]
    if len(both) < 2:
        return None
    by_fid = _order(both, lambda r: r["fid"][kind])
    by_cmmd = _order(both, lambda r: r["cmmd"][clip])
    fid_text = " < ".join(_name(r) for r in by_fid)
    if [id(r) for r in by_fid] == [id(r) for r in by_cmmd]:
        return f"CMMD ({clip} CLIP) orders the models as FID ({kind}) does, best first: {fid_text}."
    swapped = [f"{_name(a)} vs {_name(b)}" for a, b in itertools.combinations(both, 2)
               if (a["fid"][kind] - b["fid"][kind]) * (a["cmmd"][clip] - b["cmmd"][clip]) < 0]
    return (f"CMMD ({clip} CLIP) and FID ({kind}) disagree on {len(swapped)} pair(s): {'; '.join(swapped)}. "
            f"FID, best first: {fid_text}; CMMD: {' < '.join(_name(r) for r in by_cmmd)}.")


def _share(value) -> str:
    return "–" if value is None else f"{100 * value:.0f} %"


def _number(value, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def fidelity_table(records: list[dict]) -> tuple[list[str], list[list[str]]] | None:
    """Precision / recall / density / coverage (k-NN, on the FID features) and within-prompt diversity."""
    kinds = sorted({k for r in records for k, v in r.get("prdc", {}).items() if v})
    if not kinds and not any(r.get("diversity") for r in records):
        return None
    header = ["model"]
    for kind in kinds:
        header += [f"precision ({kind})", f"recall ({kind})", f"density ({kind})", f"coverage ({kind})"]
    header += ["layouts differ: generated / references"]
    spreads = sorted({k for r in records for k in ((r.get("diversity") or {}).get("spread") or {})})
    header += [f"feature spread ({k}): generated / references" for k in spreads]
    body, floor = [], floor_marks.floor_record(records)
    for r in _sorted(records):
        row = [_name(r)]
        for kind in kinds:
            found = r.get("prdc", {}).get(kind) or {}
            row += [_number(found.get(m)) + floor_marks.prdc_mark(r, floor, kind, m)
                    for m in ("precision", "recall", "density", "coverage")]
        found = r.get("diversity") or {}
        row.append(f"{_share(found.get('layouts_differ'))} / {_share(found.get('layouts_differ_reference'))}")
        row += [f"{_number((found.get('spread') or {}).get(k))} / {_number((found.get('spread_reference') or {}).get(k))}"
                for k in spreads]
        body.append(row)
    return header, body


def judge_sentence(records: list[dict]) -> str | None:
    """The judge's accuracy on the rendered references of the run's prompts (the same for every group that
    shares the prompts and seeds: the largest group's is stated)."""
    found = [r["judge_on_references"] for r in records if r.get("judge_on_references")]
    if not found:
        return None
    best = max(found, key=lambda f: f["n"])
    text = (f"The judge on its own references: it passes {100 * best['correct']:.1f} % of the {best['n']} rendered "
            f"references of this run's prompts and seeds (a perfect generator would score this).")
    if best["failures"]:
        text += " Failed: " + "; ".join(f"“{t}” (seed {s}): {why}" for t, s, why in best["failures"]) + "."
    return text + " Robustness to noise, blur, JPEG, color shift and scale: `python -m evaluation judge-audit`."


def clip_by_category_table(records: list[dict]) -> tuple[list[str], list[list[str]]] | None:
    """CLIP score per prompt category, when some category has no world target (so no accuracy to show)."""
    categories = sorted({c for r in records for c in (r.get("clip_by_category") or {})})
    judged = {c for r in records for c in r["accuracy"]}
    if not categories or set(categories) <= judged:
        return None
    header = ["model"] + categories
    body = []
    for r in _sorted(records):
        values = r.get("clip_by_category") or {}
        body.append([_name(r)] + ["–" if values.get(c) is None else
                                  f"{values[c][0]:.2f} [{values[c][1]:.2f}, {values[c][2]:.2f}]" for c in categories])
    return header, body
