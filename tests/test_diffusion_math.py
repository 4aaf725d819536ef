"""The diffusion mathematics: forward process, guidance, objective."""
import dataclasses

import pytest
import torch

from models.diffusion.schedule import NoiseSchedule, diffusion_loss, q_sample
from models.diffusion.guidance import guided, sample


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


def test_the_unet_reads_the_pooled_vector_once_its_projection_has_learned():
    from models.diffusion.unet import UNET_CONFIGS, build_unet, unet_denoiser
    torch.manual_seed(0)
    unet = build_unet(dataclasses.replace(UNET_CONFIGS["tiny"], pooled_conditioning=True), cross_attention_dim=8,
                      pooled_dim=6).eval()
    denoise = unet_denoiser(unet)
    x, t, states = torch.randn(2, 3, 32, 32), torch.tensor([500, 500]), torch.randn(2, 5, 8)
    one, other = torch.randn(2, 6), torch.randn(2, 6)
    with torch.no_grad():
        assert torch.equal(denoise(x, t, states, one), denoise(x, t, states, other))  # zero-initialised
        torch.nn.init.normal_(unet.class_embedding.linear_2.weight)
        assert not torch.allclose(denoise(x, t, states, one), denoise(x, t, states, other))


V_SCHEDULE = NoiseSchedule("cosine", spacing="trailing", prediction="v_prediction", zero_terminal_snr=True)


def oracle_v(x0: torch.Tensor, schedule: NoiseSchedule):
    """A denoiser that knows x_0: v = (sqrt(abar) x_t - x_0) / sqrt(1 - abar), from x_t = sqrt(abar) x_0 + sqrt(1 - abar) eps."""
    abar = schedule.alphas_cumprod()

    def denoise(x_t, t, states, pooled):
        a = abar[t].view(-1, 1, 1, 1)
        return (a.sqrt() * x_t - x0.expand_as(x_t)) / (1 - a).sqrt()
    return denoise


def test_zero_terminal_snr_starts_sampling_from_pure_noise_and_needs_v_prediction():
    assert V_SCHEDULE.alphas_cumprod()[-1] == 0  # q(x_T | x_0) = N(0, I): no signal left at T
    scheduler = V_SCHEDULE.scheduler("ddim")
    scheduler.set_timesteps(50)
    assert scheduler.timesteps[0] == V_SCHEDULE.train_timesteps - 1  # trailing: the first step is t = T
    with pytest.raises(ValueError, match="v-prediction"):
        NoiseSchedule("cosine", zero_terminal_snr=True)


def test_v_objective_is_zero_for_the_true_v_and_ddim_lands_on_its_x0():
    torch.manual_seed(0)
    x0 = torch.rand(1, 3, 8, 8) * 2 - 1
    states, pooled = torch.zeros(4, 2, 3), torch.zeros(4, 5)
    loss = diffusion_loss(oracle_v(x0, V_SCHEDULE), x0.expand(4, -1, -1, -1), states, pooled, V_SCHEDULE,
                          torch.Generator().manual_seed(1), min_snr_gamma=5.0)
    assert loss.item() < 1e-8
    # every DDIM step predicts x_0 = sqrt(abar) x_t - sqrt(1 - abar) v exactly, so sampling ends there, up to
    # the noise level of t = 0 where DDIM stops (sqrt(1 - abar_0) = 0.006 on the cosine schedule)
    images = sample(oracle_v(x0, V_SCHEDULE), states[:1], pooled[:1], states[:1], pooled[:1], (3, 8, 8),
                    [torch.Generator().manual_seed(2)], V_SCHEDULE, steps=20, guidance=3.0, sampler="ddim")
    assert (images - x0).abs().max() < 0.05 and x0.abs().max() > 0.9


def cosine_alpha_bar(t: torch.Tensor, s: float = 0.008) -> torch.Tensor:
    """Nichol & Dhariwal (2021): f(t) = cos^2(((t / T + s) / (1 + s)) pi / 2), at t / T."""
    return torch.cos((t + s) / (1 + s) * torch.pi / 2) ** 2


def test_the_cosine_schedule_is_nichol_and_dhariwals_formula():
    abar = NoiseSchedule("cosine").alphas_cumprod().double()  # [T]
    T = len(abar)
    # index t is the state after step t + 1: abar_t = f((t + 1) / T) / f(0), betas capped at 0.999 near t = T
    expected = cosine_alpha_bar(torch.arange(1, T + 1, dtype=torch.float64) / T) / cosine_alpha_bar(torch.tensor(0.0))
    assert torch.allclose(abar[:990], expected[:990], rtol=1e-4, atol=1e-6)
    assert abar[0] == pytest.approx(0.99996, abs=1e-5) and abar[499] == pytest.approx(0.4938, abs=1e-4)  # cos^2(0.7916) / cos^2(0.0125)


def test_zero_terminal_snr_rescales_sqrt_abar_linearly_to_zero_at_t():
    plain = NoiseSchedule("cosine").alphas_cumprod().double().sqrt()
    rescaled = V_SCHEDULE.alphas_cumprod().double().sqrt()
    # Lin et al. (2024), Algorithm 1: shift so the last is 0, scale so the first is unchanged
    expected = (plain - plain[-1]) * plain[0] / (plain[0] - plain[-1])
    assert torch.allclose(rescaled, expected, atol=1e-5) and rescaled[-1] == 0


def test_q_sample_is_the_closed_form_at_given_noise():
    abar = NoiseSchedule("cosine").alphas_cumprod()
    x0 = torch.tensor([[[[0.5, -1.0]]], [[[0.25, 1.0]]]])  # [2, 1, 1, 2]
    noise = torch.tensor([[[[1.0, 2.0]]], [[[-1.0, 0.5]]]])
    t = torch.tensor([0, 499])
    x_t = q_sample(x0, t, noise, abar)
    for i, step in enumerate(t.tolist()):
        a = float(cosine_alpha_bar(torch.tensor((step + 1) / 1000.0)) / cosine_alpha_bar(torch.tensor(0.0)))
        assert torch.allclose(x_t[i], a ** 0.5 * x0[i] + (1 - a) ** 0.5 * noise[i], atol=1e-4)
    # the v target the loss uses for v-prediction: v = sqrt(abar) eps - sqrt(1 - abar) x_0
    v = V_SCHEDULE.scheduler("ddpm").get_velocity(x0, noise, t)
    a = V_SCHEDULE.alphas_cumprod()[t].view(-1, 1, 1, 1)
    assert torch.allclose(v, a.sqrt() * noise - (1 - a).sqrt() * x0, atol=1e-6)
