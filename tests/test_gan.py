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
from world import to_image


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
    component = training_component(arch, loss, name=f"tiny-{arch}", text_encoder_path=folder, config=config)
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


def test_mode_seeking_penalty_is_the_inverse_distance_ratio_and_pushes_two_samples_apart():
    from models.gan.losses import mode_seeking_penalty
    z, other_z = torch.zeros(2, 4), torch.ones(2, 4)  # mean |z1 - z2| = 1
    images = torch.zeros(2, 3, 2, 2, requires_grad=True)
    other = torch.full((2, 3, 2, 2), 0.5)  # mean |G1 - G2| = 0.5
    penalty = mode_seeking_penalty(images, other, z, other_z)
    assert penalty.item() == pytest.approx(1 / (0.5 + 1e-5))
    penalty.backward()
    assert (images.grad > 0).all()  # a descent step lowers every pixel of G(z1): away from G(z2) = 0.5
    far = mode_seeking_penalty(images.detach() - 1, other, z, other_z)
    assert far < penalty  # samples further apart cost less


def test_mode_seeking_weight_enters_the_g_loss_only_when_set(text_encoder_folder):
    images, captions = batch()
    plain = tiny_component(text_encoder_folder, "dcgan", "non-saturating")
    config = dataclasses.replace(gan.preset("dcgan", "non-saturating", mode_seeking=1.0), width=16)
    assert config.mode_seeking_weight == 1.0 and gan.preset("dcgan", "non-saturating").mode_seeking_weight == 0
    torch.manual_seed(0)
    seeking = training_component("dcgan", "non-saturating", name="tiny-ms", text_encoder_path=text_encoder_folder,
                                 config=config)
    seeking.network.load_state_dict(plain.network.state_dict())
    seeking.load_extra_state(plain.extra_state())
    # same G, D and z stream: the difference is the mode-seeking term, which is positive
    assert seeking.loss(images, captions, 0).item() > plain.loss(images, captions, 0).item()
    with pytest.raises(ValueError, match="mode-seeking"):
        gan.preset("dcgan", "non-saturating", mode_seeking=-1)


def test_d_warmup_holds_g_still_and_only_then_lets_it_learn(text_encoder_folder):
    images, captions = batch()
    config = dataclasses.replace(gan.preset("dcgan", "non-saturating", d_warmup=2), width=16)
    component = training_component("dcgan", "non-saturating", name="tiny-warm", text_encoder_path=text_encoder_folder,
                                   config=config)
    for step, moves in ((0, False), (1, False), (2, True)):
        component.network.zero_grad(set_to_none=True)
        component.discriminator_step(images, captions, step)
        component.loss(images, captions, step).backward()
        grads = [p.grad for p in component.network.parameters() if p.grad is not None]
        assert any(g.abs().sum() > 0 for g in grads) == moves, step


def test_mode_seeking_on_layout_ignores_a_change_of_color_and_counts_a_move():
    from models.gan.losses import mode_seeking_penalty
    z, other_z = torch.zeros(1, 4), torch.ones(1, 4)
    canvas = -torch.ones(1, 3, 8, 8)
    red, blue, moved = canvas.clone(), canvas.clone(), canvas.clone()
    red[:, 0, 2:4, 2:4] = 1  # a red square
    blue[:, 2, 2:4, 2:4] = 1  # the same square in blue
    moved[:, 0, 5:7, 5:7] = 1  # the red square elsewhere
    recolored = mode_seeking_penalty(red, blue, z, other_z, on="layout")
    assert recolored.item() == pytest.approx(1 / 1e-5)  # identical layouts: the largest penalty
    assert mode_seeking_penalty(red, moved, z, other_z, on="layout") < recolored
    assert mode_seeking_penalty(red, blue, z, other_z) < recolored  # on pixels a recolor counts as different
    with pytest.raises(ValueError, match="mode-seeking-on"):
        gan.preset("dcgan", "non-saturating", mode_seeking=1, mode_seeking_on="colors")


def test_a_real_pack_is_the_batch_image_and_fresh_renders_of_its_caption(text_encoder_folder):
    from world.accuracy import judge

    config = dataclasses.replace(gan.preset("dcgan", "non-saturating", pack=3), width=16)
    component = training_component("dcgan", "non-saturating", name="tiny-pack", text_encoder_path=text_encoder_folder,
                                   config=config)
    steps = component.discriminator_step.__self__
    captions = ["a red circle", "a large blue square on the left", "a green cross above a red circle", ""]
    images = torch.zeros(4, 3, 32, 32)
    packed = steps._real_pack(images, captions, step=5)  # [B, 3 * pack, 32, 32]
    assert packed.shape == (4, 9, 32, 32) and torch.equal(packed[:, :3], images)
    for caption, pack in zip(captions[:3], packed[:3]):
        for draw in (pack[3:6], pack[6:9]):
            assert judge(caption, to_image(draw))["full"], caption
    assert torch.equal(packed, steps._real_pack(images, captions, step=5))  # a function of the step: resumable
    # what "a red circle" leaves open (size, cell) is drawn anew: over 8 steps its renders do not all agree
    assert len({steps._real_pack(images[:1], captions[:1], step)[0, 3:6].numpy().tobytes() for step in range(8)}) > 1


@pytest.mark.parametrize("arch", ["dcgan", "stylegan2"])
def test_a_packing_discriminator_trains_on_packs_and_g_exports_unchanged(text_encoder_folder, tmp_path, arch):
    config = dataclasses.replace(gan.preset(arch, "non-saturating", pack=2), width=16, r1_every=2, pl_every=2)
    component = training_component(arch, "non-saturating", name=f"tiny-pack-{arch}",
                                   text_encoder_path=text_encoder_folder, config=config)
    component.evaluate = component.sample_grid = component.watch = None
    first_conv = next(m for m in component.discriminator_step.__self__.discriminator.modules()
                      if isinstance(m, torch.nn.Conv2d))
    assert first_conv.in_channels == 6  # two RGB images side by side
    images, captions = batch()
    d_loss = component.discriminator_step(images, captions, 0)
    loss = component.loss(images, captions, 0)
    loss.backward()
    assert np.isfinite(d_loss) and torch.isfinite(loss)
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in component.network.parameters())
    manifest = train(component, TrainConfig(steps=1, batch_size=4, checkpoint_every=1, sample_every=10**9),
                     tmp_path / "out", command="test")
    assert manifest["components"]["generator"]["config"]["pack"] == 2
    assert "packs of 2" in manifest["conditioning"]
    assert len(gan.load(tmp_path / "out").generate(["a red circle", "two blue squares"], seed=0)) == 2


def test_pack_is_checked():
    for bad in (0, gan.MAX_PACK + 1):
        with pytest.raises(ValueError, match="--pack"):
            gan.preset("dcgan", "non-saturating", pack=bad)
    assert gan.preset("dcgan", "non-saturating").pack == 1  # as shipped
