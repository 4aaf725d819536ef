"""The hybrid `ar+dit` (models/hybrid.py) and the SDEdit start it rests on (guidance.sample's start/strength), on
tiny real components: what hand-off 0 and 1 mean, one-line refusals, and its place in the registry."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from models import registry
from models.ar.family import ARGenerator, SamplingConfig, ar_info
from models.ar.tokenizer import TOKENIZER_CONFIGS, FSQTokenizer
from models.ar.transformer import TRANSFORMER_CONFIGS, ARTransformer
from models.contract import GenerationError
from models.diffusion.dit import DIT_CONFIGS, DiT
from models.diffusion.generator import DiffusionGenerator, diffusion_info
from models.diffusion.guidance import sample
from models.diffusion.schedule import NoiseSchedule
from models.hybrid import HybridGenerator, HybridParts
from world import to_image, to_tensor

V_SCHEDULE = NoiseSchedule("cosine", spacing="trailing", prediction="v_prediction", zero_terminal_snr=True)
X0 = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(3))


def exact_v(x: torch.Tensor, t: torch.Tensor, states, pooled) -> torch.Tensor:
    """The v-prediction that leads to X0 exactly: v = sqrt(abar) eps - sqrt(1 - abar) x0, eps read off x_t."""
    abar = V_SCHEDULE.alphas_cumprod()[t.long()].view(-1, 1, 1, 1)
    x0 = X0.repeat(x.shape[0] // len(X0), 1, 1, 1)
    eps = (x - abar.sqrt() * x0) / (1 - abar).sqrt().clamp(min=1e-6)
    return abar.sqrt() * eps - (1 - abar).sqrt() * x0


@pytest.mark.parametrize("strength", [0.3, 0.6, 1.0])
def test_a_partial_schedule_from_any_start_lands_on_x0_with_the_exact_model(strength):
    states, pooled = torch.zeros(2, 2, 4), torch.zeros(2, 4)
    start = torch.randn(2, 4, 8, 8)
    # DDPM's last step lands on x_0 itself (DDIM's stops at abar_0's noise level, as the shipped models are set)
    out = sample(exact_v, states, pooled, states[:1], pooled[:1], (4, 8, 8),
                 [torch.Generator().manual_seed(i) for i in range(2)], V_SCHEDULE, 10, 3.0, "ddpm",
                 start=start, strength=strength)
    assert torch.allclose(out, X0, atol=1e-3)


def test_strength_zero_returns_the_start_and_runs_no_step():
    calls = []
    start = torch.randn(2, 4, 8, 8)
    out = sample(lambda *a: calls.append(1), torch.zeros(2, 2, 4), torch.zeros(2, 4), torch.zeros(1, 2, 4),
                 torch.zeros(1, 4), (4, 8, 8), [torch.Generator() for _ in range(2)], V_SCHEDULE, 10, 3.0, "ddim",
                 start=start, strength=0.0)
    assert out is start and not calls


@pytest.fixture(scope="module")
def parts(tiny_text_encoder):
    torch.manual_seed(0)
    tokenizer = FSQTokenizer(TOKENIZER_CONFIGS["tiny"]).eval()
    config = dataclasses.replace(TRANSFORMER_CONFIGS["tiny"], vocab=tokenizer.codebook_size,
                                 text_width=tiny_text_encoder.config.text_width,
                                 pooled_dim=tiny_text_encoder.config.embed_dim)
    transformer = ARTransformer(config).eval()
    drafter = ARGenerator(ar_info("tiny-ar", 0, SamplingConfig(), config, tokenizer.codebook_size), transformer,
                          tokenizer, tiny_text_encoder)
    dit = DiT(dataclasses.replace(DIT_CONFIGS["tiny"], text_width=tiny_text_encoder.config.text_width,
                                  pooled_width=tiny_text_encoder.config.embed_dim)).eval()
    # a stand-in VAE: 4x4 average pooling plus a zero channel, and back by nearest upsampling
    encode = lambda x: torch.cat([torch.nn.functional.avg_pool2d(x, 4), torch.zeros(x.shape[0], 1, 8, 8)], 1)
    decode = lambda z: torch.nn.functional.interpolate(z[:, :3], scale_factor=4)
    finisher = DiffusionGenerator(diffusion_info("tiny-dit", "dit", 0, default_steps=4), dit, tiny_text_encoder,
                                  V_SCHEDULE, (4, 8, 8), decode=decode, encode=encode)
    return HybridParts(drafter, finisher, config.tokens)


def hybrid(parts, handoff):
    return HybridGenerator(dataclasses.replace(parts.finisher.info, name="tiny-hybrid", family="hybrid"), parts,
                           handoff)


PROMPTS = ["a red circle", "two blue squares", "a yellow triangle above a green cross"]


def pixels(images):
    return np.stack([np.asarray(image, dtype=np.int16) for image in images])


def test_handoff_zero_is_the_draft_as_the_finisher_sees_it(parts):
    drafts = parts.drafter.generate(PROMPTS, seed=4)
    seen = [to_image(row) for row in parts.finisher.decode(parts.finisher.encode(torch.stack(
        [to_tensor(d) for d in drafts])))]
    assert np.array_equal(pixels(hybrid(parts, 0.0).generate(PROMPTS, seed=4)), pixels(seen))


def test_handoff_one_ignores_the_draft_and_partial_handoffs_keep_some_of_it(parts):
    other = dataclasses.replace(parts, drafter=_hotter(parts.drafter))
    full, full_other = (hybrid(p, 1.0).generate(PROMPTS, seed=4) for p in (parts, other))
    assert np.array_equal(pixels(full), pixels(full_other))  # the draft is noised away completely
    half, half_other = (hybrid(p, 0.5).generate(PROMPTS, seed=4) for p in (parts, other))
    assert not np.array_equal(pixels(half), pixels(half_other))


def _hotter(drafter: ARGenerator) -> ARGenerator:
    """The same drafter sampling at another temperature: other drafts from the same seeds."""
    return ARGenerator(drafter.info, drafter.transformer, drafter.tokenizer, drafter.text_encoder,
                       SamplingConfig(temperature=2.0))


def test_images_are_reproducible_and_a_bad_handoff_is_one_line(parts):
    model = hybrid(parts, 0.6)
    assert np.array_equal(pixels(model.generate(PROMPTS, seed=9)), pixels(model.generate(PROMPTS, seed=9)))
    for bad in (-0.1, 1.5, float("nan"), "0.5", True):
        with pytest.raises(GenerationError, match="handoff must be a number from 0") as error:
            model.generate(PROMPTS[:1], seed=0, handoff=bad)
        assert "\n" not in str(error.value)


def test_the_registry_composes_the_hybrid_from_its_parts(monkeypatch):
    assert registry.COMPOSED["ar+dit"] == ("ar", "dit") and "ar+dit" in registry.names()
    prints = {"ar": "a" * 16, "dit": "b" * 16}
    monkeypatch.setattr(registry, "is_available", lambda name: name != "dit" if name in prints else
                        all(n != "dit" for n in registry.COMPOSED[name]))
    with pytest.raises(registry.CheckpointError, match="dit has no checkpoint .*ar\\+dit is made of ar and dit"):
        registry.load.__wrapped__("ar+dit")


def test_models_sample_takes_the_handoff_of_the_shipped_ar_dit(tmp_path, capsys):
    """`python -m models sample --model ar+dit --handoff H`: another hand-off, other images; the default is the
    model's own (the same files as --handoff 0.8)."""
    from PIL import Image

    from models.__main__ import main
    from models.hybrid import DEFAULT_HANDOFF

    def sampled(*handoff) -> np.ndarray:
        out = tmp_path / "-".join(handoff or ("default",))
        main(["sample", "--model", "ar+dit", "--prompt", "four cyan crosses", "--n", "1", "--steps", "10",
              *(["--handoff", *handoff] if handoff else []), "--out", str(out)])
        return np.asarray(Image.open(out / "000.png"), dtype=float)

    default, low = sampled(), sampled("0.2")
    assert np.array_equal(default, sampled(str(DEFAULT_HANDOFF)))
    assert np.abs(default - low).mean() > 1.0  # measured 8.6 of 255: a 0.2 hand-off keeps more of ar's draft


def test_a_composed_family_reads_its_parts_worlds_joined_when_they_differ(monkeypatch):
    from models import registry

    versions = {"ar": 2, "dit": 1}
    monkeypatch.setattr(registry, "read_manifest", lambda folder, verify=True: {"world_version": versions[folder.name]})
    assert registry.world_version("ar+dit") == "1+2"
    versions["dit"] = 2
    assert registry.world_version("ar+dit") == "2"
