"""Rectified flow (flow matching), the objective Stable Diffusion 3 and Flux train their DiTs with.

Path        x_t = (1 - t) x_0 + t eps,  t in [0, 1]   (t = 1 is pure noise)
Target      the velocity v = eps - x_0 (constant along the straight path), plain MSE
Timesteps   t ~ logit-normal (sigmoid of N(m, s)): SD3's choice, most weight on the middle of the path
Network     reads the timestep as 1000 t, the scale diffusers' flow-matching schedulers hand it
Sampling    diffusers' FlowMatchEulerDiscreteScheduler ("euler") or FlowMatchHeunDiscreteScheduler
            ("heun", second order: 2 steps - 1 network calls), from t = 1 down to 0 in N even steps
            (1, 1 - 1/N, ..., 1/N, 0: the spacing SD3's and Flux's pipelines pass); classifier-free guidance
            combines the two velocities exactly as the diffusion families combine their predictions.
"""
from __future__ import annotations

import dataclasses

import torch
from diffusers import FlowMatchEulerDiscreteScheduler, FlowMatchHeunDiscreteScheduler

from models.diffusion.schedule import Denoiser, NoiseSchedule



def even_sigmas(steps: int, shift: float = 1.0) -> torch.Tensor:
    """[steps] noise levels 1, 1 - 1/N, ..., 1/N (then 0 is appended by the scheduler), shifted as SD3 does.
    The schedulers' own spacing ends at t = 0.001, so their last step moves almost nothing: N steps did the work
    of N - 1 (2 Euler steps drew what 1 draws)."""
    sigmas = torch.linspace(1.0, 1.0 / steps, steps)
    return shift * sigmas / (1 + (shift - 1) * sigmas)


class EvenEuler(FlowMatchEulerDiscreteScheduler):
    def set_timesteps(self, num_inference_steps: int | None = None, device=None, **given) -> None:
        if given or num_inference_steps is None:  # sigmas or timesteps given: the caller's spacing
            return super().set_timesteps(num_inference_steps, device, **given)
        # the scheduler applies its shift to given sigmas itself
        super().set_timesteps(sigmas=even_sigmas(num_inference_steps).tolist(), device=device)


class EvenHeun(FlowMatchHeunDiscreteScheduler):
    def set_timesteps(self, num_inference_steps: int, device=None) -> None:
        super().set_timesteps(num_inference_steps, device)  # resets the solver's state
        sigmas = even_sigmas(num_inference_steps, self.config.shift).to(device)
        timesteps = sigmas * self.config.num_train_timesteps
        self.timesteps = torch.cat([timesteps[:1], timesteps[1:].repeat_interleave(2)])  # Heun evaluates twice
        sigmas = torch.cat([sigmas, torch.zeros(1, device=sigmas.device)])
        self.sigmas = torch.cat([sigmas[:1], sigmas[1:-1].repeat_interleave(2), sigmas[-1:]])


FLOW_SCHEDULERS = {"euler": EvenEuler, "heun": EvenHeun}
KIND = "rectified-flow"  # how a manifest's "schedule" says it is a flow, not a noise schedule


@dataclasses.dataclass
class FlowSchedule:
    kind: str = KIND
    train_timesteps: int = 1000  # the network sees 1000 t
    shift: float = 1.0  # SD3 shifts t towards noise for large images; 8x8 latents need none
    logit_mean: float = 0.0  # training t = sigmoid(N(logit_mean, logit_std))
    logit_std: float = 1.0

    def scheduler(self, sampler: str = "euler"):
        """A fresh diffusers flow-matching scheduler (schedulers keep per-run state)."""
        return FLOW_SCHEDULERS[sampler](num_train_timesteps=self.train_timesteps, shift=self.shift)

    def sample_t(self, batch: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Training times, logit-normal: [B] in (0, 1)."""
        return torch.sigmoid(self.logit_mean + self.logit_std * torch.randn(batch, generator=generator))


def interpolate(x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The straight path x_t = (1 - t) x_0 + t eps; t [B]."""
    t = t.view(-1, *([1] * (x0.dim() - 1)))  # [B,1,1,1]
    return (1 - t) * x0 + t * noise


def flow_loss(denoise: Denoiser, x0: torch.Tensor, states: torch.Tensor, pooled: torch.Tensor,
              schedule: FlowSchedule, generator: torch.Generator | None = None) -> torch.Tensor:
    """|| v_theta(x_t, 1000 t, y) - (eps - x_0) ||^2 on a batch, t logit-normal."""
    t = schedule.sample_t(x0.shape[0], generator).to(x0.device)  # [B]
    noise = torch.randn(x0.shape, generator=generator).to(x0.device)  # [B,C,H,W]
    velocity = denoise(interpolate(x0, noise, t), t * schedule.train_timesteps, states, pooled)  # [B,C,H,W]
    return (velocity - (noise - x0)).pow(2).mean()


def objective(schedule: FlowSchedule) -> str:
    """The manifest's one-line account of the objective."""
    return (f"rectified flow: velocity eps - x_0, logit-normal t (m={schedule.logit_mean:g}, "
            f"s={schedule.logit_std:g}), unweighted MSE")


def read_schedule(record: dict) -> NoiseSchedule | FlowSchedule:
    """A manifest's "schedule" back as the object it was written from."""
    if record.get("kind") == KIND:
        return FlowSchedule(**record)
    return NoiseSchedule(**record)
