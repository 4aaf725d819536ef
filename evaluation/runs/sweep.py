"""`python -m evaluation run`: every (model, sampler, steps, guidance, prompt, sample) image, once.

Image (prompt j, sample k) uses seed = base_seed + 1000 * j + k for every model and setting, so
columns of a grid share their noise and any image can be remade with `python -m models sample
--seed S`. Under `accelerate launch` or torchrun the missing images are split between the processes
(accelerate's PartialState: one GPU each, or gloo on CPU); images already in the store are never
generated again.
"""
from __future__ import annotations

import dataclasses
import inspect
import json
import pathlib
import time

from tqdm import tqdm

from evaluation.prompts import PromptItem
from evaluation.store import RunStore, key_for
from models.acceleration import autocast, compile_generator
from models.contract import MAX_SEED, ImageRequest, batches, default_batch_size
from models.devices import resolve_device
from models.files import atomic_write
from models.safe_files import read_bytes
from world.accuracy import judge
from world.seeds import run_seed


@dataclasses.dataclass(frozen=True)
class Setting:
    sampler: str | None
    steps: int | None
    guidance: float | None  # None: the model has no guidance (GANs)
    layout: str | None = None  # layout-aware models: None = the planner's layout, "none" = the caption alone
    truncation: float | None = None  # models that take truncation psi (GANs): None = the model's default

    @property
    def name(self) -> str:
        if self.sampler is None and self.guidance is not None:  # code by code under guidance: the AR family
            return f"tokens-g{_number(self.guidance)}"
        if self.sampler is None:
            return "one-pass" + ("" if self.truncation is None else f"-psi{_number(self.truncation)}")
        scale = "unguided" if self.guidance is None else f"g{_number(self.guidance)}"
        name = f"{self.sampler}-{self.steps}steps-{scale}"
        return name + ("-nolayout" if self.layout == "none" else "")


def _number(value: float) -> str:
    """%g when it reads back exactly (the names of every older run), else repr: 1.0000001 and 1.0000002 differ."""
    short = f"{value:g}"
    return short if float(short) == value else repr(float(value))


@dataclasses.dataclass(frozen=True)
class WorkItem:
    model: str
    setting: Setting
    prompt_index: int
    sample: int
    seed: int


def settings_for(info, guidance: list[float], steps: list[int], samplers: list[str],
                 layouts: list[str] | None = None, truncations: list[float] | None = None) -> list[Setting]:
    """The grid a model takes: samplers x steps x guidance for guided diffusion, samplers x steps for
    unconditional or class diffusion without guidance, one setting for one-pass models (GANs), one per
    truncation psi when given (models that take truncation); layout-aware models (layouts given) also x
    layout source ("planner" | "none")."""
    if not info.samplers and info.guidance_applies:  # autoregressive: guidance, no sampler, no steps
        return [Setting(None, None, g) for g in guidance]
    if not info.samplers:
        return [Setting(None, None, None, truncation=psi) for psi in (truncations or [None])]
    chosen = [s for s in samplers if s in info.samplers] or [info.default_sampler]
    scales = guidance if info.guidance_applies else [None]
    sources = [None if source == "planner" else source for source in (layouts or ["planner"])]
    return [Setting(sampler, step, g, source) for sampler in chosen for step in steps for g in scales
            for source in sources]


def takes_truncation(generator) -> bool:
    """Whether the generator takes a truncation psi (the GAN family's fidelity/diversity knob): in
    generate_requests, or in make_images, the batch step of a GeneratorBase family."""
    return any("truncation" in inspect.signature(getattr(generator, method)).parameters
               for method in ("generate_requests", "make_images") if callable(getattr(generator, method, None)))


def candidate_settings(options: "RunOptions") -> list[list[Setting]]:
    """Every grid a model could take under these options, before it is loaded (to skip loading when done)."""
    sources = [None if source == "planner" else source for source in options.layout]
    return [[Setting(s, step, g) for s in options.samplers for step in options.steps for g in scales]
            for scales in (options.guidance, [None])] + [[Setting(None, None, None)]] + [
        [Setting(None, None, g) for g in options.guidance]] + [
        [Setting(None, None, None, truncation=psi) for psi in options.truncation or [None]]] + [
        [Setting(s, step, g, source) for s in options.samplers for step in options.steps for g in options.guidance
         for source in sources]]


