"""`python -m evaluation run`: every (model, sampler, steps, guidance, prompt, sample) image, once.

Image (prompt j, sample k) uses seed = base_seed + 1000 * j + k for every model and setting, so
columns of a grid share their noise and any image can be remade with `python -m models sample
--seed S`. Under `accelerate launch` or torchrun the missing images are split between the processes
(accelerate's PartialState: one GPU each, or gloo on CPU); images already in the store are never
generated again.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import pathlib
import time

import torch
from tqdm import tqdm

from evaluation.prompts import PromptItem
from evaluation.store import RunStore
from models.devices import resolve_device
from models.files import atomic_write
from world.accuracy import judge
from world.seeds import run_seed


@dataclasses.dataclass(frozen=True)
class Setting:
    sampler: str | None
    steps: int | None
    guidance: float | None  # None: the model has no guidance (GANs)
    layout: str | None = None  # layout-aware models: None = the planner's layout, "none" = the caption alone

    @property
    def name(self) -> str:
        if self.sampler is None:
            return "one-pass"
        name = f"{self.sampler}-{self.steps}steps-" + ("unguided" if self.guidance is None else f"g{self.guidance:g}")
        return name + ("-nolayout" if self.layout == "none" else "")


@dataclasses.dataclass(frozen=True)
class WorkItem:
    model: str
    setting: Setting
    prompt_index: int
    sample: int
    seed: int


def settings_for(info, guidance: list[float], steps: list[int], samplers: list[str],
                 layouts: list[str] | None = None) -> list[Setting]:
    """The grid a model takes: samplers x steps x guidance for guided diffusion, samplers x steps for
    unconditional or class diffusion without guidance, one setting for one-pass models (GANs); layout-aware
    models (layouts given) also x layout source ("planner" | "none")."""
    if not info.samplers:
        return [Setting(None, None, None)]
    chosen = [s for s in samplers if s in info.samplers] or [info.default_sampler]
    scales = guidance if info.guidance_applies else [None]
    sources = [None if source == "planner" else source for source in (layouts or ["planner"])]
    return [Setting(sampler, step, g, source) for sampler in chosen for step in steps for g in scales
            for source in sources]


def candidate_settings(options: "RunOptions") -> list[list[Setting]]:
    """Every grid a model could take under these options, before it is loaded (to skip loading when done)."""
    sources = [None if source == "planner" else source for source in options.layout]
    return [[Setting(s, step, g) for s in options.samplers for step in options.steps for g in scales]
            for scales in (options.guidance, [None])] + [[Setting(None, None, None)]] + [
        [Setting(s, step, g, source) for s in options.samplers for step in options.steps for g in options.guidance
         for source in sources]]


def plan(model: str, settings: list[Setting], prompts: list[PromptItem], n: int, base_seed: int) -> list[WorkItem]:
    return [WorkItem(model, setting, j, k, run_seed(base_seed, j, k))
            for setting in settings for j in range(len(prompts)) for k in range(n)]


def autocast(device: str):
    """fp16 autocast on CUDA (bf16 where the card prefers it), nothing on CPU."""
    if not device.startswith("cuda"):
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast("cuda", dtype=dtype)


def generate_missing(store: RunStore, generator, items: list[WorkItem], prompts: list[PromptItem], scorer,
                     done: set[str], device: str, state=None) -> int:
    """Generate this process's share of the items not yet in the store; returns how many it made.

    `state` (accelerate's PartialState) splits the missing items between the processes; every process
    holds the same `done`, so the shares are disjoint and cover them all."""
    missing = [item for item in items if row_key(item) not in done]
    if state is None:
        return _generate(store, generator, missing, prompts, scorer, device)
    with state.split_between_processes(missing) as todo:
        return _generate(store, generator, todo, prompts, scorer, device)


def _generate(store: RunStore, generator, todo: list[WorkItem], prompts: list[PromptItem], scorer, device: str) -> int:
    info = generator.info
    bar = tqdm(todo, desc=f"{info.name}", unit="img", disable=not todo, dynamic_ncols=True)
    for item in bar:
        prompt = prompts[item.prompt_index]
        setting = item.setting
        # a layout-aware model: the setting says where its layout comes from
        extra = {"layout": setting.layout or "planner"} if getattr(generator, "layout_aware", False) else {}
        started = time.perf_counter()
        with autocast(device):
            image = generator.generate([prompt.prompt], seed=item.seed, steps=setting.steps,
                                       guidance_scale=setting.guidance, sampler=setting.sampler, **extra)[0]
        latency = time.perf_counter() - started
        row = {"key": row_key(item), "model": item.model, "family": info.family, "setting": setting.name,
               "sampler": setting.sampler, "steps": setting.steps, "guidance": setting.guidance,
               "prompt_index": item.prompt_index, "sample": item.sample, "seed": item.seed,
               "prompt": prompt.prompt, "category": prompt.category, "target": prompt.target,
               "clip_score": scorer.score([image], [prompt.prompt])[0] if scorer is not None else None,
               "correct": None, "color_shape": None, "latency_s": round(latency, 4), "device": device,
               "planned_caption": image.info.get("caption"), "layout": image.info.get("layout") or None,
               "file": store.image_path(item.model, setting.name, item.prompt_index, item.sample,
                                        item.seed).relative_to(store.root).as_posix()}
        if prompt.target is not None:
            verdict = judge(prompt.target, image)
            row["correct"], row["color_shape"] = bool(verdict["full"]), bool(verdict["color_shape"])
        store.add(image, row)
        bar.set_postfix(setting=setting.name, s_per_img=f"{latency:.2f}")
    return len(todo)


def row_key(item: WorkItem) -> str:
    return f"{item.model}|{item.setting.name}|{item.prompt_index:04d}|{item.sample:02d}|{item.seed}"


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


def _done_for(model: str, settings: list[Setting], prompts, options: RunOptions, done: set[str]) -> bool:
    return all(row_key(i) in done for i in plan(model, settings, prompts, options.n, options.seed))


def run(options: RunOptions) -> dict:
    """Generate what is missing, then metrics and reports; returns {"generated", "images", "report"}."""
    from evaluation.clip_score import ClipScorer
    from evaluation.features import check_available
    from evaluation.prompts import load_prompts
    from models.registry import checkpoint_fingerprint, load

    state, device = distributed(resolve_device(options.device))
    rank = state.process_index
    prompts = load_prompts(options.prompts)
    for kind in options.features:  # fail before generating anything, but load the extractors only when needed
        check_available(kind, options.inception_weights)
    previous_path = pathlib.Path(options.out) / "run.json"
    previous = json.loads(previous_path.read_text()) if previous_path.is_file() else {}
    if previous and previous.get("prompts") != options.prompts:
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
    store = RunStore(options.out, rank)
    if rank == 0:  # record the checkpoints before the first image, so that a crash keeps them
        write_run_json(store, {**dataclasses.asdict(options), "n_prompts": len(prompts), "checkpoints": checkpoints})
    rows = store.repair() if rank == 0 else None
    state.wait_for_everyone()
    rows = rows if rows is not None else store.rows()  # other ranks read what rank 0 repaired
    done = set(rows)
    scorer = None
    generated = 0
    for name in options.models:
        if any(_done_for(name, grid, prompts, options, done) for grid in candidate_settings(options)):
            continue  # nothing to make: do not even load the model
        generator = load(name, device=device)
        scorer = scorer or ClipScorer(options.clip, device)
        settings = settings_for(generator.info, options.guidance, options.steps, options.samplers,
                                options.layout if getattr(generator, "layout_aware", False) else None)
        items = plan(name, settings, prompts, options.n, options.seed)
        generated += generate_missing(store, generator, items, prompts, scorer, done, device, state)
    state.wait_for_everyone()
    wanted = {row_key(item) for name in options.models for grid in candidate_settings(options)
              for item in plan(name, grid, prompts, options.n, options.seed)}
    rows = {k: r for k, r in store.rows().items() if k in wanted}  # this command's grid, not older ones
    if rank == 0:
        write_run_json(store, {**dataclasses.asdict(options), "n_prompts": len(prompts), "checkpoints": checkpoints})
    report_path = finish(store.root, rows, options, (rank, state.num_processes))
    return {"generated": generated, "images": len(rows), "report": report_path}


def finish(root, rows: dict[str, dict], options: RunOptions, shard: tuple[int, int] = (0, 1)):
    """Metrics (cached by a fingerprint of the images and options), the CSV table and both reports."""
    from evaluation.features import extractor

    from evaluation import metrics, report
    from evaluation.store import RunStore

    root = pathlib.Path(root)
    key = metrics.fingerprint(rows, {"features": options.features, "reference": options.reference})
    cached = root / "metrics.json"
    records = None
    if cached.is_file():
        saved = json.loads(cached.read_text())
        records = saved["records"] if saved.get("fingerprint") == key else None
    if records is None:
        extractors = {kind: extractor(kind, options.inception_weights) for kind in options.features}
        records = metrics.compute(root, rows, extractors, options.reference, shard)
        if shard[0] == 0:
            atomic_write(cached, json.dumps({"fingerprint": key, "records": records}, indent=1) + "\n")
    if shard[0] != 0:
        return None
    RunStore(root).write_csv(rows)
    run_settings = json.loads((root / "run.json").read_text()) if (root / "run.json").is_file() else {}
    markdown, _ = report.write(root, run_settings, records, rows)
    return markdown
