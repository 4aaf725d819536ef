"""The diffusion mathematics: forward process, guidance, objective."""
import pytest
import torch

from models.diffusion import NoiseSchedule, diffusion_loss, guided, q_sample


@pytest.mark.parametrize("name", ["cosine", "linear"])
def test_closed_form_forward_matches_iterated_steps_in_mean_and_variance(name):
    schedule = NoiseSchedule(name)
    scheduler = schedule.scheduler("ddpm")
    betas, abar = scheduler.betas.double(), scheduler.alphas_cumprod.double()
    x0 = torch.tensor([0.7, -0.3, 0.0], dtype=torch.float64)
    # iterate q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t): mean and variance recursions
    mean, var = x0.clone(), torch.zeros_like(x0)
    for t in range(schedule.train_timesteps):
        mean = (1 - betas[t]).sqrt() * mean
        var = (1 - betas[t]) * var + betas[t]
        if t in (0, 10, 250, 500, 999):
            # abar is stored in float32 by the scheduler: agree to its precision
            assert torch.allclose(mean, abar[t].sqrt() * x0, atol=1e-6)
            assert torch.allclose(var, 1 - abar[t], atol=1e-6)


def test_q_sample_empirical_moments_match_iterated_chain():
    schedule = NoiseSchedule("cosine")
    scheduler = schedule.scheduler("ddpm")
    betas = scheduler.betas
    generator = torch.Generator().manual_seed(0)
    n, t = 200_000, 300
    x0 = torch.full((n, 1, 1, 1), 0.8)
    # Monte Carlo of the iterated chain vs the closed form, both from the same x_0
    x = x0.clone()
    for step in range(t + 1):
        x = (1 - betas[step]).sqrt() * x + betas[step].sqrt() * torch.randn(x.shape, generator=generator)
    direct = q_sample(x0, torch.full((n,), t), torch.randn(x0.shape, generator=generator), scheduler.alphas_cumprod)
    assert abs(x.mean() - direct.mean()) < 0.01
    assert abs(x.var() - direct.var()) < 0.01
    assert abs(direct.mean() - scheduler.alphas_cumprod[t].sqrt() * 0.8) < 0.01


def test_guidance_scale_one_is_conditional_and_zero_is_unconditional():
    uncond, cond = torch.randn(2, 3, 8, 8), torch.randn(2, 3, 8, 8)
    assert torch.equal(guided(uncond, cond, 1.0), cond)
    assert torch.equal(guided(uncond, cond, 0.0), uncond)
    assert torch.allclose(guided(uncond, cond, 3.0), uncond + 3 * (cond - uncond), atol=1e-6)


def test_guidance_is_one_batched_forward_over_both_halves(tiny_generator):
    calls = []
    original = tiny_generator.denoise

    def spy(x, t, states, pooled):
        calls.append(x.shape[0])
        return original(x, t, states, pooled)

    tiny_generator.denoise = spy
    try:
        tiny_generator.generate(["a red circle"], seed=0, steps=3, guidance_scale=3.0)
    finally:
        tiny_generator.denoise = original
    assert len(calls) == 3  # one network evaluation per step, not two
    assert all(rows == 2 for rows in calls)  # the unconditional and the conditional half, in one batch


def test_loss_is_mse_to_the_noise_for_a_perfect_and_a_zero_denoiser():
    schedule = NoiseSchedule("cosine")
    x0 = torch.randn(16, 3, 4, 4)
    states, pooled = torch.zeros(16, 2, 4), torch.zeros(16, 4)
    zero = diffusion_loss(lambda x, t, s, p: torch.zeros_like(x), x0, states, pooled, schedule,
                          torch.Generator().manual_seed(1), min_snr_gamma=None)
    assert 0.8 < float(zero) < 1.2  # E||eps||^2 / dim = 1
    abar = schedule.scheduler("ddpm").alphas_cumprod

    def oracle(x, t, s, p):  # knows x0, so recovers eps exactly
        a = abar[t].view(-1, 1, 1, 1)
        return (x - a.sqrt() * x0) / (1 - a).sqrt()

    perfect = diffusion_loss(oracle, x0, states, pooled, schedule, torch.Generator().manual_seed(1))
    assert float(perfect) < 1e-8