def plan(model: str, settings: list[Setting], prompts: list[PromptItem], n: int, base_seed: int) -> list[WorkItem]:
    return [WorkItem(model, setting, j, k, run_seed(base_seed, j, k))
            for setting in settings for j in range(len(prompts)) for k in range(n)]


def chunks_of(items: list[WorkItem], batch_size: int) -> list[list[WorkItem]]:
    """The run's fixed split into batches: consecutive items of one model and setting, `batch_size` at a time.
    It is cut from the whole plan, never from what is missing, so an image made on resume is bitwise the one
    an uninterrupted run makes."""
    groups: dict[tuple[str, Setting], list[WorkItem]] = {}
    for item in items:
        groups.setdefault((item.model, item.setting), []).append(item)
    return [chunk for group in groups.values() for chunk in batches(group, batch_size)]


def generate_missing(store: RunStore, generator, items: list[WorkItem], prompts: list[PromptItem], scorer,
                     done: set[str], device: str, state=None, batch_size: int = 1) -> int:
    """Generate this process's share of the items not yet in the store; returns how many it made.

    A batch with any image missing is computed whole (only the missing images are written). `state`
    (accelerate's PartialState) splits those batches between the processes; every process holds the
    same `done`, so the shares are disjoint and cover them all."""
    chunks = [chunk for chunk in chunks_of(items, batch_size) if any(row_key(i) not in done for i in chunk)]
    if state is None:
        return _generate(store, generator, chunks, prompts, scorer, device, done, batch_size)
    with state.split_between_processes(chunks) as todo:
        return _generate(store, generator, todo, prompts, scorer, device, done, batch_size)


def _generate(store: RunStore, generator, chunks: list[list[WorkItem]], prompts: list[PromptItem], scorer,
              device: str, done: set[str], batch_size: int) -> int:
    info = generator.info
    missing = sum(row_key(item) not in done for chunk in chunks for item in chunk)
    bar = tqdm(total=missing, desc=f"{info.name}", unit="img", disable=not missing, dynamic_ncols=True)
    made = 0
    for chunk in chunks:
        setting = chunk[0].setting
        # a layout-aware model: the setting says where its layout comes from; a GAN: its truncation psi
        extra = {"layout": setting.layout or "planner"} if getattr(generator, "layout_aware", False) else {}
        if setting.truncation is not None:
            extra["truncation"] = setting.truncation
        requests = [ImageRequest(prompts[item.prompt_index].prompt, item.seed) for item in chunk]
        started = time.perf_counter()
        images = generator.generate_requests(requests, steps=setting.steps, guidance_scale=setting.guidance,
                                             sampler=setting.sampler, batch_size=len(chunk), **extra)
        latency = (time.perf_counter() - started) / len(chunk)  # per image, the batch's time shared
        todo = [(item, image) for item, image in zip(chunk, images) if row_key(item) not in done]
        scores = (scorer.score([image for _, image in todo], [prompts[item.prompt_index].prompt for item, _ in todo])
                  if scorer is not None else [None] * len(todo))
        for (item, image), clip_score in zip(todo, scores):
            store.add(image, _row(store, item, prompts[item.prompt_index], info, image, clip_score, latency,
                                  device, batch_size))
        made += len(todo)
        bar.update(len(todo))
        bar.set_postfix(setting=setting.name, s_per_img=f"{latency:.2f}", batch=len(chunk))
    bar.close()
    return made


