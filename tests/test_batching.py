"""Batched generation: a fixed batch size is bitwise reproducible, other batch sizes agree to 1/255, and an
evaluation run resumed after a crash makes the very images an uninterrupted run makes."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from models.contract import ImageRequest, batches
from models.diffusion.guidance import _guided_denoiser

PROMPTS = ["a red circle", "two blue squares", "a green cross above a red circle", "a small yellow triangle",
           "a large purple square on the left", "three cyan circles", "an orange cross", "a blue circle below a red square"]


def pixels(images) -> np.ndarray:
    return np.stack([np.asarray(image, dtype=np.int16) for image in images])  # [N,H,W,3]


def assert_within_one_level(a: np.ndarray, b: np.ndarray) -> None:
    """The batch-size contract: within 1/255 per pixel on at least 99.9 % of pixels."""
    difference = np.abs(a - b)
    assert (difference <= 1).mean() >= 0.999, f"{(difference > 1).mean():.2%} of pixels differ by more than 1/255"


def test_batches_are_a_fixed_split():
    assert batches(list(range(7)), 3) == [[0, 1, 2], [3, 4, 5], [6]]
    assert batches(list(range(2)), 16) == [[0, 1]]


@pytest.mark.parametrize("sampler", ["ddim", "ddpm"])
def test_fixed_batch_size_is_bitwise_and_other_sizes_agree(tiny_generator, sampler):
    by_size = {size: pixels(tiny_generator.generate(PROMPTS, seed=3, steps=4, sampler=sampler, batch_size=size))
               for size in (1, 3, 8)}
    again = pixels(tiny_generator.generate(PROMPTS, seed=3, steps=4, sampler=sampler, batch_size=3))
    assert np.array_equal(by_size[3], again)
    assert_within_one_level(by_size[1], by_size[8])
    assert_within_one_level(by_size[3], by_size[8])


def test_requests_with_their_own_seeds_match_generate(tiny_layout_generator):
    """generate(prompts, seed) is generate_requests over streams (seed, i); an evaluation run's rows carry
    their own seeds and mix in one batch."""
    through_generate = pixels(tiny_layout_generator.generate(PROMPTS[:4], seed=9, steps=3, batch_size=4))
    requests = [ImageRequest(prompt, 9, index) for index, prompt in enumerate(PROMPTS[:4])]
    assert np.array_equal(through_generate, pixels(tiny_layout_generator.generate_requests(requests, steps=3,
                                                                                           batch_size=4)))
    mixed = [ImageRequest(PROMPTS[0], 9, 0), ImageRequest(PROMPTS[0], 10, 0)]
    one, other = pixels(tiny_layout_generator.generate_requests(mixed, steps=3, batch_size=2))
    assert not np.array_equal(one, other)  # another seed, another image in the same batch
    assert_within_one_level(one[None], through_generate[:1])


def test_guidance_one_and_zero_compute_one_half_with_the_same_values(tiny_generator):
    torch.manual_seed(0)
    x, t = torch.randn(2, 3, 32, 32), torch.tensor([500, 500])
    states, pooled = tiny_generator.text_encoder(["a red circle", "a blue square"])
    empty_states, empty_pooled = tiny_generator.unconditional()
    for scale in (0.0, 1.0):
        fast = _guided_denoiser(tiny_generator.denoise, states, pooled, empty_states, empty_pooled, scale)(x, t)
        both = _guided_denoiser(tiny_generator.denoise, states, pooled, empty_states, empty_pooled, scale + 1e-12)
        torch.testing.assert_close(fast, both(x, t), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name", ["ddpm", "ldm", "dit", "dit-layout", "gan", "gan-layout", "ar"])
def test_shipped_models_agree_across_batch_sizes(name):
    from models.registry import load

    generator = load(name)
    steps = 5 if generator.info.samplers else None
    one = pixels(generator.generate(PROMPTS, seed=1, steps=steps, batch_size=1))
    eight = pixels(generator.generate(PROMPTS, seed=1, steps=steps, batch_size=8))
    assert np.array_equal(eight, pixels(generator.generate(PROMPTS, seed=1, steps=steps, batch_size=8)))
    assert_within_one_level(one, eight)


def test_an_evaluation_run_records_its_batch_size_and_resumes_bitwise(tmp_path):
    from evaluation.runs.sweep import RunOptions, run

    options = RunOptions(models=["gan", "dit"], prompts="shapes-single-6", out=str(tmp_path / "run"),
                         guidance=[3.0], steps=[3], n=1, batch_size=4, floor=False)  # no noise-floor row
    run(options)
    folder = tmp_path / "run"
    assert json.loads((folder / "run.json").read_text())["batch_size"] == 4
    rows = [json.loads(line) for line in (folder / "rows.jsonl").read_text().splitlines()]
    assert {row["batch_size"] for row in rows} == {4} and len(rows) == 12
    assert "batch_size" in (folder / "images.csv").read_text().splitlines()[0].split(",")
    files = sorted((folder / "images").rglob("*.png"))
    before = {path: pixels([Image.open(path)]) for path in files}
    lost = [path for path in files if "p0001" in path.name or "p0004" in path.name]  # one image in each batch
    for path in lost:
        path.unlink()
    (folder / "rows.jsonl").write_text("".join(line + "\n" for line in (folder / "rows.jsonl").read_text().splitlines()
                                               if not any(f'"{p.relative_to(folder).as_posix()}"' in line for p in lost)))
    assert run(options)["generated"] == len(lost)
    for path in files:
        assert np.array_equal(before[path], pixels([Image.open(path)])), path


def test_compiled_generator_makes_the_same_images(tiny_generator):
    """The compile path end to end (the eager backend: the plumbing, not inductor's minutes of codegen)."""
    import copy

    from models.acceleration import compile_generator

    compiled = compile_generator(copy.copy(tiny_generator), backend="eager")
    assert compiled.denoise is not tiny_generator.denoise
    assert np.array_equal(pixels(compiled.generate(PROMPTS[:2], seed=0, steps=2)),
                          pixels(tiny_generator.generate(PROMPTS[:2], seed=0, steps=2)))


def denoiser_unet(generator) -> torch.nn.Module:
    """The U-Net a diffusion generator's denoiser closes over."""
    return next(c.cell_contents for c in generator.denoise.__closure__ if isinstance(c.cell_contents, torch.nn.Module))


def test_channels_last_on_cpu_is_opt_in_and_makes_the_same_images(tiny_generator):
    import copy

    from models.acceleration import for_device
    from models.diffusion.unet import unet_denoiser

    unet = denoiser_unet(tiny_generator)
    assert not for_device(copy.deepcopy(unet), "cpu").conv_in.weight.is_contiguous(memory_format=torch.channels_last)
    converted = for_device(copy.deepcopy(unet), "cpu", channels_last_on_cpu=True)
    assert converted.conv_in.weight.is_contiguous(memory_format=torch.channels_last)
    channels_last = copy.copy(tiny_generator)
    channels_last.denoise = unet_denoiser(converted)
    assert_within_one_level(pixels(tiny_generator.generate(PROMPTS[:3], seed=2, steps=3, batch_size=2)),
                            pixels(channels_last.generate(PROMPTS[:3], seed=2, steps=3, batch_size=2)))


def test_shipped_ddpm_runs_channels_last_on_cpu():
    from models.diffusion import pixel

    assert denoiser_unet(pixel.load()).conv_in.weight.is_contiguous(memory_format=torch.channels_last)


def test_precision_is_fp32_on_cpu_and_checked():
    from models.acceleration import autocast

    with autocast("cpu", "fp16"):
        assert torch.ones(2, 2).matmul(torch.ones(2, 2)).dtype == torch.float32
    with pytest.raises(ValueError, match="precision"):
        autocast("cuda", "fp8")
