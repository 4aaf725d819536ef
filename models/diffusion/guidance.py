"""Classifier-free guidance and the guided reverse process.

Guidance   eps_hat = eps(empty) + s * (eps(y) - eps(empty)); s = 0 is unconditional, s = 1 conditional.
           Both halves run in one batched pass: [unconditional rows; conditional rows].
Sampling   x_T ~ N(0, I) from each image's own generator, then the scheduler's steps down to x_0 (a flow's
           velocity is guided the same way: both are linear in the network's output).
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch

from models.diffusion.schedule import Denoiser, NoiseSchedule


def guided(eps_uncond: torch.Tensor, eps_cond: torch.Tensor, scale: float) -> torch.Tensor:
    """Classifier-free guidance eps(empty) + s (eps(y) - eps(empty)): s = 0 unconditional, s = 1 conditional."""
    # the same expression regrouped, so that s = 0 and s = 1 return their input exactly, without rounding
    return (1 - scale) * eps_uncond + scale * eps_cond


@torch.no_grad()
def sample(denoise: Denoiser, states: torch.Tensor, pooled: torch.Tensor, empty_states: torch.Tensor,
           empty_pooled: torch.Tensor, shape: Sequence[int], generators: list[torch.Generator],
           schedule: NoiseSchedule, steps: int, guidance: float, sampler: str,
           on_step: Callable[[int, int, torch.Tensor], None] | None = None,
           start: torch.Tensor | None = None, strength: float = 1.0) -> torch.Tensor:
    """Reverse process for a batch; row i draws all its noise from generators[i] alone.

    start [B,C,H,W], strength in [0, 1] (SDEdit): run only the last round(strength * steps) steps of the
    schedule, from `start` noised to the level where they begin (strength 0 returns `start` as given)."""
    scheduler = schedule.scheduler(sampler)
    scheduler.set_timesteps(steps)
    timesteps = scheduler.timesteps
    batch = states.shape[0]
    device = states.device
    # x_T ~ N(0, I), one independent stream per image
    x = torch.cat([torch.randn((1, *shape), generator=g) for g in generators]).to(device)  # [B,C,H,W]
    if start is not None:
        timesteps = _last_steps(scheduler, round(strength * steps))
        if len(timesteps) == 0:
            return start
        x = _noised(scheduler, start, x, timesteps[:1])
    else:
        x = x * getattr(scheduler, "init_noise_sigma", 1.0)  # flow-matching schedulers start from x_1 = eps as drawn
    scale_input = getattr(scheduler, "scale_model_input", lambda x, t: x)  # flow-matching schedulers have none
    denoise_guided = _guided_denoiser(denoise, states, pooled, empty_states, empty_pooled, guidance)
    for index, t in enumerate(timesteps):
        eps = denoise_guided(scale_input(x, t), t.expand(batch).to(device))  # [B,C,H,W]
        # ancestral samplers draw their fresh noise per row from the same per-image generators
        x = scheduler.step(eps, t, x, generator=generators if len(generators) > 1 else generators[0]).prev_sample
        if on_step is not None:
            on_step(index + 1, len(timesteps), x)
    return x


def _last_steps(scheduler, kept: int) -> torch.Tensor:
    """The scheduler's last `kept` timesteps (a second-order scheduler's doubled entries counted once)."""
    order = getattr(scheduler, "order", 1)
    steps = (len(scheduler.timesteps) + order - 1) // order
    first = (steps - kept) * order
    if hasattr(scheduler, "set_begin_index"):  # schedulers that track their position start it there
        scheduler.set_begin_index(first)
    return scheduler.timesteps[first:]


def _noised(scheduler, start: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """start taken forward to timestep t: q(x_t | x_0) for a noise schedule, the straight path for a flow."""
    if hasattr(scheduler, "add_noise"):
        return scheduler.add_noise(start, noise, t.to(torch.long).expand(start.shape[0]))
    return scheduler.scale_noise(start, t.expand(start.shape[0]), noise)


def _guided_denoiser(denoise: Denoiser, states: torch.Tensor, pooled: torch.Tensor, empty_states: torch.Tensor,
                     empty_pooled: torch.Tensor, scale: float) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """x [B,C,H,W], t [B] -> guided eps [B,C,H,W]. At s = 1 (conditional) and s = 0 (unconditional) guided()
    returns one half exactly, so only that half is computed: half the work, the same values to float rounding."""
    batch = states.shape[0]
    if scale == 1:
        return lambda x, t: denoise(x, t, states, pooled)
    if scale == 0:
        return lambda x, t: denoise(x, t, empty_states.expand(batch, -1, -1), empty_pooled.expand(batch, -1))
    both_states = torch.cat([empty_states.expand(batch, -1, -1), states])  # [2B,L,D]: unconditional half first
    both_pooled = torch.cat([empty_pooled.expand(batch, -1), pooled])  # [2B,E]

    def both_halves(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        eps_uncond, eps_cond = denoise(torch.cat([x, x]), torch.cat([t, t]), both_states, both_pooled).chunk(2)
        return guided(eps_uncond, eps_cond, scale)
    return both_halves
