"""The training loop (resume, manifest) and checkpoint integrity, on tiny components."""
import dataclasses
import json
import pathlib
import shutil

import pytest
import torch
from safetensors.torch import load_file

from models.diffusion import pixel as ddpm
from models.checkpoints import CheckpointError, checkpoint_files, read_manifest, sha256
from models.text.encoder import TextEncoder
from models.training import TrainConfig, train, warm_start


@pytest.fixture()
def text_encoder_folder(tmp_path, tiny_text_encoder):
    folder = tmp_path / "text-encoder"
    tiny_text_encoder.save_pretrained(folder)
    return folder


def tiny_ddpm_component(text_encoder_folder):
    component = ddpm.training_component("tiny", text_encoder_path=text_encoder_folder, name="tiny-ddpm")
    component.evaluate = component.sample_grid = component.watch = None  # accuracy and previews are for real models
    return component


def config(steps):
    return TrainConfig(steps=steps, batch_size=4, lr=1e-3, warmup_steps=2, caption_dropout=0.1,
                       checkpoint_every=1, sample_every=10**9)


def test_text_encoder_round_trips_through_save_and_load(tmp_path, tiny_text_encoder):
    tiny_text_encoder.save_pretrained(tmp_path / "te")
    loaded = TextEncoder.from_pretrained(tmp_path / "te")
    for a, b in zip(tiny_text_encoder(["a red circle", ""]), loaded(["a red circle", ""])):
        assert torch.equal(a, b)
    states, pooled = loaded(["a red circle", ""])
    assert states.shape == (2, 24, 16) and pooled.shape == (2, 16)
    assert not torch.equal(pooled[0], pooled[1])  # the empty caption is its own (unconditional) input


def test_training_resumes_where_it_stopped_and_matches_an_uninterrupted_run(tmp_path, text_encoder_folder):
    straight = tmp_path / "straight"
    train(tiny_ddpm_component(text_encoder_folder), config(3), straight, command="test")
    resumed = tmp_path / "resumed"
    train(tiny_ddpm_component(text_encoder_folder), config(2), resumed, command="test")
    assert json.loads((resumed / "train_state" / "state.json").read_text())["step"] == 2
    manifest = train(tiny_ddpm_component(text_encoder_folder), config(3), resumed, command="test")
    assert manifest["training"]["steps"] == 3
    a = (straight / "unet" / "diffusion_pytorch_model.safetensors").read_bytes()
    b = (resumed / "unet" / "diffusion_pytorch_model.safetensors").read_bytes()
    assert a == b  # data stream, noise, optimiser and EMA all continue exactly
    assert "step 3" in (resumed / "train_state" / "train.log").read_text()


def test_manifest_pins_every_weight_file_and_detects_corruption(tmp_path, text_encoder_folder):
    out = tmp_path / "model"
    manifest = train(tiny_ddpm_component(text_encoder_folder), config(1), out, command="python -m models train x")
    weights = out / "unet" / "diffusion_pytorch_model.safetensors"
    assert manifest["sha256"]["unet/diffusion_pytorch_model.safetensors"] == sha256(weights)
    # every weight and config file, nothing else
    assert manifest["sha256"] == {path.relative_to(out).as_posix(): sha256(path) for path in checkpoint_files(out)}
    assert "unet/config.json" in manifest["sha256"]
    assert manifest["training"]["command"] == "python -m models train x"
    assert manifest["components"]["text_encoder"]["sha256"] == sha256(text_encoder_folder / "model.safetensors")
    assert {"steps", "wall_time_s", "data"} <= set(manifest["training"]) and "metrics" in manifest
    generator = ddpm.load(out)  # a trained folder loads behind the contract
    assert generator.generate(["a red circle"], seed=0, steps=2)[0].size == (32, 32)
    raw = bytearray(weights.read_bytes())
    raw[-1] ^= 0xFF
    weights.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="sha256"):
        read_manifest(out)
    with pytest.raises(CheckpointError, match="sha256"):
        ddpm.load(out)


