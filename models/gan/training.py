"""Training the GAN family: the alternating D and G phases, the text losses and the collapse watch."""
from __future__ import annotations

import dataclasses
import functools
import pathlib

import numpy as np
import torch
from PIL import Image

from models.checkpoints import pin, save_config_and_weights
from models.gan.family import WEIGHTS, GANConfig, GANGenerator, build, gan_info, load
from models.gan.losses import (clip_weights, discriminator_loss, generator_loss, gradient_penalty,
                               path_length_penalty, r1_penalty)
from models.text.encoder import DEFAULT_PATH as TEXT_ENCODER_PATH
from models.text.encoder import WEIGHTS as TEXT_ENCODER_WEIGHTS
from models.text.encoder import TextEncoder
from world import make_object, parse_caption, render
from world.accuracy import judge, single_prompts
from world.detector import detect


def contrastive_loss(encoder: TextEncoder, images: torch.Tensor, text: torch.Tensor, captions: list[str]
                     ) -> torch.Tensor:
    """Image-to-text InfoNCE over the batch through the frozen world CLIP (gradients reach the images only);
    images whose captions are identical all count as positives."""
    image = torch.nn.functional.normalize(encoder.encode_image(images), dim=-1)  # [B, E]
    text = torch.nn.functional.normalize(text, dim=-1)  # [B, E]
    logits = encoder.clip.logit_scale.exp().clamp(max=100) * image @ text.T  # [B, B]
    same = torch.tensor([[a == b for b in captions] for a in captions], dtype=logits.dtype)  # [B, B]
    return -(same / same.sum(1, keepdim=True) * logits.log_softmax(dim=1)).sum(1).mean()


# ---------------------------------------------------------------- collapse watch
def collapse_statistics(generator: GANGenerator, prompts: int = 64, per_prompt: int = 6) -> dict:
    """Mode collapse shows here before it shows in samples: accuracy, how far the detected colors and
    shapes are from those asked (total variation distance), the share of images with no object, and
    diversity (mean pixel distance between images of one prompt) against rendered images."""
    sizes = ("small", "large")

    captions = single_prompts(prompts, seed=777)
    images = generator.generate(captions, seed=1)
    found = [detect(image) for image in images]
    specs = [parse_caption(c) for c in captions]

    def tv(got: list[str], want: list[str]) -> float:
        return 0.5 * sum(abs(got.count(k) / max(1, len(got)) - want.count(k) / len(want)) for k in set(got) | set(want))

    def spread(batch: list[Image.Image]) -> float:  # mean pairwise RMS distance, pixels in [0,1]
        x = np.stack([np.asarray(im, np.float32) / 255 for im in batch]).reshape(len(batch), -1)
        d = np.sqrt(((x[:, None] - x[None]) ** 2).mean(-1))
        return float(d[np.triu_indices(len(batch), 1)].mean())

    fake = np.mean([spread(generator.generate([c] * per_prompt, seed=2)) for c in captions[:8]])

    def rendered(spec: dict, rng: np.random.Generator) -> Image.Image:  # a real image of the same caption
        size = spec["size"] or sizes[rng.integers(2)]
        cell = spec["cell"] or (int(rng.integers(3)), int(rng.integers(3)))
        return render([make_object(rng, spec["color"], spec["shape"], size, cell)])

    rng = np.random.default_rng(3)
    real = np.mean([spread([rendered(spec, rng) for _ in range(per_prompt)]) for spec in specs[:8]])
    return {"color_shape": round(float(np.mean([judge(c, im)["color_shape"] for c, im in zip(captions, images)])), 3),
            "no_object": round(float(np.mean([not d for d in found])), 3),
            "color_tv": round(tv([d[0].color for d in found if d], [s["color"] for s in specs]), 3),
            "shape_tv": round(tv([d[0].shape for d in found if d], [s["shape"] for s in specs]), 3),
            "diversity": round(float(fake), 4), "data_diversity": round(float(real), 4)}


