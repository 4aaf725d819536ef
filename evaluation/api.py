"""The Python API: a benchmark run, or a folder of images scored, from a notebook or a script.

    import evaluation
    results = evaluation.run(models=["ddpm", my_generate], prompts="shapes-quick", guidance=[1, 3], n=2, out="runs/x")
    results.table        # one dict per model x setting: accuracy per task, CLIP score, FID, ... (results.dataframe())

It is `python -m evaluation run` (and `score`) without the shell: the same resumable run folder, the same
metrics and reports. Models are built-in or hub names, package.module:attribute strings, or Python objects:
a contract generator, a diffusers pipeline, or a plain callable generate(prompts, seed) -> list of PIL images.
"""
from __future__ import annotations

import dataclasses
import json
import pathlib
from typing import Any, Sequence

# the record's fields that hold (mean, low, high) intervals or a KID's (mean, std)
INTERVAL = ("", "_low", "_high")


@dataclasses.dataclass
class Results:
    """What a run left in its folder: the per-setting table, the per-image rows, the metrics and the reports."""
    out: pathlib.Path
    table: list[dict]  # one flat dict per model x setting (flat_record)
    rows: list[dict]  # one dict per image, as in images.csv
    metrics: list[dict]  # metrics.json's records, nested as the report reads them
    report_md: pathlib.Path
    report_html: pathlib.Path
    generated: int  # images this call made (or scored); the rest were already in the folder

    def dataframe(self):
        """The table as a pandas DataFrame (pandas must be installed)."""
        return _pandas().DataFrame(self.table)

    def rows_dataframe(self):
        """The per-image rows as a pandas DataFrame."""
        return _pandas().DataFrame(self.rows)

    def __repr__(self) -> str:
        return (f"Results({len(self.table)} settings, {len(self.rows)} images, report {self.report_md}; "
                f".table, .rows, .metrics, .dataframe())")


def run(models: Sequence[Any], prompts: str = "shapes-quick", guidance: Sequence[float] = (1.0, 3.0, 5.0),
        n: int = 2, out: str | pathlib.Path = "runs/api", **options) -> Results:
    """Generate what is missing in `out`, compute the metrics, write the reports; return the Results.

    `options` are RunOptions' other fields: steps, samplers, seed, device, features, clip, reference, layout,
    batch_size, precision, compile."""
    from evaluation.runs.custom_models import adapt, name_for
    from evaluation.runs.sweep import RunOptions
    from evaluation.runs.sweep import run as run_sweep

    if isinstance(models, (str, bytes)) or not models:
        raise ValueError("models must be a non-empty list: names (\"ddpm\") or generator objects")
    from models.devices import resolve_device

    device = resolve_device(options.get("device", "auto"))  # where a pipeline handed in draws its noise
    names, objects = [], {}
    for model in models:
        name = model if isinstance(model, str) else _unique(name_for(model), names)
        if not isinstance(model, str):
            objects[name] = adapt(model, name, device)
        names.append(name)
    unknown = set(options) - set(RunOptions.__dataclass_fields__)
    if unknown:
        raise TypeError(f"unknown option(s) {', '.join(sorted(unknown))}; known: "
                        f"{', '.join(f for f in RunOptions.__dataclass_fields__ if f not in ('models', 'out'))}")
    settings = RunOptions(models=names, prompts=prompts, out=str(out), guidance=[float(g) for g in guidance], n=n,
                          **options)
    result = run_sweep(settings, generators=objects)
    return results_of(out, result["rows"], result["generated"])


def score(images: str | pathlib.Path, prompts: str | None, out: str | pathlib.Path, model_name: str | None = None,
          device: str = "auto") -> Results:
    """Score a folder of images made elsewhere into `out` (see `python -m evaluation score --help`)."""
    from evaluation.runs.score_images import score as score_folder

    result = score_folder(images, prompts, out, model_name, device)
    return results_of(out, result["rows"], result["scored"])


def results_of(out: str | pathlib.Path, rows: dict[str, dict], generated: int) -> Results:
    out = pathlib.Path(out)
    from evaluation.metrics.noise_floor import floor_record, near_floor

    records = json.loads((out / "metrics.json").read_text(encoding="utf-8"))["records"]
    floor = floor_record(records)  # the `world` row; near_floor: the figures a perfect generator shares
    return Results(out=out, table=[{**flat_record(r), "near_floor": near_floor(r, floor)} for r in records], rows=[rows[k] for k in sorted(rows)],
                   metrics=records, report_md=out / "report.md", report_html=out / "report.html", generated=generated)


def flat_record(record: dict, prefix: str = "") -> dict:
    """{"accuracy": {"single": [m, lo, hi]}} -> {"accuracy_single": m, "accuracy_single_low": lo, ...}."""
    flat: dict = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flat_record(value, prefix=f"{name}_"))
        elif isinstance(value, (list, tuple)) and len(value) == 3 and all(_number(v) for v in value):
            flat.update({name + suffix: v for suffix, v in zip(INTERVAL, value)})
        elif isinstance(value, (list, tuple)) and len(value) == 2 and all(_number(v) for v in value):
            flat.update({name: value[0], f"{name}_std": value[1]})
        else:
            flat[name] = value
    return flat


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _unique(name: str, taken: list[str]) -> str:
    """Two objects with one name (two lambdas) get name, name-2, ..."""
    candidate, count = name, 1
    while candidate in taken:
        count += 1
        candidate = f"{name}-{count}"
    return candidate


def _pandas():
    try:
        import pandas
    except ImportError:
        raise ImportError("Results.dataframe() needs pandas: pip install pandas (or read Results.table)") from None
    return pandas