def test_a_run_can_start_from_an_exported_checkpoint_and_records_the_history(tmp_path, text_encoder_folder):
    first = tmp_path / "first"
    train(tiny_ddpm_component(text_encoder_folder), config(2), first, command="first run")
    frozen = dataclasses.replace(config(1), lr=0.0)  # with no update, the export is exactly the start
    manifest = train(tiny_ddpm_component(text_encoder_folder), frozen, tmp_path / "second", command="second run",
                     init_from=first)
    weights = "unet/diffusion_pytorch_model.safetensors"
    start, end = load_file(first / weights), load_file(tmp_path / "second" / weights)
    assert all(torch.equal(start[k], end[k]) for k in start)
    assert manifest["warm_start"]["prior_steps"] == 2
    assert manifest["warm_start"]["prior_commands"] == ["first run"]
    assert manifest["warm_start"]["sha256"] == sha256(first / "unet" / "diffusion_pytorch_model.safetensors")
    with pytest.raises(CheckpointError, match="not 'ddpm'"):
        shutil.copytree(first, tmp_path / "other", ignore=shutil.ignore_patterns("train_state"))
        other = json.loads((tmp_path / "other" / "generator.json").read_text())
        (tmp_path / "other" / "generator.json").write_text(json.dumps({**other, "family": "gan"}))
        train(tiny_ddpm_component(text_encoder_folder), config(1), tmp_path / "third", init_from=tmp_path / "other")


def test_a_warm_start_may_add_zero_initialised_modules_but_not_lose_weights(tmp_path, text_encoder_folder):
    first = tmp_path / "first"
    train(tiny_ddpm_component(text_encoder_folder), config(1), first, command="first run")
    wider = ddpm.training_component("tiny", text_encoder_path=text_encoder_folder, name="tiny-ddpm")
    wider.network = ddpm.build_unet(dataclasses.replace(ddpm.UNET_CONFIGS["tiny"], pooled_conditioning=True),
                                    cross_attention_dim=16, pooled_dim=16)
    record = warm_start(wider, first)
    assert record["new_parameters"] == [f"class_embedding.linear_{i}.{p}" for i in (1, 2) for p in ("bias", "weight")]
    old = ddpm.load(first)
    x, t = torch.randn(2, 3, 32, 32), torch.tensor([900, 10])
    states, pooled = old.text_encoder(["a red circle on the left", "a blue square"])
    # the new path starts at zero: the warm-started network computes exactly what the checkpoint did (in the
    # memory format the loader gives it, which picks the convolution kernels)
    from models.acceleration import for_device
    network = for_device(wider.network.eval(), "cpu", channels_last_on_cpu=True)
    assert torch.equal(ddpm.unet_denoiser(network)(x, t, states, pooled), old.denoise(x, t, states, pooled))
    # a checkpoint with weights the network lacks is refused
    wider.export(wider.network, tmp_path / "wide")
    wide = tmp_path / "wide"
    hashes = {path.relative_to(wide).as_posix(): sha256(path) for path in checkpoint_files(wide)}
    (wide / "generator.json").write_text(json.dumps({"family": "ddpm", "sha256": hashes}))
    with pytest.raises(CheckpointError, match="does not have"):
        warm_start(tiny_ddpm_component(text_encoder_folder), tmp_path / "wide")


def test_resuming_with_another_architecture_is_a_clear_error(tmp_path, text_encoder_folder):
    out = tmp_path / "run"
    train(tiny_ddpm_component(text_encoder_folder), config(1), out, command="first")
    other = tiny_ddpm_component(text_encoder_folder)
    other.network = ddpm.build_unet(dataclasses.replace(ddpm.UNET_CONFIGS["tiny"], pooled_conditioning=True),
                                    cross_attention_dim=16, pooled_dim=16)
    with pytest.raises(CheckpointError, match="cannot resume .* another network"):
        train(other, config(2), out, command="second")


