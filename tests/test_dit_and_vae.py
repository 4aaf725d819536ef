"""DiT building blocks and the VAE's shapes and scaling."""
import json

import pytest
import torch

from models.diffusion.dit import DIT_CONFIGS
from models.diffusion.dit import DiT, DiTBlock, patchify, unpatchify
from models.diffusion.vae import VAE_CONFIGS
from models.diffusion.vae import build_vae, decode, encode, measure_scaling_factor


def test_patchify_then_unpatchify_is_the_identity():
    x = torch.randn(3, 4, 8, 8)
    tokens = patchify(x, 2)
    assert tokens.shape == (3, 16, 16)
    assert torch.equal(unpatchify(tokens, 2, 4), x)
    # a token holds one 2x2 patch: token 1 is rows 0-1, columns 2-3
    assert torch.equal(tokens[0, 1].reshape(2, 2, 4).permute(2, 0, 1), x[0, :, 0:2, 2:4])


def test_a_fresh_dit_block_is_the_identity_map():
    torch.manual_seed(0)
    model = DiT(DIT_CONFIGS["tiny"])
    block: DiTBlock = model.blocks[0]
    x, c, text = torch.randn(2, 16, 32), torch.randn(2, 32), torch.randn(2, 5, 16)
    assert torch.equal(block(x, c, text), x)


def test_an_untrained_dit_predicts_zero_and_training_moves_it():
    torch.manual_seed(0)
    model = DiT(DIT_CONFIGS["tiny"])
    x, t = torch.randn(2, 4, 8, 8), torch.tensor([10, 900])
    text, pooled = torch.randn(2, 5, 16), torch.randn(2, 16)
    out = model(x, t, text, pooled)
    assert out.shape == x.shape and torch.count_nonzero(out) == 0
    loss = (model(x, t, text, pooled) - x).pow(2).mean()
    loss.backward()
    assert model.final_layer.linear.weight.grad.abs().sum() > 0  # zero init is not a dead end


def test_vae_round_trips_the_shape_of_a_batch():
    torch.manual_seed(0)
    vae = build_vae(VAE_CONFIGS["tiny"]).eval()
    images = torch.rand(3, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        latents = encode(vae, images, torch.Generator().manual_seed(0))
        assert latents.shape == (3, 4, 8, 8)
        assert decode(vae, latents).shape == (3, 3, 32, 32)


def test_encode_scale_unscale_decode_uses_the_stored_scaling_factor():
    torch.manual_seed(0)
    vae = build_vae(VAE_CONFIGS["tiny"]).eval()
    images = torch.rand(8, 3, 32, 32) * 2 - 1
    scaling = measure_scaling_factor(vae, images)
    vae.register_to_config(scaling_factor=scaling)
    with torch.no_grad():
        raw = vae.encode(images).latent_dist.sample(torch.Generator().manual_seed(0))
        scaled = encode(vae, images, torch.Generator().manual_seed(0))
        assert torch.allclose(scaled, raw * scaling)
        assert abs(float(scaled.std()) - 1.0) < 1e-4  # unit variance on the images it was measured on
        assert torch.allclose(decode(vae, scaled), vae.decode(raw).sample, atol=1e-5)


@pytest.mark.parametrize("kind", ["unet", "dit"])
def test_latent_generators_train_save_load_and_sample_behind_the_contract(tmp_path, tiny_text_encoder, kind):
    """Both backbones on one tiny VAE and one text encoder: one training step, export, load, generate."""
    import numpy as np

    from models.diffusion import latent
    from models.training import TrainConfig, train
    from models.diffusion.vae import build_vae

    tiny_text_encoder.save_pretrained(tmp_path / "text-encoder")
    torch.manual_seed(0)
    vae = build_vae(VAE_CONFIGS["tiny"])
    vae.save_pretrained(tmp_path / "vae" / "vae")
    from models.checkpoints import checkpoint_files, sha256

    hashes = {path.relative_to(tmp_path / "vae").as_posix(): sha256(path) for path in checkpoint_files(tmp_path / "vae")}
    (tmp_path / "vae" / "generator.json").write_text(json.dumps({"sha256": hashes}))  # every file pinned
    component = latent.training_component(kind, "tiny", name=f"tiny-{kind}", text_encoder_path=tmp_path / "text-encoder",
                                          vae_path=tmp_path / "vae")
    component.evaluate = component.sample_grid = None
    config = TrainConfig(steps=1, batch_size=4, checkpoint_every=1, sample_every=10**9, caption_dropout=0.1)
    manifest = train(component, config, tmp_path / kind, command="test")
    assert manifest["backbone"] == kind and set(manifest["components"]) == {kind, "text_encoder", "vae"}
    generator = latent.load(tmp_path / kind)
    prompts = ["a red circle", "two blue squares", "a green cross"]
    many = generator.generate(prompts, seed=3, steps=2)
    one = generator.generate(prompts[:1], seed=3, steps=2)
    assert [im.size for im in many] == [(32, 32)] * 3
    # the contract across batch sizes (bitwise holds only per size): within 1/255 on at least 99.9 % of pixels
    difference = np.abs(np.asarray(many[0], dtype=np.int16) - np.asarray(one[0], dtype=np.int16))
    assert (difference <= 1).mean() >= 0.999
    assert generator.info.guidance_applies and generator.info.parameters > 0


@pytest.mark.parametrize("kdim", [None, 24])
def test_attention_is_multihead_attention_with_its_weights_and_results(kdim):
    """The DiT's attention keeps nn.MultiheadAttention's parameters, initialisation and outputs (checkpoints load
    as they are), key-padding mask included."""
    from torch import nn

    from models.diffusion.attention import Attention

    torch.manual_seed(0)
    reference = nn.MultiheadAttention(32, 4, kdim=kdim, vdim=kdim, batch_first=True).eval()
    torch.manual_seed(0)
    ours = Attention(32, 4, kdim).eval()
    assert reference.state_dict().keys() == ours.state_dict().keys()
    assert all(torch.equal(a, b) for a, b in zip(reference.state_dict().values(), ours.state_dict().values()))
    x = torch.randn(3, 10, 32)
    keys = x if kdim is None else torch.randn(3, 7, kdim)
    mask = torch.zeros(3, keys.shape[1], dtype=torch.bool)
    mask[:, -2:] = True
    with torch.no_grad():
        expected = reference(x, keys, keys, key_padding_mask=mask, need_weights=False)[0]
        torch.testing.assert_close(ours(x, keys, keys, key_padding_mask=mask)[0], expected, atol=1e-6, rtol=1e-5)