# ---------------------------------------------------------------- training
class GANSteps:
    """A GAN step is two phases over one batch, in this order: the D phase (`discriminator_step`: n_critic
    updates of the discriminator with its own optimiser, stepped here) and the G phase (`loss`: the generator's
    loss, which the training loop backpropagates and steps G's optimiser with). Both phases draw z, noise and
    style mixing from one random stream that is a function of the step, so a resumed run continues exactly."""

    def __init__(self, config: GANConfig, encoder: TextEncoder, network: torch.nn.Module,
                 discriminator: torch.nn.Module, d_optimizer: torch.optim.Optimizer):
        self.config, self.encoder, self.network = config, encoder, network
        self.discriminator, self.d_optimizer = discriminator, d_optimizer
        self.pl_mean = torch.zeros(())  # path-length regularisation's running mean
        self.d_loss = 0.0  # the last D phase's loss, for the collapse watch
        self._shared = None  # (step, captions, random stream, cond [B, E], mismatched [B]): the D phase's, for G

    def _begin(self, captions: list[str], step: int):
        generator = torch.Generator().manual_seed(7_000_003 + step)  # z, noise, mixing: a function of the step
        with torch.no_grad():
            _, cond = self.encoder(captions)  # frozen pooled text vectors [B, E]
        mismatched = torch.tensor([a != b for a, b in zip(captions, captions[-1:] + captions[:-1])])  # [B]
        return generator, cond, mismatched

    def _fakes(self, generator: torch.Generator, cond: torch.Tensor, grad: bool):
        """(G(z, c), its ws (None for DCGAN), z) for the batch, drawing z (and StyleGAN2's mixing) from `generator`."""
        config, network, batch = self.config, self.network, cond.shape[0]
        z = torch.randn((batch, config.z_dim), generator=generator)  # [B,Z]
        if config.arch == "dcgan":
            with torch.set_grad_enabled(grad):
                return network(z, cond), None, z
        mix_at = None
        if torch.rand((), generator=generator) < config.style_mixing:
            mix_at = int(torch.randint(1, network.num_ws, (), generator=generator))
        mix_z = torch.randn((batch, config.z_dim), generator=generator)
        with torch.set_grad_enabled(grad):
            ws = network.ws(z, cond, mix_z=mix_z, mix_at=mix_at)
            return network.synthesis(ws, generator), ws, z

    def discriminator_step(self, images: torch.Tensor, captions: list[str], step: int) -> float:
        """The D phase: n_critic updates of D's own optimiser (the same real batch, fresh fakes each time)."""
        config, discriminator = self.config, self.discriminator
        generator, cond, mismatched = self._begin(captions, step)
        discriminator.requires_grad_(True)
        for _ in range(config.n_critic):
            fake, _, _ = self._fakes(generator, cond, grad=False)
            negatives = discriminator(fake, cond)  # [B]
            if config.mismatch and mismatched.any():  # real images under the previous image's caption
                negatives = torch.cat([negatives, discriminator(images, cond.roll(1, 0))[mismatched]])
            d_loss = discriminator_loss(config.loss, discriminator(images, cond), negatives)
            if config.loss == "wgan-gp":
                d_loss = d_loss + gradient_penalty(discriminator, images, fake, cond, generator)
            if config.r1_gamma and step % config.r1_every == 0:  # lazy: scaled by the interval
                d_loss = d_loss + config.r1_every * r1_penalty(discriminator, images, cond, config.r1_gamma)
            self.d_optimizer.zero_grad(set_to_none=True)
            d_loss.backward()
            self.d_optimizer.step()
            if config.loss == "wgan":
                clip_weights(discriminator)
        self.d_loss = float(d_loss.detach())
        self._shared = (step, list(captions), generator, cond, mismatched)  # the G phase continues this stream
        return self.d_loss

    def loss(self, images: torch.Tensor, captions: list[str], step: int) -> torch.Tensor:
        """The G phase, against the discriminator as the D phase of this step left it (D frozen)."""
        config, shared, self._shared = self.config, self._shared, None
        if shared is not None and shared[0] == step and shared[1] == list(captions):
            generator, cond = shared[2], shared[3]
        else:  # no D phase ran for this batch: a fresh stream
            generator, cond, _ = self._begin(captions, step)
        self.discriminator.requires_grad_(False)
        fake, ws, _ = self._fakes(generator, cond, grad=True)
        g_loss = generator_loss(config.loss, self.discriminator(fake, cond))
        if config.contrastive_weight:
            g_loss = g_loss + config.contrastive_weight * contrastive_loss(self.encoder, fake, cond, captions)
        if config.pl_weight and step % config.pl_every == 0 and ws is not None:
            penalty, self.pl_mean = path_length_penalty(fake, ws, self.pl_mean, generator=generator)
            g_loss = g_loss + config.pl_every * config.pl_weight * penalty
        if step < config.d_warmup_steps:  # zero gradients: Adam leaves G where it is while D catches up
            return g_loss * 0.0
        return g_loss

    def state_dict(self) -> dict:  # rides along in train_state/extra.pt
        return {"discriminator": self.discriminator.state_dict(), "d_optimizer": self.d_optimizer.state_dict(),
                "pl_mean": self.pl_mean}

    def load_state_dict(self, saved: dict) -> None:
        self.discriminator.load_state_dict(saved["discriminator"])
        self.d_optimizer.load_state_dict(saved["d_optimizer"])
        self.pl_mean = saved["pl_mean"]


