"""`python -m evaluation score IMAGES`: images made elsewhere, scored as a model of a run.

The images join RUN_DIR as model NAME, setting "external": the same rows (CLIP score, the judge's verdict on
world prompts), the same metrics and the same report as `evaluation run`, beside any generated models already
there. Image (prompt j, sample k) takes the run's seed for that slot, seed + 1000 j + k, unless the folder gives
its own: the seed picks the rendered reference scene of a world prompt and pairs the image with the built-in
models' image of the same slot. run.json lists the folders scored in (`imported`), so later `evaluation run`
commands into the same folder keep them in the report. Without --prompts a GenEval folder names its own set
(folder j holds prompt j), written to RUN_DIR/prompts.jsonl, which later commands into the run take as --prompts.
`export-prompts` writes a set out for a job elsewhere.
"""
from __future__ import annotations

import argparse
import dataclasses
import pathlib

from tqdm import tqdm

from evaluation.store import key_for

SETTING = "external"
OWN_PROMPTS = "prompts.jsonl"  # RUN_DIR/prompts.jsonl: the set a GenEval folder named itself


def score(images: str | pathlib.Path, prompts: str | None, out: str | pathlib.Path, model_name: str | None = None,
          device: str = "auto") -> dict:
    """Score a folder into RUN_DIR; returns {"scored", "images", "report", "rows"} like evaluation.runs.sweep.run.
    prompts None: a GenEval folder's own metadata is the set."""
    from evaluation.metrics.clip_score import ClipScorer
    from evaluation.run_health import check_prompts, heal_folder, heal_settings, holds_run
    from evaluation.runs.image_folders import layout_of, read_folder
    from evaluation.store import RunStore
    from evaluation.runs.sweep import finish, write_run_json
    from models.devices import resolve_device
    from models.registry import names

    images, out = pathlib.Path(images), pathlib.Path(out)
    name = model_name or images.resolve().name
    if name in names() or name.startswith("hub:"):
        raise ValueError(f"--model-name {name}: that is a generator's name; choose another")
    layout_of(images)  # neither layout: refused before RUN_DIR is made
    store = RunStore(out)
    store.lock()
    settings = heal_settings(out, holds_run(out))
    prompts, items = _prompt_set(images, prompts, out, settings)
    placed = read_folder(images, items)
    if settings.get("prompts", prompts) != prompts:
        raise ValueError(f"{out} holds a run on prompts {settings.get('prompts')!r}, not {prompts!r}: "
                         f"choose another --out")
    options = _options(settings, prompts, out)
    done = heal_folder(store)
    check_prompts(done, items, out)
    scorer = ClipScorer(options.clip, resolve_device(device))
    todo = [image for image in placed if _key(name, image, options.seed) not in done]
    for start in tqdm(range(0, len(todo), 32), desc=f"score {name}", unit="batch", disable=not todo):
        _add_batch(store, scorer, name, todo[start:start + 32], items, options.seed, images)
    imported = {**settings.get("imported", {}), name: {"source": str(images.resolve()), "layout": layout_of(images),
                                                        "images": len(placed)}}
    record = {**dataclasses.asdict(options), "n_prompts": len(items), "checkpoints": {}, **settings}
    write_run_json(store, {**record, "imported": imported})
    rows = store.rows()
    report = finish(out, rows, options)
    return {"scored": len(todo), "images": len(rows), "report": report, "rows": rows}


def _prompt_set(images: pathlib.Path, prompts: str | None, out: pathlib.Path, settings: dict) -> tuple[str, list]:
    """(the set's name, its items): --prompts as given; else the run's own set when RUN_DIR holds one, else the
    GenEval folder's own set, kept as RUN_DIR/prompts.jsonl. read_folder then holds every folder to its prompt."""
    import json

    from evaluation.prompts import load_prompts
    from evaluation.runs.geneval_folders import ImageFolderError, own_prompts
    from evaluation.runs.image_folders import layout_of
    from models.files import atomic_write

    if prompts is not None:
        return prompts, load_prompts(prompts)
    if layout_of(images) == "flat":
        raise ImageFolderError(f"{images}: a flat folder (images.csv) names no prompt set of its own; give --prompts")
    if settings.get("prompts"):
        return settings["prompts"], load_prompts(settings["prompts"])
    kept = out / OWN_PROMPTS
    if not kept.exists():
        atomic_write(kept, "".join(json.dumps(record) + "\n" for record in own_prompts(images)))
    return str(kept), load_prompts(str(kept))


def _options(settings: dict, prompts: str, out: pathlib.Path):
    """The run's options from run.json's sound fields (a new run: the defaults)."""
    from evaluation.runs.sweep import RunOptions

    fields = {k: settings[k] for k in RunOptions.__dataclass_fields__ if k in settings}
    return RunOptions(**{"models": [], "prompts": prompts, "out": str(out), **fields})