def test_the_loop_runs_a_components_own_phase_before_its_loss_every_step(tmp_path, text_encoder_folder):
    component, calls = tiny_ddpm_component(text_encoder_folder), []
    loss = component.loss

    def recorded_loss(images, captions, step):
        calls.append(("loss", step, list(captions)))
        return loss(images, captions, step)

    component.loss = recorded_loss
    component.discriminator_step = lambda images, captions, step: calls.append(("d", step, list(captions)))
    train(component, config(2), tmp_path / "run", command="test")
    assert [(kind, step) for kind, step, _ in calls] == [("d", 0), ("loss", 0), ("d", 1), ("loss", 1)]
    assert calls[0][2] == calls[1][2] and calls[2][2] == calls[3][2]  # the same (caption-dropped) batch


def test_save_time_metrics_include_captions_that_give_every_word(tiny_generator, monkeypatch):
    from models.diffusion import generator as diffusion_generator
    from world import parse_caption

    asked = []
    real_generate = tiny_generator.generate

    def recording(prompts, *args, **kwargs):
        asked.extend(prompts)
        return real_generate(prompts, *args, **kwargs)

    monkeypatch.setattr(tiny_generator, "generate", recording)
    metrics = diffusion_generator.save_time_metrics(tiny_generator, prompts=12, steps=2)
    assert set(metrics) == {"single_accuracy_g1_ddim2_12prompts", "single_all_asked_g1_ddim2_12prompts",
                            "single_accuracy_g3_ddim2_12prompts", "single_all_asked_g3_ddim2_12prompts",
                            "single_every_word_all_asked_g3_ddim2_12prompts"}
    assert all(0 <= value <= 1 for value in metrics.values())
    every_word = asked[-12:]  # the last 12 images: size, color, shape and position all given
    assert all(parse_caption(c)["size"] and parse_caption(c)["cell"] for c in every_word)
    assert not all(parse_caption(c)["size"] and parse_caption(c)["cell"] for c in asked[:12])  # the mixed set drops some


def test_install_checkpoint_pins_the_shipped_component_not_the_checkout_the_run_came_from(tmp_path, monkeypatch,
                                                                                        tiny_text_encoder):
    import importlib.util

    from models.checkpoints import pin
    from models.text.encoder import WEIGHTS

    script = pathlib.Path(__file__).resolve().parents[1] / "scripts" / "install_checkpoint.py"
    spec = importlib.util.spec_from_file_location("install_checkpoint", script)
    installer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(installer)
    root = tmp_path / "shipped"
    monkeypatch.setattr(installer, "CHECKPOINT_ROOT", root)
    tiny_text_encoder.save_pretrained(root / "text-encoder")
    tiny_text_encoder.save_pretrained(tmp_path / "other-checkout" / "text-encoder")  # the same weights elsewhere
    run = tmp_path / "runs" / "tiny"
    run.mkdir(parents=True)
    (run / "net").mkdir()
    (run / "net" / "config.json").write_text("{}")
    manifest = {"name": "tiny", "training": {}, "sha256": {"net/config.json": sha256(run / "net" / "config.json")},
                "components": {"text_encoder": pin(run, tmp_path / "other-checkout" / "text-encoder", WEIGHTS)}}
    (run / "generator.json").write_text(json.dumps(manifest))
    installed = installer.install(run, "tiny")
    assert json.loads((installed / "generator.json").read_text())["components"]["text_encoder"]["path"] == "../text-encoder"
    torch.manual_seed(1)
    other = TextEncoder(tiny_text_encoder.config)
    other.save_pretrained(root / "text-encoder")  # the shipped encoder is now another one
    with pytest.raises(CheckpointError, match="other than the shipped"):
        installer.install(run, "tiny")