def _export(config: GANConfig, discriminator: torch.nn.Module, text_encoder_path: pathlib.Path,
            net: torch.nn.Module, folder: pathlib.Path) -> dict:
    save_config_and_weights(folder / "generator", config, net.state_dict())
    return {"generator": {"class": type(net).__name__, "config": dataclasses.asdict(config),
                          "parameters": sum(p.numel() for p in net.parameters())},
            "discriminator": {"class": type(discriminator).__name__,
                              "parameters": sum(p.numel() for p in discriminator.parameters())},
            "text_encoder": pin(folder, pathlib.Path(text_encoder_path), TEXT_ENCODER_WEIGHTS)}


def _evaluate(folder: pathlib.Path, planned: bool = False) -> dict:
    from models.gan.planned import load_planned
    from world.accuracy import score, single_object_accuracy, world_prompts
    generator = load_planned(folder) if planned else load(folder)
    every_word = score(generator, world_prompts(64, "single", every_word=True), guidance=3.0, steps=1, sampler=None)
    return {"single_accuracy_64prompts": single_object_accuracy(generator, n_prompts=64, steps=1,
                                                                sampler=None)["color_shape"],
            "single_every_word_all_asked_64prompts": every_word["full"],
            **{f"watch_{k}": v for k, v in collapse_statistics(generator).items()}}


def _watch_line(d_loss: float, stats: dict) -> str:
    return (f"D loss {d_loss:.3f} | color+shape {stats['color_shape']:.2f} | no object "
            f"{stats['no_object']:.2f} | TV(colors) {stats['color_tv']:.2f} TV(shapes) {stats['shape_tv']:.2f} | "
            f"diversity {stats['diversity']:.3f} (data {stats['data_diversity']:.3f})")


def _conditioning(config: GANConfig) -> str:
    return ("pooled text vector: concatenated with z (DCGAN) or fed to the mapping network (StyleGAN2); "
            "projection discriminator"
            + ("; matching-aware D (real image, wrong caption) = fake" if config.mismatch else "")
            + (f"; G adds {config.contrastive_weight:g} x image-text InfoNCE through the frozen world CLIP"
               if config.contrastive_weight else "")
            + (f"; G still for the first {config.d_warmup_steps} steps (D warm-up)" if config.d_warmup_steps else ""))


def training_component(config: GANConfig, name: str = "gan", text_encoder_path: pathlib.Path = TEXT_ENCODER_PATH,
                       init_seed: int = 0, planned: bool = False):
    """The GAN as the training loop sees it: G is the network the loop trains, the D phase is its
    discriminator_step, D and its optimiser ride along in extra_state (see GANSteps). `planned`: watch and judge
    it as gan-layout does, fed captions the planner completed (models/gan/planned.py)."""
    from models.gan.planned import PlannedGANGenerator
    from models.training import Component

    encoder = TextEncoder.from_pretrained(text_encoder_path)
    torch.manual_seed(init_seed)  # the initial weights are part of the recipe
    network, discriminator = build(config, encoder.config.embed_dim)
    # the GAN papers' optimisers for D: Adam(0, 0.99) at 2e-3 for StyleGAN2, Adam(0.5, 0.999) at 2e-4 for DCGAN
    stylegan = config.arch == "stylegan2"
    d_optimizer = torch.optim.Adam(discriminator.parameters(), lr=2e-3 if stylegan else 2e-4,
                                   betas=(0.0, 0.99) if stylegan else (0.5, 0.999))
    steps = GANSteps(config, encoder, network, discriminator, d_optimizer)

    def generator_for(net: torch.nn.Module) -> GANGenerator:
        return (PlannedGANGenerator if planned else GANGenerator)(gan_info(name, config, 0), net, config, encoder)

    def sample_grid(net: torch.nn.Module, step: int):
        from models.sample_grid import grid_of
        return grid_of(generator_for(net))

    return Component(name=name, family="gan", network=network, loss=steps.loss,
                     discriminator_step=steps.discriminator_step,
                     export=functools.partial(_export, config, discriminator, text_encoder_path),
                     evaluate=functools.partial(_evaluate, planned=planned), sample_grid=sample_grid, weights=WEIGHTS,
                     extra_state=steps.state_dict, load_extra_state=steps.load_state_dict,
                     watch=lambda net, step: _watch_line(steps.d_loss, collapse_statistics(generator_for(net))),
                     extra_manifest={"arch": config.arch, "loss": config.loss, "conditioning": _conditioning(config)})
