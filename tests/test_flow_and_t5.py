"""The two axes of the modern DiT recipe: rectified flow (models/diffusion/flow.py) and the frozen T5 encoder
(models/text/t5.py, span_corruption.py), on tiny real components."""
import dataclasses

import numpy as np
import pytest
import torch

from models.checkpoints import CheckpointError
from models.diffusion.dit import DIT_CONFIGS, DiT
from models.diffusion.flow import FlowSchedule, flow_loss, interpolate, read_schedule
from models.diffusion.generator import DiffusionGenerator, diffusion_info
from models.diffusion.guidance import sample
from models.diffusion.schedule import NoiseSchedule
from models.text import span_corruption
from models.text.t5 import EOS, PAD, T5_CONFIGS, UNK, T5TextEncoder, load_text_encoder, token_ids, train_tokenizer

X0 = torch.randn(3, 4, 8, 8, generator=torch.Generator().manual_seed(1))  # [B,C,H,W]


def oracle(x: torch.Tensor, t: torch.Tensor, states, pooled) -> torch.Tensor:
    """The exact velocity towards X0 from x_t at network time t = 1000 sigma: (x_t - x_0) / sigma (under guidance
    the batch is [unconditional rows; conditional rows], both heading for X0)."""
    sigma = (t / 1000).view(-1, 1, 1, 1)
    return (x - X0.repeat(x.shape[0] // len(X0), 1, 1, 1)) / sigma.clamp(min=1e-6)


@pytest.mark.parametrize("sampler", ["euler", "heun"])
@pytest.mark.parametrize("steps", [1, 4])
def test_a_flow_sampler_with_the_exact_velocity_lands_on_x0_in_any_number_of_steps(sampler, steps):
    # straight paths: one Euler step of the true velocity is already exact (what few-step flows rely on)
    states, pooled = torch.zeros(3, 2, 4), torch.zeros(3, 4)
    out = sample(oracle, states, pooled, states[:1], pooled[:1], (4, 8, 8),
                 [torch.Generator().manual_seed(i) for i in range(3)], FlowSchedule(), steps, 3.0, sampler)
    assert torch.allclose(out, X0, atol=1e-4)


@pytest.mark.parametrize("sampler", ["euler", "heun"])
@pytest.mark.parametrize("steps", [2, 4, 8])
def test_each_of_n_flow_steps_moves_one_nth_of_the_way(sampler, steps):
    """SD3's and Flux's spacing; the schedulers' own stops at t = 0.001, so its last step moved almost nothing."""
    scheduler = FlowSchedule().scheduler(sampler)
    scheduler.set_timesteps(steps)
    levels = torch.unique_consecutive(scheduler.sigmas)  # Heun lists each inner level twice
    assert torch.allclose(levels, torch.linspace(1, 0, steps + 1), atol=1e-6)
    assert torch.allclose(torch.unique_consecutive(scheduler.timesteps), 1000 * levels[:-1], atol=1e-3)


def test_the_flow_loss_reads_zero_for_the_true_velocity_and_not_for_the_negated_one():
    states, pooled, schedule = torch.zeros(3, 2, 4), torch.zeros(3, 4), FlowSchedule()
    exact = flow_loss(oracle, X0, states, pooled, schedule, torch.Generator().manual_seed(0))
    wrong = flow_loss(lambda *a: -oracle(*a), X0, states, pooled, schedule, torch.Generator().manual_seed(0))
    assert exact < 1e-6 < 1.0 < wrong
    t = torch.tensor([0.0, 0.5, 1.0])
    noise = torch.ones_like(X0)
    path = interpolate(X0, noise, t)  # t = 0 is the data, t = 1 the noise
    assert torch.equal(path[0], X0[0]) and torch.equal(path[2], noise[2])


def test_logit_normal_times_concentrate_on_the_middle_and_stay_inside_the_interval():
    t = FlowSchedule().sample_t(20_000, torch.Generator().manual_seed(0))
    assert 0 < t.min() and t.max() < 1 and abs(float(t.median()) - 0.5) < 0.02
    assert float(((t > 0.25) & (t < 0.75)).float().mean()) > 0.6  # a uniform t would put 0.5 there


def test_a_manifest_schedule_reads_back_as_what_wrote_it():
    for schedule in (FlowSchedule(logit_std=0.8), NoiseSchedule("cosine", prediction="v_prediction",
                                                               zero_terminal_snr=True, spacing="trailing")):
        assert read_schedule(dataclasses.asdict(schedule)) == schedule


def test_a_tiny_flow_dit_fits_a_fixed_batch():
    torch.manual_seed(0)
    network = DiT(DIT_CONFIGS["tiny"])
    optimizer = torch.optim.Adam(network.parameters(), lr=3e-3)
    states, pooled = torch.randn(3, 4, 16), torch.randn(3, 16)
    losses = []
    for step in range(60):
        loss = flow_loss(network, X0, states, pooled, FlowSchedule(), torch.Generator().manual_seed(step % 4))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert np.mean(losses[-8:]) < 0.7 * np.mean(losses[:8]), (losses[:8], losses[-8:])


# ---------------------------------------------------------------- T5
def test_span_corruption_masks_some_tokens_never_all_and_the_target_restores_the_caption():
    rng = np.random.default_rng(0)
    for length in [2, 3, 7, 12, 30]:
        for _ in range(50):
            ids = list(range(100, 100 + length))
            mask = span_corruption.noise_mask(length, 0.25, 2.0, rng)
            assert 1 <= mask.sum() < length
            inputs, targets = span_corruption.corrupt(ids, mask)
            assert inputs[-1] == EOS and targets[-1] == EOS
            # fill each sentinel of the input with what follows it in the target: the caption again
            spans, current = {}, None
            for token in targets[:-1]:
                if token < 100:
                    current = token
                    spans[current] = []
                else:
                    spans[current].append(token)
            restored = [t for token in inputs[:-1] for t in (spans[token] if token < 100 else [token])]
            assert restored == ids


def test_the_t5_encoder_gives_fixed_length_states_pools_its_own_tokens_and_saves_losslessly(tmp_path):
    component = span_corruption.training_component("tiny", data_seed=3)
    component.export(component.network, tmp_path)
    encoder = load_text_encoder(tmp_path)
    assert isinstance(encoder, T5TextEncoder)
    captions = ["a red circle to the left of a blue square", "", "four yellow crosses"]
    states, pooled = encoder(captions)
    length, width = T5_CONFIGS["tiny"].context_length, T5_CONFIGS["tiny"].d_model
    assert states.shape == (3, length, width) and pooled.shape == (3, width)
    ids = encoder.tokenize(captions)
    n = int((ids[0] != PAD).sum())
    assert torch.allclose(pooled[0], states[0, :n].mean(0), atol=1e-6)
    # word order reaches the states (CLIP's pooled vector is known to behave like a bag of words)
    swapped, _ = encoder(["a blue square to the left of a red circle"])
    assert not torch.allclose(swapped[0], states[0])
    again = T5TextEncoder.from_pretrained(tmp_path)
    assert torch.equal(again(captions)[0], states)


def test_a_corrupt_t5_checkpoint_is_one_line_error(tmp_path):
    component = span_corruption.training_component("tiny", data_seed=3)
    component.export(component.network, tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError) as error:
        T5TextEncoder.from_pretrained(tmp_path)
    assert "\n" not in str(error.value) and str(tmp_path) in str(error.value)


def test_span_corruption_pretraining_lowers_the_loss_on_world_captions():
    component = span_corruption.training_component("tiny", data_seed=3)
    optimizer = torch.optim.Adam(component.network.parameters(), lr=1e-2)
    captions = span_corruption.tokenizer_captions(seed=5, n=64)
    losses = []
    for step in range(40):
        loss = component.loss(None, captions, step)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert np.mean(losses[-5:]) < 0.6 * np.mean(losses[:5])


def test_the_tokenizer_keeps_world_words_whole_and_spells_unseen_ones():
    tokenizer = train_tokenizer(span_corruption.tokenizer_captions(seed=4, n=2000), 256)
    world, unseen = token_ids(tokenizer, ["a red circle", "A Red dodecahedron"])
    assert len(world) == 3 and unseen[:2] == world[:2] and len(unseen) > 3
    assert UNK not in unseen  # every letter is in the vocabulary: an unseen word is spelled, not lost


def test_a_latent_generator_reads_the_t5_encoder_with_guidance(tmp_path):
    component = span_corruption.training_component("tiny", data_seed=3)
    component.export(component.network, tmp_path)
    encoder = T5TextEncoder.from_pretrained(tmp_path)
    torch.manual_seed(0)
    config = dataclasses.replace(DIT_CONFIGS["tiny"], text_width=encoder.config.text_width,
                                 pooled_width=encoder.config.embed_dim)
    generator = DiffusionGenerator(diffusion_info("tiny-flow-t5", "flow", 0, default_steps=2, flow=True),
                                   DiT(config).eval(), encoder, FlowSchedule(), sample_shape=(4, 8, 8),
                                   decode=lambda z: torch.tanh(torch.nn.functional.interpolate(z[:, :3], size=32)))
    images = generator.generate(["a red circle", "three blue squares"], seed=0, guidance_scale=3.0)
    assert [im.size for im in images] == [(32, 32)] * 2
    assert generator.info.default_sampler == "euler"