def _row(store: RunStore, item: WorkItem, prompt: PromptItem, info, image, clip_score, latency: float,
         device: str, batch_size: int) -> dict:
    """One table row; batch_size is the run's setting, which fixes the split and so the image bitwise."""
    setting = item.setting
    row = {"key": row_key(item), "model": item.model, "family": info.family, "setting": setting.name,
           "sampler": setting.sampler, "steps": setting.steps, "guidance": setting.guidance,
           "truncation": setting.truncation, "prompt_index": item.prompt_index, "sample": item.sample, "seed": item.seed,
           "prompt": prompt.prompt, "category": prompt.category, "target": prompt.target,
           "clip_score": clip_score, "correct": None, "color_shape": None, "latency_s": round(latency, 4),
           "device": device, "batch_size": batch_size,
           "planned_caption": image.info.get("caption"), "layout": image.info.get("layout") or None,
           "file": store.image_path(item.model, setting.name, item.prompt_index, item.sample,
                                    item.seed).relative_to(store.root).as_posix()}
    if prompt.target is not None:
        verdict = judge(prompt.target, image)
        row["correct"], row["color_shape"] = bool(verdict["full"]), bool(verdict["color_shape"])
        row["reason"] = verdict["reason"]
    return row


def row_key(item: WorkItem) -> str:
    return key_for(item.model, item.setting.name, item.prompt_index, item.sample, item.seed)


def distributed(device: str):
    """accelerate's PartialState for this process (one process unless launched by `accelerate launch` or
    torchrun), and the device it runs on: under several processes and 'cuda', its own GPU (cuda:LOCAL_RANK);
    on 'cpu', gloo (nccl would fail torchmetrics' sync of CPU tensors). PartialState initialises the process group."""
    from accelerate import PartialState

    state = PartialState(cpu=device == "cpu")
    if device == "cuda" and state.num_processes > 1:  # one GPU per process, already made current
        device = str(state.device)
    return state, device


def write_run_json(store: RunStore, settings: dict) -> None:
    atomic_write(store.root / "run.json", json.dumps(settings, indent=2) + "\n")


# ---------------------------------------------------------------- the whole run
@dataclasses.dataclass
class RunOptions:
    models: list[str]
    prompts: str
    out: str
    guidance: list[float] = dataclasses.field(default_factory=lambda: [1.0, 3.0, 5.0])
    steps: list[int] = dataclasses.field(default_factory=lambda: [50])
    samplers: list[str] = dataclasses.field(default_factory=lambda: ["ddim"])
    n: int = 2
    seed: int = 0
    device: str = "auto"
    features: list[str] = dataclasses.field(default_factory=lambda: ["world"])
    inception_weights: str | None = None
    clip: str = "world"
    reference: str | None = None
    layout: list[str] = dataclasses.field(default_factory=lambda: ["planner"])  # layout-aware models: planner, none
    truncation: list[float] | None = None  # models that take truncation psi (GANs); None: their default
    batch_size: int | None = None  # images computed together; None: sized for the device (models.contract)
    precision: str = "auto"  # CUDA autocast: auto (bf16 where supported, else fp16) | fp32 | fp16 | bf16
    compile: bool = False  # torch.compile each model's network (pays off on long GPU runs)
    floor: bool = True  # also score the world's own rendering (other seeds) as the row `world`: the noise floor


def _done_for(model: str, settings: list[Setting], prompts, options: RunOptions, done: set[str]) -> bool:
    return all(row_key(i) in done for i in plan(model, settings, prompts, options.n, options.seed))


def _open_store(options: RunOptions, rank: int) -> tuple[RunStore, dict]:
    """The run folder, locked by rank 0 (one run writes a folder at a time), and what run.json keeps across
    commands: the checkpoint of every model whose images it holds, and the image folders scored into it
    (`imported`, by `evaluation score`); a one-line error when the folder holds another run."""
    from evaluation.run_health import heal_settings, holds_run
    from evaluation.store import read_settings
    from models.registry import checkpoint_fingerprint

    store = RunStore(options.out, rank)
    if rank == 0:  # the other ranks write nothing before rank 0 has locked and repaired the store
        store.lock()
    previous = heal_settings(store.root, holds_run(store.root)) if rank == 0 else read_settings(store.root)
    if previous.get("prompts", options.prompts) != options.prompts:  # a dropped field: the rows are checked
        raise ValueError(f"{options.out} holds a run on prompts {previous.get('prompts')!r}, "
                         f"not {options.prompts!r}: choose another --out")
    # images already in the store were made by the checkpoints recorded here; a retrained model must not
    # pass its predecessor's images off as its own
    checkpoints = dict(previous.get("checkpoints", {}))
    for name in options.models:
        now = checkpoint_fingerprint(name)
        if name in checkpoints and now is not None and checkpoints[name] != now:
            raise ValueError(f"{options.out} holds images of {name} from another checkpoint (weights "
                             f"{checkpoints[name]}, now {now}): choose another --out")
        checkpoints[name] = now
    imported = {"imported": previous["imported"]} if isinstance(previous.get("imported"), dict) else {}
    return store, {"checkpoints": checkpoints, **imported}