def _seed(image, base_seed: int) -> int:
    from world.seeds import run_seed
    return image.seed if image.seed is not None else run_seed(base_seed, image.prompt_index, image.sample)


def _key(name: str, image, base_seed: int) -> str:
    return key_for(name, SETTING, image.prompt_index, image.sample, _seed(image, base_seed))


def _add_batch(store, scorer, name: str, batch: list, items, base_seed: int, folder: pathlib.Path) -> None:
    from models.safe_files import open_image
    from world.accuracy import judge

    pictures = [open_image(image.path, inside=folder) for image in batch]  # a link out, a FIFO, a bomb: one line
    scores = scorer.score(pictures, [items[image.prompt_index].prompt for image in batch])
    for image, picture, clip_score in zip(batch, pictures, scores):
        item, seed = items[image.prompt_index], _seed(image, base_seed)
        file = store.image_path(name, SETTING, image.prompt_index, image.sample, seed)
        row = {"key": _key(name, image, base_seed), "model": name, "family": "external", "setting": SETTING,
               "sampler": None, "steps": None, "guidance": None, "prompt_index": image.prompt_index,
               "sample": image.sample, "seed": seed, "prompt": item.prompt, "category": item.category,
               "target": item.target, "clip_score": clip_score, "correct": None, "color_shape": None,
               "latency_s": None, "device": None, "batch_size": None, "planned_caption": None, "layout": None,
               "source": str(image.path), "file": file.relative_to(store.root).as_posix()}
        if item.target is not None:
            verdict = judge(item.target, picture)
            row["correct"], row["color_shape"] = bool(verdict["full"]), bool(verdict["color_shape"])
            if "reason" in verdict:
                row["reason"] = verdict["reason"]
        store.add(picture, row)


# ---------------------------------------------------------------- the command line
def _fail(error: BaseException) -> None:
    raise SystemExit(f"error: {(str(error).splitlines() or [type(error).__name__])[0]}")


def cmd_score(args: argparse.Namespace) -> None:
    from evaluation.metrics.features import FeatureError
    from evaluation.prompts import PromptSetError
    from evaluation.store import StoreError

    try:
        result = score(args.images, args.prompts, args.out, args.model_name, args.device)
    except (FeatureError, PromptSetError, StoreError, ValueError, OSError) as error:
        _fail(error)
    print(f"{result['scored']} images scored, {result['images']} in the run; report: {result['report']} "
          f"(and report.html, images.csv)")


def cmd_export_prompts(args: argparse.Namespace) -> None:
    from evaluation.runs.image_folders import export_prompts
    from evaluation.prompts import load_prompts

    try:
        count = export_prompts(load_prompts(args.set), pathlib.Path(args.out))
    except (ValueError, OSError) as error:
        _fail(error)
    print(f"{count} prompts written to {args.out} in GenEval's layout: put each prompt's images in "
          f"{args.out}/<index>/samples/, then `python -m evaluation score {args.out} --prompts {args.set} --out RUN_DIR`")


def add_parser(sub) -> None:
    p = sub.add_parser("score", help="score a folder of images made elsewhere as a model of a run",
                       description="Score IMAGES (GenEval's layout: 00000/metadata.jsonl + 00000/samples/*.png, or a "
                                   "flat folder with images.csv: file,prompt[,seed]) against the prompts they answer: "
                                   "CLIP score, the judge on world prompts, FID/KID and the report, written into RUN_DIR "
                                   "beside any models generated there (resumable: scored images are kept).")
    p.add_argument("images", help="the folder of images")
    p.add_argument("--prompts", default=None,
                   help="the prompt set the images answer (as for `evaluation run`); default for GenEval's layout: "
                        "the folders' own metadata.jsonl (folder j holds prompt j), kept as RUN_DIR/prompts.jsonl")
    p.add_argument("--out", required=True, help="the run directory (new, or a run on the same prompts)")
    p.add_argument("--model-name", default=None, help="the name shown in tables (default: the folder's name)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda: where the evaluator CLIP runs")
    p.set_defaults(run=cmd_score)
    e = sub.add_parser("export-prompts", help="write a prompt set in GenEval's layout for a job elsewhere",
                       description="OUT/<index>/metadata.jsonl and an empty OUT/<index>/samples/ per prompt, and "
                                   "OUT/evaluation_metadata.jsonl; fill samples/ and score it with `evaluation score`.")
    e.add_argument("set", help="shapes-quick, shapes-full, shapes-<task>-<N>, shapes-all-<N>, or a prompt file")
    e.add_argument("out", help="a new folder")
    e.set_defaults(run=cmd_export_prompts)
