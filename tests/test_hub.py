"""Hub pipelines behind the generator contract, on tiny pipelines built and saved here (no network)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from models import hub, registry, tiny_hub
from models.checkpoints import CheckpointError
from models.contract import GenerationError


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    return tiny_hub.save_all(tmp_path_factory.mktemp("hub"))


@pytest.fixture(scope="module")
def loaded(folders):
    return {kind: registry.load(f"hub:{folder}") for kind, folder in folders.items()}


def pixels(images):
    return [np.asarray(image) for image in images]


def same(a, b) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(pixels(a), pixels(b), strict=True))


def test_clip_tokenizer_from_open_clip_vocabulary_matches_open_clip(tmp_path):
    from open_clip.tokenizer import SimpleTokenizer

    tokenizer = tiny_hub.write_clip_tokenizer(tmp_path)
    caption = "a large red circle in the top left, two blue squares"
    ours = tokenizer(caption).input_ids
    reference = SimpleTokenizer()
    assert ours == [reference.sot_token_id] + reference.encode(caption) + [reference.eot_token_id]


@pytest.mark.parametrize("kind, conditioning, size", [("sd", "text", 16), ("dit", "class", 16), ("ddpm", "none", 16)])
def test_pipelines_load_through_registry_with_right_info_and_size(loaded, kind, conditioning, size):
    generator = loaded[kind]
    assert generator.info.family == "hub"
    assert generator.info.conditioning == conditioning
    assert generator.info.resolution == size
    assert generator.info.guidance_applies == (conditioning != "none")
    assert generator.info.parameters > 10_000
    images = generator.generate(["a golden retriever", "a tabby cat"], seed=1, steps=3)
    assert [image.size for image in images] == [(size, size)] * 2
    assert all(image.mode == "RGB" for image in images)


@pytest.mark.parametrize("kind", ["sd", "dit", "ddpm"])
def test_deterministic_by_seed_and_independent_of_batch(loaded, kind):
    generator = loaded[kind]
    prompts = ["a golden retriever", "a tabby cat", "a goldfish"]
    first = generator.generate(prompts, seed=3, steps=3)
    assert same(first, generator.generate(prompts, seed=3, steps=3))
    assert same(first[:1], generator.generate(prompts[:1], seed=3, steps=3))
    assert not same(first[:1], generator.generate(prompts[:1], seed=4, steps=3))


@pytest.mark.parametrize("kind", ["sd", "dit"])
def test_guidance_changes_text_and_class_conditional_output(loaded, kind):
    generator = loaded[kind]
    low = generator.generate(["a golden retriever"], seed=0, steps=3, guidance_scale=1.0)
    high = generator.generate(["a golden retriever"], seed=0, steps=3, guidance_scale=7.5)
    assert not same(low, high)


@pytest.mark.parametrize("kind", ["sd", "dit"])
def test_guidance_0_is_unconditional_and_1_conditional_as_for_the_built_in_models(loaded, kind):
    generator = loaded[kind]
    named = "a golden retriever" if kind == "sd" else "golden retriever"
    other = "a tabby cat" if kind == "sd" else "tabby"
    zero = generator.generate([named], seed=0, steps=3, guidance_scale=0)
    one = generator.generate([named], seed=0, steps=3, guidance_scale=1)
    assert not same(zero, one)  # diffusers alone reads the prompt at both
    assert same(zero, generator.generate([other], seed=0, steps=3, guidance_scale=0))  # 0 reads no condition
    assert not same(one, generator.generate([other], seed=0, steps=3, guidance_scale=1))
    if kind == "sd":  # 0 is the empty prompt, the half classifier-free guidance pushes away from
        from models.contract import image_generator
        direct = generator.pipeline(prompt=[""], num_inference_steps=3, guidance_scale=1.0,
                                    generator=[image_generator(0, 0)], output_type="pil").images
        assert same(zero, direct)
    else:  # DiT's null class: no class name is needed at 0
        assert same(zero, generator.generate(["a spaceship"], seed=0, steps=3, guidance_scale=0))
    with pytest.raises(GenerationError, match="cannot blend"):
        generator.generate([named], seed=0, steps=3, guidance_scale=0.5)


def test_unconditional_pipeline_ignores_the_prompt(loaded):
    generator = loaded["ddpm"]
    assert "ignored" in generator.info.description
    assert same(generator.generate(["a cat"], seed=0, steps=3), generator.generate(["a dog"], seed=0, steps=3))


def test_dit_maps_prompts_to_imagenet_classes_by_name(loaded):
    generator = loaded["dit"]
    assert generator.class_label("A Golden Retriever on the grass") == 1
    assert generator.class_label("my tabby sleeping") == 0  # any synonym of the class
    assert generator.class_label("a goldfish in a bowl") == 2
    with pytest.raises(GenerationError, match="no ImageNet class name"):
        generator.generate(["a spaceship"], seed=0, steps=2)


@pytest.mark.parametrize("sampler, scheduler", [("ddim", "DDIMScheduler"), ("dpm++", "DPMSolverMultistepScheduler")])
def test_scheduler_is_swappable_and_changes_the_result(loaded, sampler, scheduler):
    generator = loaded["sd"]
    default = generator.generate(["a tabby cat"], seed=0, steps=4, sampler="default")
    swapped = generator.generate(["a tabby cat"], seed=0, steps=4, sampler=sampler)
    assert type(generator.pipeline.scheduler).__name__ == scheduler
    if scheduler != "DDIMScheduler":  # the tiny SD ships with DDIM, so only DPM-Solver++ may differ
        assert not same(default, swapped)
    # and back: "default" restores the shipped scheduler
    assert same(default, generator.generate(["a tabby cat"], seed=0, steps=4, sampler="default"))


def test_progress_counts_every_denoising_step(loaded):
    seen = []
    loaded["sd"].generate(["a", "b"], seed=0, steps=3, on_step=lambda done, total, previews: seen.append((done, total)))
    assert seen == [(2, 6), (4, 6), (6, 6)]  # one batch of two: a step advances both images
    seen.clear()
    loaded["sd"].generate(["a", "b"], seed=0, steps=3, batch_size=1,
                          on_step=lambda done, total, previews: seen.append((done, total)))
    assert seen == [(i, 6) for i in range(1, 7)]


@pytest.mark.parametrize("kind", ["sd", "dit", "ddpm"])
def test_a_batched_pipeline_call_matches_one_image_at_a_time(loaded, kind):
    prompts = ["a red circle", "a green cross", "a blue square"]
    if kind == "dit":  # class-conditional: the prompt must name one of its classes
        prompts = [next(iter(loaded["dit"].pipeline.labels))] * 3
    batched = loaded[kind].generate(prompts, seed=4, steps=3, batch_size=3)
    alone = loaded[kind].generate(prompts, seed=4, steps=3, batch_size=1)
    for a, b in zip(batched, alone):  # each image draws from its own generator, whatever its batch
        difference = np.abs(np.asarray(a, dtype=int) - np.asarray(b, dtype=int))
        assert difference.max() <= 1 and (difference == 0).mean() >= 0.99
    assert not np.array_equal(np.asarray(batched[0]), np.asarray(batched[2]))


def test_bad_requests_are_one_line_errors(loaded):
    with pytest.raises(GenerationError):
        loaded["sd"].generate([""], seed=0)
    with pytest.raises(GenerationError):
        loaded["sd"].generate(["a cat"], seed=0, guidance_scale=float("nan"))
    with pytest.raises(GenerationError, match="unknown sampler"):
        loaded["sd"].generate(["a cat"], seed=0, sampler="euler")


def test_uncached_hub_id_offline_names_model_folder_and_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert not registry.is_available("sd-2.1")
    with pytest.raises(CheckpointError) as error:
        hub.load("sd-2.1")
    message = str(error.value)
    assert "\n" not in message
    assert "stabilityai/stable-diffusion-2-1" in message and str(tmp_path) in message and "HF_HUB_CACHE" in message


def test_unreachable_hub_from_the_command_line_is_one_line(tmp_path):
    # a closed local port stands in for an unreachable hub: the real download path runs and fails fast
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "cache"), "HF_ENDPOINT": "http://127.0.0.1:9",
           "HF_HUB_OFFLINE": "0", "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "models", "sample", "--model", "hub:nobody/not-cached",
                             "--prompt", "a cat", "--n", "1", "--out", str(tmp_path / "out")],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: nobody/not-cached")
    assert "could not be reached" in lines[0] and "HF_HUB_CACHE" in lines[0]


def test_folder_that_is_not_a_pipeline_is_refused(tmp_path):
    with pytest.raises(CheckpointError, match="no model_index.json"):
        registry.load(f"hub:{tmp_path}")


def test_corrupt_pipeline_folder_is_one_line_error(folders, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(folders["ddpm"], broken)
    weights = next(broken.glob("unet/*.safetensors"))
    weights.write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="could not load the pipeline") as error:
        registry.load(f"hub:{broken}")
    assert "\n" not in str(error.value)


def test_cached_hub_ids_are_listed_as_available(folders, tmp_path, monkeypatch):
    # lay the tiny DDPM out as the hub cache does (models--org--name/snapshots/REV/...) under the short name's id
    snapshot = tmp_path / "models--google--ddpm-cifar10-32" / "snapshots" / ("0" * 40)
    import shutil

    shutil.copytree(folders["ddpm"], snapshot)
    (tmp_path / "models--google--ddpm-cifar10-32" / "refs").mkdir()
    (tmp_path / "models--google--ddpm-cifar10-32" / "refs" / "main").write_text("0" * 40)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert "ddpm-cifar10" in registry.available()
    assert "sd-2.1" not in registry.available()
    generator = hub.load("ddpm-cifar10")  # loads from the cache without a network
    assert generator.generate(["ignored"], seed=0, steps=2)[0].size == (16, 16)


def test_generate_image_is_the_seed_example_as_a_call(folders):
    first = hub.generate_image("a tabby cat", guidance_scale=7.5, num_inference_steps=3, seed=42,
                               model=str(folders["sd"]), device="cpu")
    again = hub.generate_image("a tabby cat", guidance_scale=7.5, num_inference_steps=3, seed=42,
                               model=str(folders["sd"]), device="cpu")
    assert first.size == (16, 16) and np.array_equal(np.asarray(first), np.asarray(again))


def test_model_index_of_saved_dit_keeps_the_class_names(folders):
    index = json.loads((folders["dit"] / "model_index.json").read_text())
    assert index["id2label"]["1"] == "golden retriever"


def test_demo_serves_hub_generators_beside_built_in_ones(folders):
    from gradio_client import Client

    from demo.app import build

    app = build(["ddpm", f"hub:{folders['dit']}", f"hub:{folders['sd']}"])
    app.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=None, quiet=True)
    try:
        client = Client(app.local_url, verbose=False)
        # "ddpm" is no hub sampler: hub pipelines fall back to their own scheduler rather than failing
        seed, plan, ddpm, dit, sd, _ = client.predict("a red circle", 3, False, 2, 3.0, "ddpm", True,
                                                      api_name="/compare")
        assert seed == 3 and ddpm["value"] is not None and sd["value"] is not None
        # no ImageNet class in the prompt: DiT says so in its label, the others still answer
        assert dit["value"] is None and "no ImageNet class name" in dit["label"]
        # outside the Shapes world: the built-in ddpm says so, hub pipelines get the text as typed
        seed, plan, ddpm, dit, sd, _ = client.predict("a tabby cat", 3, False, 2, 3.0, "ddim", True, api_name="/compare")
        assert "Outside" in plan and ddpm["value"] is None
        assert dit["value"] is not None and sd["value"] is not None
    finally:
        app.close()