def check_seeds(seed: int, prompts: int, n: int) -> None:
    """Every image's seed (seed + 1000 j + k) within the contract's range, checked before any model loads."""
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"--seed must be an integer from 0 to {MAX_SEED}, got {seed!r}")
    last = run_seed(seed, prompts - 1, n - 1)
    if last > MAX_SEED:
        raise ValueError(f"--seed {seed}: image seeds run from it to {last} on {prompts} prompts x {n} samples; "
                         f"keep them within {MAX_SEED}")


def run(options: RunOptions, generators: dict | None = None) -> dict:
    """Generate what is missing, then metrics and reports; returns {"generated", "images", "report", "rows"}.
    `generators` maps names in options.models to objects already made (the Python API's own models)."""
    from evaluation.runs.custom_models import is_custom_spec, load_generator

    from evaluation.metrics.features import check_available
    from evaluation.run_health import check_prompts, heal_folder
    from evaluation.prompts import load_prompts

    state, device = distributed(resolve_device(options.device))
    options = dataclasses.replace(options, batch_size=options.batch_size or default_batch_size(device))
    rank = state.process_index
    prompts = load_prompts(options.prompts)
    check_seeds(options.seed, len(prompts), options.n)
    options, generators = _with_floor(options, prompts, generators)
    # the user's package.module:attribute models are imported first: a wrong name fails before any work
    generators = {**{name: load_generator(name, device) for name in options.models if is_custom_spec(name)},
                  **(generators or {})}
    for kind in options.features:  # fail before generating anything, but load the extractors only when needed
        check_available(kind, options.inception_weights)
    store, kept = _open_store(options, rank)
    if rank == 0:  # record the checkpoints before the first image, so that a crash keeps them
        write_run_json(store, {**dataclasses.asdict(options), "n_prompts": len(prompts), **kept})
    rows = heal_folder(store) if rank == 0 else None
    state.wait_for_everyone()
    rows = rows if rows is not None else store.rows()  # other ranks read what rank 0 repaired
    check_prompts(rows, prompts, store.root)
    generated, taken = _generate_models(options, store, prompts, set(rows), device, state, generators)
    state.wait_for_everyone()
    wanted = {row_key(item) for name, grid in taken.items() for item in plan(name, grid, prompts, options.n, options.seed)}
    imported = set(kept.get("imported", {}))  # image folders scored into this run stay in its report
    rows = {k: r for k, r in store.rows().items() if k in wanted or r["model"] in imported}  # not older grids
    if rank == 0:
        write_run_json(store, {**dataclasses.asdict(options), "n_prompts": len(prompts), **kept})
    report_path = finish(store.root, rows, options, (rank, state.num_processes))
    return {"generated": generated, "images": len(rows), "report": report_path, "rows": rows}


def _with_floor(options: RunOptions, prompts: list[PromptItem], generators: dict | None) -> tuple[RunOptions, dict]:
    """The noise-floor row (evaluation/metrics/noise_floor.py) added to the models, once per run, when every prompt has a
    world target."""
    from evaluation.metrics.noise_floor import FLOOR_MODEL, floor_generator

    renderer = floor_generator(prompts) if options.floor and FLOOR_MODEL not in options.models else None
    if renderer is None:
        return options, dict(generators or {})
    return (dataclasses.replace(options, models=[*options.models, FLOOR_MODEL]),
            {**(generators or {}), FLOOR_MODEL: renderer})


