"""Hostile files handed to the models: Inception weights that carry code or another digest, checkpoints whose
manifests lie or point outside their folder. Each gets one line and nothing runs."""
from __future__ import annotations

import json

import pytest



# ---------------------------------------------------------------- Inception weights
class _FnRunsCode:
    """Pickles to exec(...): loading it with weights_only=False writes the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').write('ran')",)


def _fn_code_pickle(tmp_path):
    import torch

    path, marker = tmp_path / "evil.pth", tmp_path / "code-ran"
    torch.save({"weights": _FnRunsCode(marker)}, path)
    return path, marker


def test_files_inception_weights_carrying_code_are_refused_without_running_it(tmp_path, monkeypatch):
    from evaluation.metrics import features

    path, marker = _fn_code_pickle(tmp_path)
    for call in (lambda: features.check_available("inception", str(path)),
                 lambda: features.extractor("inception", str(path))):
        with pytest.raises(features.FeatureError) as error:
            call()
        message = str(error.value)
        assert "is not the Inception-v3 FID weights" in message and "expected 95628359" in message
        assert "\n" not in message and features.INCEPTION_URL in message
    monkeypatch.setenv(features.INCEPTION_ENV, str(path))  # the same file through the environment
    with pytest.raises(features.FeatureError, match="is not the Inception-v3 FID weights"):
        features.extractor("inception")
    assert not marker.exists()
    monkeypatch.delenv(features.INCEPTION_ENV)
    world = features.extractor("world")  # the other extractor still works afterwards
    assert world(features.torch.zeros(2, 3, 32, 32, dtype=features.torch.uint8)).shape == (2, 96)


def test_files_inception_weights_of_the_right_size_but_another_digest_are_refused(tmp_path):
    from evaluation.metrics import features

    path = tmp_path / features.INCEPTION_FILE  # the right name and size, other bytes
    with open(path, "wb") as handle:
        handle.truncate(features.INCEPTION_BYTES)
    with pytest.raises(features.FeatureError) as error:
        features.check_available("inception", str(path))
    assert "sha256 " in str(error.value) and f"expected {features.INCEPTION_SHA256[:12]}" in str(error.value)
    with pytest.raises(features.FeatureError, match="sha256"):
        features.inception_features(path)
    with pytest.raises(features.FeatureError, match="not found"):  # and a missing file still says so
        features.check_available("inception", str(tmp_path / "absent.pth"))


def test_files_inception_file_matching_the_pin_must_still_be_plain_tensors(tmp_path, monkeypatch):
    from evaluation.metrics import features
    from models.checkpoints import sha256

    path, marker = _fn_code_pickle(tmp_path)  # a pin pointing at it (a wrong pin) still runs no code
    monkeypatch.setattr(features, "INCEPTION_SHA256", sha256(path))
    monkeypatch.setattr(features, "INCEPTION_BYTES", path.stat().st_size)
    features.check_available("inception", str(path))  # the cheap check is the digest alone
    with pytest.raises(features.FeatureError, match="not a plain state dict"):
        features.inception_features(path)
    assert not marker.exists()


def test_files_inception_weights_matching_the_pin_load_and_give_features(tmp_path, monkeypatch):
    import io

    import torch
    import torch_fidelity.feature_extractor_inceptionv3 as fidelity
    from evaluation.metrics import features
    from models.checkpoints import sha256
    from torchmetrics.image.fid import NoTrainInceptionV3

    # random weights of the right architecture stand in for the published file (no download here)
    monkeypatch.setattr(fidelity.torch, "load", lambda *args, **kwargs: {})
    monkeypatch.setattr(fidelity.FeatureExtractorInceptionV3, "load_state_dict", lambda self, state: None)
    skeleton = NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048"],
                                  feature_extractor_weights_path="x")
    monkeypatch.undo()
    buffer = io.BytesIO()
    torch.save(skeleton.state_dict(), buffer)
    path = tmp_path / "inception.pth"
    path.write_bytes(buffer.getvalue())
    monkeypatch.setattr(features, "INCEPTION_SHA256", sha256(path))
    monkeypatch.setattr(features, "INCEPTION_BYTES", path.stat().st_size)
    features.check_available("inception", str(path))
    network = features.extractor("inception", str(path))
    assert network(torch.zeros(2, 3, 32, 32, dtype=torch.uint8)).shape == (2, 2048)



# ---------------------------------------------------------------- checkpoints
def _fn_checkpoint(folder):
    """A tiny text encoder saved the way training saves it, with its manifest."""
    import torch
    from models.checkpoints import write_manifest
    from models.text.encoder import TextEncoder, TextEncoderConfig

    torch.manual_seed(0)
    config = TextEncoderConfig(embed_dim=16, context_length=24, text_width=16, text_heads=2, text_layers=1,
                               vision_width=16, vision_layers=1, vision_head_width=8)
    TextEncoder(config).save_pretrained(folder)
    write_manifest(folder, name="tiny", family="text-encoder", components={}, command="test", steps=0,
                   wall_time_s=0.0, data="none", metrics={})
    return folder


def _fn_edit_manifest(folder, change):
    path = folder / "generator.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def test_files_checkpoint_manifest_hashes_weights_and_configs(tmp_path):
    from models.checkpoints import CheckpointError, read_manifest
    from models.text.encoder import TextEncoder

    folder = _fn_checkpoint(tmp_path / "tiny")
    assert sorted(read_manifest(folder)["sha256"]) == ["config.json", "model.safetensors"]
    good = (folder / "config.json").read_text()
    (folder / "config.json").write_text(good.replace("16", "17", 1))  # a swapped config
    with pytest.raises(CheckpointError, match="config.json does not match the sha256"):
        TextEncoder.from_pretrained(folder)
    (folder / "config.json").write_text(good)
    assert TextEncoder.from_pretrained(folder).clip is not None


def test_files_checkpoint_empty_hash_map_with_truncated_weights_is_refused(tmp_path):
    from models.checkpoints import CheckpointError, read_manifest
    from models.text.encoder import TextEncoder

    folder = _fn_checkpoint(tmp_path / "tiny")
    saved = (folder / "generator.json").read_text()
    weights = folder / "model.safetensors"
    whole = weights.read_bytes()
    weights.write_bytes(whole[:len(whole) // 2])
    for empty in ({}, None, [], "x"):
        _fn_edit_manifest(folder, lambda m: m.update(sha256=empty))
        with pytest.raises(CheckpointError) as error:
            TextEncoder.from_pretrained(folder)
        assert "lists no sha256 of its files" in str(error.value) and "\n" not in str(error.value)
    (folder / "generator.json").write_text(saved)
    with pytest.raises(CheckpointError, match="model.safetensors does not match the sha256"):
        read_manifest(folder)
    weights.write_bytes(whole)  # restored: loads again
    assert TextEncoder.from_pretrained(folder).clip is not None


def test_files_checkpoint_incomplete_hash_map_is_refused(tmp_path):
    import shutil

    from models.checkpoints import CheckpointError, read_manifest

    folder = _fn_checkpoint(tmp_path / "tiny")
    saved = (folder / "generator.json").read_text()
    _fn_edit_manifest(folder, lambda m: m["sha256"].pop("model.safetensors"))
    with pytest.raises(CheckpointError, match=r"model.safetensors is not listed in the sha256 of"):
        read_manifest(folder)
    (folder / "generator.json").write_text(saved)
    shutil.copy(folder / "model.safetensors", folder / "extra.safetensors")  # a weight file the manifest never saw
    with pytest.raises(CheckpointError, match="extra.safetensors is not listed"):
        read_manifest(folder)
    (folder / "extra.safetensors").unlink()
    assert read_manifest(folder)["name"] == "tiny"


@pytest.mark.parametrize("key", ["/etc/hostname", "/etc/no-such-file-here", "../x", "a/../../x", "",
                                     "link/hostname"])
def test_files_checkpoint_hash_key_outside_the_folder_is_refused_unread(tmp_path, monkeypatch, key):
    from models import checkpoints

    folder = _fn_checkpoint(tmp_path / "tiny")
    (folder / "link").symlink_to("/etc")  # inside by name, outside once resolved
    saved = (folder / "generator.json").read_text()
    hashed = []
    real_sha256 = checkpoints.sha256
    monkeypatch.setattr(checkpoints, "sha256", lambda path: hashed.append(path) or real_sha256(path))
    _fn_edit_manifest(folder, lambda m: m["sha256"].update({key: "0" * 64}))
    with pytest.raises(checkpoints.CheckpointError) as error:
        checkpoints.read_manifest(folder)
    message = str(error.value)
    assert f"lists {key!r}, outside the checkpoint folder" in message and "\n" not in message
    assert "missing" not in message and "exist" not in message and hashed == []  # nothing outside looked at
    (folder / "generator.json").write_text(saved)
    assert checkpoints.read_manifest(folder)["name"] == "tiny"


@pytest.mark.parametrize("content, phrase", [
    ("[]", "holds a list, not a JSON object"), ('"x"', "holds a string, not a JSON object"),
    ("null", "holds null, not a JSON object"), ("7", "holds a number"), ("{", "is not valid JSON"),
    ("[" * 100_000, "is not valid JSON"), (b"\xff\xfe{}", "not UTF-8 text"),
])
def test_files_checkpoint_malformed_manifest_is_a_one_line_checkpoint_error(tmp_path, monkeypatch, content, phrase):
    from models import registry
    from models.checkpoints import CheckpointError, read_manifest

    folder = _fn_checkpoint(tmp_path / "ddpm")
    saved = (folder / "generator.json").read_bytes()
    (folder / "generator.json").write_bytes(content if isinstance(content, bytes) else content.encode())
    monkeypatch.setattr(registry, "CHECKPOINT_ROOT", tmp_path)
    for call in (lambda: read_manifest(folder), lambda: read_manifest(folder, verify=False),
                 lambda: registry.checkpoint_fingerprint("ddpm")):
        with pytest.raises(CheckpointError) as error:
            call()
        assert phrase in str(error.value) and "\n" not in str(error.value)
    (folder / "generator.json").write_bytes(saved)
    assert len(registry.checkpoint_fingerprint("ddpm")) == 16


def test_files_checkpoint_digest_that_is_not_hex_or_a_malformed_pin_is_refused(tmp_path):
    from models.checkpoints import CheckpointError, read_manifest, resolve_pin

    folder = _fn_checkpoint(tmp_path / "tiny")
    _fn_edit_manifest(folder, lambda m: m["sha256"].update({"model.safetensors": ["not", "a", "digest"]}))
    with pytest.raises(CheckpointError, match="records no valid sha256 for 'model.safetensors'"):
        read_manifest(folder)
    for pinned in ([], {"path": 3, "sha256": "x"}, {"sha256": "0" * 64}):
        with pytest.raises(CheckpointError, match="malformed pin"):
            resolve_pin(folder, pinned, "model.safetensors")


def test_files_shipped_checkpoints_still_verify_and_load():
    from models.checkpoints import CHECKPOINT_ROOT, read_manifest, weight_files
    from models.text.encoder import TextEncoder

    for folder in sorted(p for p in CHECKPOINT_ROOT.iterdir() if (p / "generator.json").is_file()):
        manifest = read_manifest(folder)
        assert {f.relative_to(folder).as_posix() for f in weight_files(folder)} <= set(manifest["sha256"])
    encoder = TextEncoder.from_pretrained(CHECKPOINT_ROOT / "text-encoder")
    states, pooled = encoder(["a red circle"])
    assert states.shape[0] == 1 and pooled.shape[0] == 1
