"""One training loop for every trained component (docs/ARCHITECTURE.md, "Training").

The component supplies its network and a `loss(images, captions, step) -> tensor`, and a GAN also a
`discriminator_step(images, captions, step)` that the loop runs first in every step (the D phase; `loss`
is then the G phase); the loop owns the optimiser (AdamW, linear warm-up), EMA, caption dropout,
progress (tqdm) and a log file, periodic sample grids, checkpoint-and-resume
and, at the end, the exported weights with their manifest.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import pathlib
import shlex
import sys
import time
from typing import Callable, Iterator

import numpy as np
import torch
from diffusers.training_utils import EMAModel
from PIL import Image
from safetensors.torch import load_file, load_model, save_model
from tqdm import tqdm

from models.checkpoints import CheckpointError, write_manifest
from models.files import atomic_path, atomic_write
from world import ShapesDataset, collate


@dataclasses.dataclass
class TrainConfig:
    steps: int = 3000
    batch_size: int = 32
    lr: float = 1e-3
    warmup_steps: int = 200
    cooldown_steps: int = 0  # the last N steps decay the learning rate linearly to 10 %
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)  # AdamW's; GANs use (0.5, 0.999) or (0.0, 0.99)
    grad_clip: float = 1.0
    ema_decay: float | None = 0.999  # None: no EMA (exported weights are the raw ones)
    caption_dropout: float = 0.0  # chance a caption is replaced by "" (the unconditional input)
    checkpoint_every: int = 250
    sample_every: int = 500
    data_seed: int = 0
    # False: single-object captions always give size and position (a model that is only ever handed complete
    # captions, as gan-layout is by its planner); True: words dropped as world/scenes.py does
    drop_words: bool = True
    world_version: int = 2  # the scene mixture drawn: 1 (single, pair, count) or 2 (adds counts to five,
    # three or four objects, a count plus one, a line of three, one large and one small)


@dataclasses.dataclass
class Component:
    """What a trainable family hands to the loop."""
    name: str
    family: str
    network: torch.nn.Module  # the parameters trained (and EMA-averaged)
    loss: Callable[[torch.Tensor, list[str], int], torch.Tensor]  # (images [B,3,32,32], captions, step)
    export: Callable[[torch.nn.Module, pathlib.Path], dict]  # (network with final weights, folder) -> components
    evaluate: Callable[[pathlib.Path], dict] | None = None  # (exported folder) -> metrics at save time
    sample_grid: Callable[[torch.nn.Module, int], Image.Image] | None = None
    extra_manifest: dict = dataclasses.field(default_factory=dict)
    weights: str | None = None  # exported file holding network.state_dict(), for warm starts (--init-from)
    # what a family trains beside `network` with optimisers of its own (a GAN's discriminator): its state
    # rides along in train_state/extra.pt so a resumed run continues exactly
    extra_state: Callable[[], dict] | None = None
    load_extra_state: Callable[[dict], None] | None = None
    watch: Callable[[torch.nn.Module, int], str] | None = None  # (EMA network, step) -> a log line, every sample_every
    # a phase of its own that runs before `loss` each step, on the same (images, captions, step) and inside
    # the step's wall time: a GAN's discriminator update, which steps the discriminator's own optimiser
    discriminator_step: Callable[[torch.Tensor, list[str], int], object] | None = None
    # a layout-aware family's loss also takes each scene's objects (the exact layout): loss(images, captions,
    # step, objects)
    wants_objects: bool = False


def lr_factor(config: TrainConfig, step: int) -> float:
    """Linear warm-up, constant, then an optional linear cool-down to 10 % at config.steps."""
    warm = min(1.0, (step + 1) / max(1, config.warmup_steps))
    if config.cooldown_steps <= 0:
        return warm
    left = (config.steps - step) / config.cooldown_steps  # 1 where cool-down starts, 0 at the end
    return warm * (0.1 + 0.9 * min(1.0, max(0.0, left)))


def _logger(path: pathlib.Path) -> logging.Logger:
    log = logging.getLogger(f"genbench.train.{path}")
    log.setLevel(logging.INFO)
    if not log.handlers:
        handler = logging.FileHandler(path)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        log.addHandler(handler)
    return log


def warm_start(component: Component, folder: pathlib.Path) -> dict:
    """Load a previously exported checkpoint's weights into the network; return what the manifest records."""
    from models.checkpoints import read_manifest, sha256

    if component.weights is None:
        raise CheckpointError(f"{component.name} cannot be warm-started")
    folder = pathlib.Path(folder)
    previous = read_manifest(folder)
    if previous.get("family") != component.family:
        raise CheckpointError(f"{folder} holds a {previous.get('family')!r} model, not {component.family!r}")
    try:
        # modules the new recipe adds (absent from the checkpoint) keep their initial values; a
        # renamed, removed or reshaped weight is an error
        result = component.network.load_state_dict(load_file(folder / component.weights), strict=False)
        if result.unexpected_keys:
            raise ValueError(f"weights the network does not have: {', '.join(result.unexpected_keys[:3])}")
    except Exception as error:  # shape mismatches when the architecture changed
        raise CheckpointError(f"cannot warm-start from {folder}: {str(error).splitlines()[0]}") from None
    earlier = previous.get("warm_start") or {}
    return {"from": str(folder), "sha256": sha256(folder / component.weights),
            "new_parameters": sorted(result.missing_keys),
            "prior_steps": previous["training"]["steps"] + earlier.get("prior_steps", 0),
            "prior_wall_time_s": previous["training"]["wall_time_s"] + earlier.get("prior_wall_time_s", 0),
            "prior_commands": earlier.get("prior_commands", []) + [previous["training"]["command"]]}


