"""GAN objectives: minimax, non-saturating (the default), WGAN with weight clipping, WGAN-GP, and the
regularisers R1 and path length. Logits l = D(x); D(x) = sigmoid(l) for the two cross-entropy games."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

LOSSES = ("non-saturating", "minimax", "wgan", "wgan-gp")
DEFAULT_LOSS = "non-saturating"
CLIP = 0.01  # WGAN: every critic weight is kept in [-CLIP, CLIP]
GP_WEIGHT = 10.0  # WGAN-GP's lambda


def discriminator_loss(loss: str, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """What D minimises, from logits on real and generated images."""
    if loss in ("non-saturating", "minimax"):  # -log D(x) - log(1 - D(G(z)))
        return F.softplus(-real).mean() + F.softplus(fake).mean()
    return fake.mean() - real.mean()  # the critic's estimate of -W(p_data, p_g)


def generator_loss(loss: str, fake: torch.Tensor) -> torch.Tensor:
    """What G minimises, from D's logits on its images."""
    if loss == "minimax":  # log(1 - D(G(z))): the original game, whose gradient vanishes when D wins
        return -F.softplus(fake).mean()
    if loss == "non-saturating":  # -log D(G(z)): same fixed point, strong gradients early on
        return F.softplus(-fake).mean()
    return -fake.mean()


def gradient_penalty(critic, real: torch.Tensor, fake: torch.Tensor, cond: torch.Tensor,
                     generator: torch.Generator | None = None, weight: float = GP_WEIGHT) -> torch.Tensor:
    """lambda * E[(||grad D(x_hat)||_2 - 1)^2], x_hat uniformly between a real and a generated image."""
    alpha = torch.rand((real.shape[0], 1, 1, 1), generator=generator).to(real.device)
    x_hat = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    grad, = torch.autograd.grad(critic(x_hat, cond).sum(), x_hat, create_graph=True)
    return weight * (grad.flatten(1).norm(2, dim=1) - 1).square().mean()


def r1_penalty(discriminator, real: torch.Tensor, cond: torch.Tensor, gamma: float) -> torch.Tensor:
    """gamma/2 * E[||grad D(x)||^2] on real images (Mescheder et al.)."""
    real = real.detach().requires_grad_(True)
    grad, = torch.autograd.grad(discriminator(real, cond).sum(), real, create_graph=True)
    return gamma / 2 * grad.square().sum(dim=(1, 2, 3)).mean()


def clip_weights(critic: torch.nn.Module, limit: float = CLIP) -> None:
    with torch.no_grad():
        for parameter in critic.parameters():
            parameter.clamp_(-limit, limit)


def path_length_penalty(images: torch.Tensor, ws: torch.Tensor, mean: torch.Tensor, decay: float = 0.01,
                        generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """StyleGAN2's path-length regulariser: (||J_w^T y||_2 - a)^2 with y ~ N(0, I)/sqrt(HW) and a the running
    mean of the lengths. Returns (penalty, updated mean)."""
    noise = torch.randn(images.shape, generator=generator).to(images.device) / math.sqrt(images.shape[2] * images.shape[3])
    grad, = torch.autograd.grad((images * noise).sum(), ws, create_graph=True)
    lengths = grad.square().sum(dim=2).mean(dim=1).sqrt()  # [B]
    mean = mean.lerp(lengths.detach().mean(), decay)
    return (lengths - mean).square().mean(), mean

