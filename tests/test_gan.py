"""The GAN family: losses and penalties against hand computations, demodulation, the contract, training."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from models.gan import family as gan
from models.gan.losses import CLIP, GP_WEIGHT, discriminator_loss, generator_loss, gradient_penalty
from models.gan.stylegan2 import ModulatedConv2d, StyleGAN2Generator
from models.gan.training import contrastive_loss, training_component
from models.training import TrainConfig, train


class LinearCritic(torch.nn.Module):
    """D(x, c) = <v, x> + <u, c>: its input gradient is v everywhere, so the penalty has a closed form."""

    def __init__(self, pixels: int, cond: int):
        super().__init__()
        self.v = torch.nn.Parameter(torch.randn(pixels) * 0.05)
        self.u = torch.nn.Parameter(torch.randn(cond))

    def forward(self, x, c):
        return x.flatten(1) @ self.v + c @ self.u


def test_gradient_penalty_equals_hand_computation():
    torch.manual_seed(0)
    critic = LinearCritic(3 * 4 * 4, 5)
    real, fake, cond = torch.randn(6, 3, 4, 4), torch.randn(6, 3, 4, 4), torch.randn(6, 5)
    expected = GP_WEIGHT * (critic.v.detach().norm() - 1) ** 2
    assert torch.allclose(gradient_penalty(critic, real, fake, cond), expected, rtol=1e-5)
    # and it pushes ||v|| towards 1
    gradient_penalty(critic, real, fake, cond).backward()
    assert torch.dot(critic.v.grad, critic.v.detach()) * (critic.v.detach().norm() - 1) > 0


def test_non_saturating_loss_is_the_default_and_keeps_gradients_when_d_wins():
    assert gan.GANConfig().loss == "non-saturating" == gan.preset("dcgan", "non-saturating").loss
    confident_fake = torch.tensor([-10.0], requires_grad=True)  # D is sure the image is fake
    generator_loss("non-saturating", confident_fake).backward()
    ns = confident_fake.grad.abs().item()
    confident_fake.grad = None
    generator_loss("minimax", confident_fake).backward()
    minimax = confident_fake.grad.abs().item()
    assert ns > 0.99 and minimax < 1e-4  # the saturation the non-saturating loss avoids
    # both games share D's objective: -log D(x) - log(1 - D(G(z)))
    real, fake = torch.tensor([2.0]), torch.tensor([-1.0])
    expected = -torch.log(torch.sigmoid(real)) - torch.log(1 - torch.sigmoid(fake))
    assert torch.allclose(discriminator_loss("non-saturating", real, fake), expected)


def test_demodulated_convolution_keeps_unit_variance():
    torch.manual_seed(0)
    conv = ModulatedConv2d(64, 64, 3, w_dim=32)
    x = torch.randn(4, 64, 48, 48)
    w = torch.randn(4, 32) * 3  # styles far from 1: demodulation must undo their scale
    with torch.no_grad():
        y = conv(x, w)[:, :, 1:-1, 1:-1]  # away from the zero padding
    assert abs(y.std().item() - 1) < 0.05
    undemodulated = ModulatedConv2d(64, 64, 3, w_dim=32, demodulate=False)
    undemodulated.load_state_dict(conv.state_dict())
    with torch.no_grad():
        assert abs(undemodulated(x, w)[:, :, 1:-1, 1:-1].std().item() - 1) > 0.2


@pytest.fixture()
def text_encoder_folder(tmp_path, tiny_text_encoder):
    tiny_text_encoder.save_pretrained(tmp_path / "text-encoder")
    return tmp_path / "text-encoder"


def tiny_component(folder, arch, loss):
    config = dataclasses.replace(gan.preset(arch, loss), width=16, r1_every=2, pl_every=2)
    component = training_component(config, name=f"tiny-{arch}", text_encoder_path=folder)
    component.evaluate = component.sample_grid = component.watch = None  # for real models
    return component


def batch(n=4):
    from world import ShapesDataset, collate
    dataset = ShapesDataset(seed=0)
    images, captions, _ = collate([dataset[i] for i in range(n)])
    return images, captions


def test_weight_clipping_keeps_every_critic_weight_in_range(text_encoder_folder):
    component = tiny_component(text_encoder_folder, "dcgan", "wgan")
    images, captions = batch()
    for step in range(2):
        component.discriminator_step(images, captions, step)  # the D phase clips after each critic update
        component.loss(images, captions, step).backward()
    weights = component.extra_state()["discriminator"]
    assert all(t.abs().max() <= CLIP + 1e-7 for k, t in weights.items() if t.is_floating_point() and "running" not in k)
    assert any(t.abs().max() == pytest.approx(CLIP) for t in weights.values() if t.is_floating_point())


def test_the_d_phase_steps_the_discriminator_and_the_g_phase_leaves_it_alone(text_encoder_folder):
    component = tiny_component(text_encoder_folder, "dcgan", "non-saturating")
    images, captions = batch()
    before = {k: v.clone() for k, v in component.extra_state()["discriminator"].items()}
    component.loss(images, captions, 0).backward()  # G phase alone: D neither updated nor given gradients
    after_g = component.extra_state()
    weights = {k: v for k, v in after_g["discriminator"].items() if "running" not in k and "num_batches" not in k}
    assert all(torch.equal(before[k], v) for k, v in weights.items())  # (batch-norm statistics do move)
    assert not after_g["d_optimizer"]["state"]
    d_loss = component.discriminator_step(images, captions, 1)
    assert isinstance(d_loss, float) and component.extra_state()["d_optimizer"]["state"]
    assert any(not torch.equal(before[k], v) for k, v in component.extra_state()["discriminator"].items())


def test_the_g_phase_continues_the_d_phases_random_stream(text_encoder_folder):
    """z, noise and mixing of one step come from one stream: G's fakes follow D's draws, as in one callback."""
    images, captions = batch()
    torch.manual_seed(0)
    paired = tiny_component(text_encoder_folder, "stylegan2", "non-saturating")
    paired.discriminator_step(images, captions, 3)
    alone = tiny_component(text_encoder_folder, "stylegan2", "non-saturating")
    alone.load_extra_state(paired.extra_state())  # the same D, but no D phase ran for this step
    assert not torch.equal(paired.loss(images, captions, 3), alone.loss(images, captions, 3))


@pytest.mark.parametrize("arch, loss", [("stylegan2", "non-saturating"), ("dcgan", "wgan-gp"), ("dcgan", "minimax")])
def test_gan_trains_exports_and_generates_through_the_contract(tmp_path, text_encoder_folder, arch, loss):
    component = tiny_component(text_encoder_folder, arch, loss)
    config = TrainConfig(steps=3, batch_size=4, lr=1e-3, warmup_steps=1, betas=(0.0, 0.99), grad_clip=1e9,
                         ema_decay=0.9 if arch == "stylegan2" else None, checkpoint_every=1, sample_every=10**9)
    manifest = train(component, config, tmp_path / "gan", command="test")
    assert (tmp_path / "gan" / "train_state" / "extra.pt").is_file()  # D and its optimiser resume too
    assert manifest["components"]["generator"]["config"]["loss"] == loss
    generator = gan.load(tmp_path / "gan")
    assert generator.info.family == "gan" and not generator.info.guidance_applies
    assert "truncation" in generator.info.description
    prompts = ["a red circle", "a blue square", "two green crosses"]
    images = generator.generate(prompts, seed=5)
    assert [im.size for im in images] == [(32, 32)] * 3
    again = generator.generate(prompts[:1], seed=5)
    assert np.array_equal(np.asarray(images[0]), np.asarray(again[0]))  # batch-independent
    other = generator.generate(prompts[:1], seed=6)
    assert not np.array_equal(np.asarray(images[0]), np.asarray(other[0]))
    # psi = 0 pulls every sample to the prompt's mean: the seed no longer matters
    if arch == "stylegan2":  # per-layer noise (its strength is learned) still follows the seed: silence it
        with torch.no_grad():
            for layer in generator.network.layers:
                layer.noise_strength.zero_()
    a, b = (generator.generate(prompts[:1], seed=s, truncation=0.0)[0] for s in (5, 6))
    assert np.array_equal(np.asarray(a), np.asarray(b))
    full = generator.generate(prompts[:1], seed=5, truncation=1.0)[0]
    assert not np.array_equal(np.asarray(a), np.asarray(full))  # and psi changes the image


def test_style_mixing_uses_the_second_w_after_the_crossover():
    torch.manual_seed(0)
    g = StyleGAN2Generator(z_dim=8, cond_dim=4, w_dim=16, channels=(16, 16, 8, 8)).eval()
    z, mix, c = torch.randn(2, 8), torch.randn(2, 8), torch.randn(2, 4)
    ws = g.ws(z, c, mix_z=mix, mix_at=3)
    assert torch.equal(ws[:, 0], ws[:, 2]) and torch.equal(ws[:, 3], ws[:, -1])
    assert not torch.equal(ws[:, 0], ws[:, 3])
    assert torch.allclose(ws[:, 3], g.mapping(mix, c))


class FixedEmbeddings:
    """Stands in for the world CLIP: encode_image returns prescribed embeddings, at logit scale 10."""

    def __init__(self, image_embeddings):
        self.image_embeddings = image_embeddings
        self.clip = type("Clip", (), {"logit_scale": torch.tensor(10.0).log()})()

    def encode_image(self, images):
        return self.image_embeddings


def test_contrastive_term_rewards_the_right_caption_and_counts_repeated_captions_as_positives():
    text = torch.eye(3)  # three orthogonal caption embeddings
    right = contrastive_loss(FixedEmbeddings(torch.eye(3)), None, text, ["a", "b", "c"])
    wrong = contrastive_loss(FixedEmbeddings(torch.eye(3)[[1, 2, 0]]), None, text, ["a", "b", "c"])
    logits = 10 * torch.eye(3)
    assert right.item() == pytest.approx(-logits.log_softmax(1).diagonal().mean().item(), rel=1e-6)
    assert wrong.item() > right.item() + 5
    # images 0 and 1 share a caption: each is half right when it matches either copy of it
    text = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    shared = contrastive_loss(FixedEmbeddings(text.clone()), None, text, ["a", "a", "b"])
    log_p = (10 * text @ text.T).log_softmax(1)
    expected = -(0.5 * (log_p[0, 0] + log_p[0, 1]) + 0.5 * (log_p[1, 0] + log_p[1, 1]) + log_p[2, 2]) / 3
    assert shared.item() == pytest.approx(expected.item(), rel=1e-6)


def test_text_losses_are_on_by_default_and_off_leaves_the_adversarial_game_alone():
    on, off = gan.preset("dcgan", "non-saturating"), gan.preset("dcgan", "non-saturating", text_losses=False)
    assert on.mismatch and on.contrastive_weight > 0
    assert not off.mismatch and off.contrastive_weight == 0
    assert dataclasses.replace(off, mismatch=True, contrastive_weight=on.contrastive_weight) == on


def test_d_warmup_holds_g_still_and_only_then_lets_it_learn(text_encoder_folder):
    images, captions = batch()
    config = dataclasses.replace(gan.recipe("dcgan"), d_warmup_steps=2, width=16)
    component = training_component(config, name="tiny-warm", text_encoder_path=text_encoder_folder)
    for step, moves in ((0, False), (1, False), (2, True)):
        component.network.zero_grad(set_to_none=True)
        component.discriminator_step(images, captions, step)
        component.loss(images, captions, step).backward()
        grads = [p.grad for p in component.network.parameters() if p.grad is not None]
        assert any(g.abs().sum() > 0 for g in grads) == moves, step


def test_the_named_recipes_are_the_seed_variants_and_retired_experiments_stay_out():
    assert gan.recipe("dcgan") == gan.preset("dcgan", "non-saturating")  # as shipped
    assert {(c.arch, c.loss) for c in gan.RECIPES.values()} == {(a, l) for a in gan.ARCHS for l in gan.LOSSES}
    assert gan.recipe("dcgan-wgan-gp").n_critic == 5 and gan.recipe("stylegan2").style_mixing == 0.9
    assert not gan.recipe("dcgan-no-text-losses").mismatch
    with pytest.raises(ValueError, match="unknown --preset 'biggan'"):
        gan.recipe("biggan")
    # a shipped config.json still names the removed experiments' fields, off: it loads; one that used them does not
    saved = {**dataclasses.asdict(gan.recipe("dcgan")), "mode_seeking_weight": 0.0, "mode_seeking_on": "pixels",
             "pack": 1}
    assert gan.GANConfig.from_dict(saved) == gan.recipe("dcgan")
    with pytest.raises(gan.CheckpointError, match="pack=2"):
        gan.GANConfig.from_dict({**saved, "pack": 2})
