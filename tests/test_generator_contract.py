"""The generator contract on a tiny real diffusion model: determinism, batch independence, validation."""
import math

import numpy as np
import pytest

from models.contract import GenerationError


def pixels(images):
    return [np.asarray(im) for im in images]


@pytest.mark.parametrize("sampler", ["ddim", "ddpm", "dpm++"])
def test_image_i_depends_only_on_seed_index_prompt_and_settings(tiny_generator, sampler):
    prompts = ["a red circle", "two blue squares", "a red circle", "a green cross", "a yellow square at the top"]
    full = pixels(tiny_generator.generate(prompts, seed=7, steps=3, sampler=sampler))
    again = pixels(tiny_generator.generate(prompts, seed=7, steps=3, sampler=sampler))
    first = pixels(tiny_generator.generate(prompts[:1], seed=7, steps=3, sampler=sampler))
    assert all(np.array_equal(a, b) for a, b in zip(full, again))
    assert np.array_equal(full[0], first[0])  # alone or in a batch of five
    assert not np.array_equal(full[0], full[2])  # same prompt, another index: another image
    other_seed = pixels(tiny_generator.generate(prompts[:1], seed=8, steps=3, sampler=sampler))
    assert not np.array_equal(first[0], other_seed[0])


def test_guidance_changes_the_image(tiny_generator):
    a = pixels(tiny_generator.generate(["a red circle"], seed=1, steps=3, guidance_scale=1.0))[0]
    b = pixels(tiny_generator.generate(["a red circle"], seed=1, steps=3, guidance_scale=5.0))[0]
    assert not np.array_equal(a, b)


def test_outputs_are_32px_rgb_and_steps_stream_through_on_step(tiny_generator):
    seen = []
    images = tiny_generator.generate(["a red circle", "a blue square"], seed=0, steps=3,
                                     on_step=lambda i, n, previews: seen.append((i, n, len(previews))))
    assert [im.size for im in images] == [(32, 32)] * 2 and images[0].mode == "RGB"
    # one batch of two: each step advances both images; previews are the batch's current states
    assert seen == [(2, 6, 2), (4, 6, 2), (6, 6, 2)]
    seen.clear()
    tiny_generator.generate(["a red circle", "a blue square"], seed=0, steps=3, batch_size=1,
                            on_step=lambda i, n, previews: seen.append((i, n, len(previews))))
    assert seen == [(1, 6, 1), (2, 6, 1), (3, 6, 1), (4, 6, 2), (5, 6, 2), (6, 6, 2)]  # finished + the current one


@pytest.mark.parametrize("kwargs, message", [
    (dict(prompts=[""]), "empty"),
    (dict(prompts=["   "]), "empty"),
    (dict(prompts=["a" * 501]), "limit"),
    (dict(prompts=[]), "non-empty"),
    (dict(steps=0), "steps"),
    (dict(steps=100_000), "steps"),
    (dict(guidance_scale=math.nan), "guidance"),
    (dict(guidance_scale=-1.0), "guidance"),
    (dict(sampler="euler-magic"), "sampler"),
    (dict(seed=-3), "seed"),
    (dict(seed=True), "seed"),
    (dict(batch_size=0), "batch-size"),
    (dict(batch_size=10_000), "batch-size"),
    (dict(batch_size=2.5), "batch-size"),
])
def test_bad_requests_raise_one_line_errors(tiny_generator, kwargs, message):
    request = dict(prompts=["a red circle"], seed=0, steps=2) | kwargs
    prompts = request.pop("prompts")
    with pytest.raises(GenerationError) as error:
        tiny_generator.generate(prompts, **request)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_the_base_class_validates_once_and_the_edges_live_in_the_contract(monkeypatch):
    """generate() builds the requests, generate_requests() checks them once, make_images gets checked values;
    the seed range and truncation range are the contract's, for every entry point."""
    import models.contract as contract

    class Echo(contract.GeneratorBase):
        info = contract.GeneratorInfo(name="echo", family="test", conditioning="text", resolution=1, parameters=0,
                                      default_steps=7, default_guidance=2.0, guidance_applies=True,
                                      samplers=contract.DIFFUSION_SAMPLERS, default_sampler="ddim")

        def make_images(self, requests, steps, guidance, sampler, on_step, batch_size, **options):
            return [(r, steps, guidance, sampler, batch_size, options) for r in requests]

    calls = []
    checked = contract.check_requests
    monkeypatch.setattr(contract, "check_requests", lambda *a: calls.append(a) or checked(*a))
    made = Echo().generate(["a red circle", "a blue square"], seed=contract.MAX_SEED, layout="none")
    assert len(calls) == 1
    assert made[1] == (contract.ImageRequest("a blue square", contract.MAX_SEED, 1), 7, 2.0, "ddim", 16,
                       {"layout": "none"})
    for bad in (-1, contract.MAX_SEED + 1):
        with pytest.raises(contract.GenerationError, match=f"seed must be an integer from 0 to {contract.MAX_SEED}"):
            Echo().generate(["a red circle"], seed=bad)
    with pytest.raises(contract.GenerationError, match="prompts must be a non-empty list"):
        Echo().generate("a red circle", seed=0)
    assert contract.check_truncation(contract.MAX_TRUNCATION) == contract.MAX_TRUNCATION
    for bad in (-0.1, contract.MAX_TRUNCATION + 0.1, float("nan"), True, "1"):
        with pytest.raises(contract.GenerationError, match="truncation psi must be a number from 0 to 2"):
            contract.check_truncation(bad)
    from models.diffusion.schedule import SAMPLERS
    assert tuple(SAMPLERS) == contract.DIFFUSION_SAMPLERS