@dataclasses.dataclass
class _Run:
    """One run's moving parts and progress: what train_state/ saves and a resume restores."""
    component: Component
    config: TrainConfig
    out: pathlib.Path
    log: logging.Logger
    optimizer: torch.optim.Optimizer
    schedule: torch.optim.lr_scheduler.LambdaLR
    ema: EMAModel | None
    step: int = 0
    wall: float = 0.0
    running: float | None = None  # exponential moving average of the batch losses
    warm: dict | None = None  # the warm start's record (see warm_start), kept across resumes

    @property
    def state_dir(self) -> pathlib.Path:
        return self.out / "train_state"

    @property
    def network(self) -> torch.nn.Module:
        return self.component.network

    @classmethod
    def start(cls, component: Component, config: TrainConfig, out: pathlib.Path,
              init_from: pathlib.Path | None) -> "_Run":
        """Fresh optimiser, schedule and EMA; then a resume from out/train_state, or a warm start, or neither."""
        state_dir = out / "train_state"
        state_dir.mkdir(parents=True, exist_ok=True)
        resuming = (state_dir / "state.json").is_file()
        warm = warm_start(component, init_from) if init_from is not None and not resuming else None
        network = component.network
        optimizer = torch.optim.AdamW(network.parameters(), lr=config.lr, weight_decay=config.weight_decay,
                                      betas=tuple(config.betas))
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, functools.partial(lr_factor, config))
        ema = EMAModel(network.parameters(), decay=config.ema_decay, use_ema_warmup=True, power=3 / 4) \
            if config.ema_decay else None
        run = cls(component, config, out, _logger(state_dir / "train.log"), optimizer, schedule, ema, warm=warm)
        if resuming:
            run.resume()
        (state_dir / "config.json").write_text(json.dumps(dataclasses.asdict(config), indent=2))
        return run

    def resume(self) -> None:
        state_dir = self.state_dir
        saved = json.loads((state_dir / "state.json").read_text())
        self.step, self.wall, self.warm = saved["step"], saved["wall_time_s"], saved.get("warm_start")
        self.running = saved.get("running_loss")
        try:
            load_model(self.network, str(state_dir / "network.safetensors"))
        except RuntimeError as error:  # another architecture or preset than the run was started with
            raise CheckpointError(f"cannot resume from {state_dir}: it holds another network than this command "
                                  f"builds ({str(error).strip().splitlines()[-1].strip()}); use the run's own options or "
                                  f"another --out") from None
        self.optimizer.load_state_dict(torch.load(state_dir / "optimizer.pt", weights_only=True))
        self.schedule.load_state_dict(saved["schedule"])
        if self.ema is not None:
            self.ema.load_state_dict(torch.load(state_dir / "ema.pt", weights_only=True))
        if self.component.load_extra_state is not None:
            self.component.load_extra_state(torch.load(state_dir / "extra.pt", weights_only=True))
        self.log.info("resumed at step %d", self.step)
        print(f"resuming {self.component.name} from step {self.step} ({state_dir})")

    def checkpoint(self) -> None:
        """Every file atomically, state.json last: a crash mid-checkpoint leaves a complete older state."""
        state_dir = self.state_dir
        with atomic_path(state_dir / "network.safetensors") as path:
            save_model(self.network, str(path), force_contiguous=True)  # tied weights (T5's shared embedding) stored once
        parts = {"optimizer.pt": self.optimizer.state_dict,
                 "ema.pt": self.ema.state_dict if self.ema is not None else None,
                 "extra.pt": self.component.extra_state}
        for name, state in parts.items():
            if state is not None:
                with atomic_path(state_dir / name) as path:
                    torch.save(state(), path)
        atomic_write(state_dir / "state.json", json.dumps(
            {"step": self.step, "wall_time_s": self.wall, "schedule": self.schedule.state_dict(),
             "warm_start": self.warm, "running_loss": self.running}))

    @contextlib.contextmanager
    def averaged(self) -> Iterator[torch.nn.Module]:
        """The network with the EMA weights swapped in, the raw ones back afterwards."""
        if self.ema is not None:
            self.ema.store(self.network.parameters())
            self.ema.copy_to(self.network.parameters())
        try:
            yield self.network
        finally:  # also on Ctrl-C during a preview, so that the checkpoint saved then holds the raw weights
            if self.ema is not None:
                self.ema.restore(self.network.parameters())

    def loop(self) -> None:
        config = self.config
        dataset = ShapesDataset(seed=config.data_seed, drop_words=config.drop_words, version=config.world_version)
        self.network.train()
        bar = tqdm(total=config.steps, initial=self.step, desc=f"train {self.component.name}", unit="step",
                   dynamic_ncols=True)
        try:
            while self.step < config.steps:
                value, grad_norm = self.one_step(dataset)
                bar.update(1)
                bar.set_postfix(loss=f"{self.running:.4f}", lr=f"{self.schedule.get_last_lr()[0]:.1e}")
                self.after_step(bar, value, grad_norm)
        except KeyboardInterrupt:
            self.checkpoint()
            bar.close()
            print(f"\ninterrupted: saved step {self.step} to {self.state_dir}; run the same command to resume")
            raise SystemExit(130)
        bar.close()

    def one_step(self, dataset: ShapesDataset) -> tuple[float, torch.Tensor]:
        """One optimiser step (after the component's own phase, if it has one); returns (loss, grad norm)."""
        config, step, network = self.config, self.step, self.network
        started = time.perf_counter()
        # the data stream is a pure function of the step, so resuming continues it exactly
        indices = range(step * config.batch_size, (step + 1) * config.batch_size)
        images, captions, objects = collate([dataset[i] for i in indices])
        drop = np.random.default_rng([config.data_seed, 1, step]).random(len(captions)) < config.caption_dropout
        captions = ["" if d else c for c, d in zip(captions, drop)]

        if self.component.discriminator_step is not None:
            self.component.discriminator_step(images, captions, step)
        extra = (objects,) if self.component.wants_objects else ()
        loss = self.component.loss(images, captions, step, *extra)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(network.parameters(), config.grad_clip)
        self.optimizer.step()
        self.schedule.step()
        if self.ema is not None:
            self.ema.step(network.parameters())
        self.step += 1
        self.wall += time.perf_counter() - started
        value = float(loss.detach())
        self.running = value if self.running is None else 0.98 * self.running + 0.02 * value
        return value, grad_norm

    def after_step(self, bar: tqdm, value: float, grad_norm: torch.Tensor) -> None:
        """The periodic work: a log line every 50 steps, checkpoints, sample grids and the watch line."""
        config, step, component = self.config, self.step, self.component
        last = step == config.steps
        if step % 50 == 0 or last:
            self.log.info("step %d loss %.5f avg %.5f grad %.3f lr %.2e wall %.0fs", step, value, self.running,
                          float(grad_norm), self.schedule.get_last_lr()[0], self.wall)
        if step % config.checkpoint_every == 0 or last:
            self.checkpoint()
        if not (component.sample_grid or component.watch) or not (step % config.sample_every == 0 or last):
            return
        self.network.eval()
        if component.sample_grid is not None:
            with self.averaged() as network:
                component.sample_grid(network, step).save(self.state_dir / f"samples_{step:06d}.png")
        if component.watch is not None:
            with self.averaged() as network:
                line = component.watch(network, step)
            self.log.info("step %d %s", step, line)
            bar.write(f"step {step}: {line}")
        self.network.train()

    def export(self, command: str) -> dict:
        """Export the (EMA) weights, write the manifest, then measure the save-time metrics and write it again."""
        component, config, out = self.component, self.config, self.out
        self.network.eval()
        with self.averaged() as network:
            components = component.export(network, out)
        metrics = {"final_loss_ema_of_batches": round(self.running, 5) if self.running is not None else None}

        def manifest() -> dict:
            return write_manifest(out, name=component.name, family=component.family, components=components,
                                  command=command, steps=self.step, wall_time_s=self.wall,
                                  data=f"Shapes world v{config.world_version} stream (data seed {config.data_seed}"
                                       f"{'' if config.drop_words else ', every word of every caption given'}), "
                                       f"{self.step * config.batch_size} images seen (batch {config.batch_size})",
                                  metrics=metrics, world_version=config.world_version,
                                  extra={"train_config": dataclasses.asdict(config), "warm_start": self.warm,
                                         **component.extra_manifest})

        written = manifest()  # the exported folder is loadable from here on; evaluate() loads it
        if component.evaluate is not None:
            print("measuring metrics at save time ...")
            metrics.update(component.evaluate(out))
            written = manifest()
        self.log.info("exported to %s: %s", out, json.dumps(metrics))
        return written


def train(component: Component, config: TrainConfig, out: pathlib.Path, command: str | None = None,
          init_from: pathlib.Path | None = None) -> dict:
    """Train (resuming from out/train_state if present), export to `out`, write the manifest.

    init_from: start a new run from another exported checkpoint's weights (fresh optimiser and EMA);
    the manifest then records the earlier runs' steps, wall time and commands.
    """
    command = command or " ".join(["python", "-m", "models"] + [shlex.quote(a) for a in sys.argv[1:]])
    run = _Run.start(component, config, pathlib.Path(out), init_from)
    run.loop()
    return run.export(command)