def _generate_models(options: RunOptions, store: RunStore, prompts: list[PromptItem], done: set[str], device: str,
                     state, generators: dict) -> tuple[int, dict[str, list[Setting]]]:
    """Each model's missing images, model after model; returns how many this process made and the settings each
    model takes (a model lacking every asked sampler takes its own: flow's euler under --samplers ddim)."""
    from evaluation.metrics.clip_score import ClipScorer
    from evaluation.runs.custom_models import load_generator

    scorer = None
    generated, taken = 0, {}
    for name in options.models:
        done_grid = next((grid for grid in candidate_settings(options) if _done_for(name, grid, prompts, options, done)),
                         None)
        if done_grid is not None:
            taken[name] = done_grid
            continue  # nothing to make: do not even load the model
        generator = generators.get(name) or load_generator(name, device)
        if options.compile:
            compile_generator(generator)
        scorer = scorer or ClipScorer(options.clip, device)
        settings = settings_for(generator.info, options.guidance, options.steps, options.samplers,
                                options.layout if getattr(generator, "layout_aware", False) else None,
                                options.truncation if takes_truncation(generator) else None)
        taken[name] = settings
        items = plan(name, settings, prompts, options.n, options.seed)
        with autocast(device, options.precision):
            generated += generate_missing(store, generator, items, prompts, scorer, done, device, state,
                                          options.batch_size)
    return generated, taken


def finish(root, rows: dict[str, dict], options: RunOptions, shard: tuple[int, int] = (0, 1)):
    """Metrics (cached by a fingerprint of the images and options), the CSV table and both reports. A cached
    metrics.json that does not make a report is set aside and computed again."""
    from evaluation.report import run_report as report
    from evaluation.store import RunStore, read_settings
    from models.safe_files import set_aside

    root = pathlib.Path(root)
    records, cached = _metrics(root, rows, options, shard)
    if shard[0] != 0:
        return None
    RunStore(root).write_csv(rows)
    run_settings = read_settings(root)
    try:
        markdown, _ = report.write(root, run_settings, records, rows)
    except (TypeError, KeyError, ValueError, AttributeError, IndexError) as error:
        if not cached:
            raise
        set_aside(root / "metrics.json", f"its records do not make a report ({type(error).__name__}: {error})"[:200])
        records, _ = _metrics(root, rows, options, shard)
        markdown, _ = report.write(root, run_settings, records, rows)
    return markdown


def _metrics(root: pathlib.Path, rows: dict[str, dict], options: RunOptions, shard: tuple[int, int]):
    """(records, whether they came from metrics.json): the cache when its fingerprint matches, else computed."""
    from evaluation.metrics import run_metrics as metrics
    from evaluation.metrics.features import extractor
    from evaluation.run_health import records_cover

    ids = metrics.image_ids(root, rows)  # every image read once, for the fingerprint and the feature cache
    key = metrics.fingerprint(rows, {"features": options.features, "reference": options.reference, "clip": options.clip},
                              ids)
    cached = root / "metrics.json"
    saved = _read_json(cached)  # its shape checked by evaluation.run_health; unreadable: computed again
    if isinstance(saved, dict) and saved.get("fingerprint") == key:
        if records_cover(saved.get("records"), rows):
            return saved["records"], True
        if shard[0] == 0:  # one process renames it; every process computes
            from models.safe_files import set_aside
            set_aside(cached, "its records are not one per model and setting of the run")
    extractors = {kind: extractor(kind, options.inception_weights) for kind in options.features}
    records = metrics.compute(root, rows, extractors, options.reference, shard, ids)
    if shard[0] == 0:
        atomic_write(cached, json.dumps({"fingerprint": key, "records": records}, indent=1) + "\n")
    return records, False


def _read_json(path: pathlib.Path):
    try:
        return json.loads(read_bytes(path, limit=1 << 30).decode("utf-8"))
    except (ValueError, OSError, RecursionError):  # absent, a link, garbage: no cache (FileRefused is a ValueError)
        return None
