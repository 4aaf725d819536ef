"""The diffusion machinery shared by every diffusion family (pixel, latent, DiT).

Forward process  q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I)
Objective        L_simple = E || eps - eps_theta(x_t, t, y) ||^2   (optionally Min-SNR weighted)
Guidance         eps_hat = eps(empty) + s * (eps(y) - eps(empty)), both halves in one batched pass
Samplers         diffusers' DDPM (ancestral), DDIM and DPM-Solver++ schedulers.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import torch
from diffusers import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler
from diffusers.training_utils import compute_snr

SAMPLERS = {"ddpm": DDPMScheduler, "ddim": DDIMScheduler, "dpm++": DPMSolverMultistepScheduler}
SCHEDULES = {"cosine": "squaredcos_cap_v2", "linear": "linear", "scaled-linear": "scaled_linear"}

# eps_theta(x_t [B,C,H,W], t [B], token states [B,L,D], pooled [B,E]) -> eps [B,C,H,W]
Denoiser = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclasses.dataclass
class NoiseSchedule:
    name: str = "cosine"  # a key of SCHEDULES
    train_timesteps: int = 1000
    spacing: str = "leading"  # how sampling picks its timesteps (diffusers' timestep_spacing)
    clip_sample: float | None = None  # clip predicted x_0 to [-c, c] while sampling (pixel space: 1)
    prediction: str = "epsilon"  # what the network predicts: "epsilon" or "v_prediction" (v = sqrt(abar) eps - sqrt(1-abar) x_0)
    # rescale the betas so that abar_T = 0 (Lin et al. 2024): sampling then starts from pure noise, as in
    # training, instead of leaking the noise's low frequencies (where objects end up) into the image
    zero_terminal_snr: bool = False

    def __post_init__(self):
        if self.zero_terminal_snr and self.prediction != "v_prediction":
            raise ValueError("a zero terminal SNR needs v-prediction: epsilon carries no signal at t = T")

    def scheduler(self, sampler: str = "ddpm"):
        """A fresh diffusers scheduler for this schedule (schedulers keep per-run state)."""
        kwargs = dict(num_train_timesteps=self.train_timesteps, beta_schedule=SCHEDULES[self.name],
                      prediction_type=self.prediction, timestep_spacing=self.spacing,
                      rescale_betas_zero_snr=self.zero_terminal_snr)
        if sampler == "dpm++":
            # the cosine schedule's last steps have lambda(t) -> -inf; clipping lambda keeps the solver stable
            kwargs.update(algorithm_type="dpmsolver++", solver_order=2, lambda_min_clipped=-5.1)
            if self.clip_sample is not None:
                kwargs.update(thresholding=True, dynamic_thresholding_ratio=1.0, sample_max_value=self.clip_sample)
        else:
            kwargs.update(clip_sample=self.clip_sample is not None, clip_sample_range=self.clip_sample or 1.0)
        if sampler == "ddim":
            kwargs["set_alpha_to_one"] = False
        return SAMPLERS[sampler](**kwargs)

    def alphas_cumprod(self) -> torch.Tensor:
        return self.scheduler("ddpm").alphas_cumprod  # [T]


def objective(schedule: NoiseSchedule, min_snr_gamma: float | None) -> str:
    """The manifest's one-line account of a training objective."""
    target = "epsilon" if schedule.prediction == "epsilon" else "v (zero terminal SNR)"
    return f"{target}, " + (f"Min-SNR-{min_snr_gamma:g} weighting" if min_snr_gamma else "unweighted MSE")


def q_sample(x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor, alphas_cumprod: torch.Tensor) -> torch.Tensor:
    """Closed-form forward process: x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps."""
    abar = alphas_cumprod.to(x0.device)[t].view(-1, *([1] * (x0.dim() - 1)))  # [B,1,1,1]
    return abar.sqrt() * x0 + (1 - abar).sqrt() * noise


def diffusion_loss(denoise: Denoiser, x0: torch.Tensor, states: torch.Tensor, pooled: torch.Tensor,
                   schedule: NoiseSchedule, generator: torch.Generator | None = None,
                   min_snr_gamma: float | None = 5.0) -> torch.Tensor:
    """L_simple on a batch (the target is eps, or v for v-prediction), each element weighted by Min-SNR-gamma
    when gamma is set: min(SNR, gamma) / SNR for eps, min(SNR, gamma) / (SNR + 1) for v (1 where SNR = 0)."""
    scheduler = schedule.scheduler("ddpm")
    t = torch.randint(0, schedule.train_timesteps, (x0.shape[0],), generator=generator).to(x0.device)  # [B]
    noise = torch.randn(x0.shape, generator=generator).to(x0.device)  # [B,C,H,W]
    x_t = q_sample(x0, t, noise, scheduler.alphas_cumprod)
    target = noise if schedule.prediction == "epsilon" else scheduler.get_velocity(x0, noise, t)  # [B,C,H,W]
    per_element = (denoise(x_t, t, states, pooled) - target).pow(2).mean(dim=(1, 2, 3))  # [B]
    if min_snr_gamma is not None:
        snr = compute_snr(scheduler, t)  # [B]
        if schedule.prediction == "epsilon":
            weight = torch.clamp(snr, max=min_snr_gamma) / snr
        else:
            weight = torch.where(snr == 0, 1.0, torch.clamp(snr, max=min_snr_gamma) / (snr + 1))
        per_element = per_element * weight
    return per_element.mean()
