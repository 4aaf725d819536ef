"""Pixel-space DDPM: a diffusers UNet2DConditionModel on 32x32 images, cross-attending to text tokens."""
from __future__ import annotations

import dataclasses
import pathlib

import torch
from diffusers import UNet2DConditionModel

from models.checkpoints import CHECKPOINT_ROOT, CheckpointError, pin, read_manifest, resolve_pin
from models.diffusion import NoiseSchedule, diffusion_loss
from models.diffusion_generator import DiffusionGenerator, diffusion_info
from models.text_encoder import DEFAULT_PATH as TEXT_ENCODER_PATH
from models.text_encoder import WEIGHTS as TEXT_ENCODER_WEIGHTS
from models.text_encoder import TextEncoder


@dataclasses.dataclass
class UNetConfig:
    block_out_channels: tuple[int, ...] = (32, 64, 128)  # channels at 32x32, 16x16, 8x8
    attention: tuple[bool, ...] = (False, False, True)  # self + cross-attention at that resolution (and mid)
    layers_per_block: int = 1
    attention_heads: int = 4
    norm_groups: int = 16
    min_snr_gamma: float | None = 5.0  # Min-SNR-gamma loss weighting; None is plain L_simple
    schedule: str = "cosine"
    # two extra input channels holding each pixel's (x, y) in [-1, 1]: convolutions alone learn
    # absolute position slowly (position accuracy was at chance after 3,000 steps without them)
    coordinate_channels: bool = True
    # the pooled text vector added to the timestep embedding (diffusers' class_embed_type="projection"),
    # so every ResNet block sees the whole caption; cross-attention alone left position near chance
    pooled_conditioning: bool = False
    # v-prediction on a zero-terminal-SNR schedule, sampled with trailing timesteps (Lin et al. 2024): with
    # epsilon-prediction the objects' positions came from the starting noise, not from the caption
    v_prediction: bool = False


PRESETS = {
    "tiny": UNetConfig(block_out_channels=(16, 32), attention=(False, True), norm_groups=8),  # tests
    "small": UNetConfig(),  # the first shipped `ddpm`: epsilon, Min-SNR-5, cross-attention only
    "small-pooled": UNetConfig(pooled_conditioning=True),  # + the pooled text vector in the timestep embedding
    "small-v": UNetConfig(pooled_conditioning=True, v_prediction=True, min_snr_gamma=None),  # + v, zero terminal SNR
}


def build_unet(config: UNetConfig, cross_attention_dim: int, channels: int = 3, sample_size: int = 32,
               pooled_dim: int | None = None) -> UNet2DConditionModel:
    downs = tuple("CrossAttnDownBlock2D" if a else "DownBlock2D" for a in config.attention)
    ups = tuple("CrossAttnUpBlock2D" if a else "UpBlock2D" for a in reversed(config.attention))
    pooled = {}
    if config.pooled_conditioning:
        if pooled_dim is None:
            raise ValueError("pooled_conditioning needs the pooled vector's width")
        pooled = dict(class_embed_type="projection", projection_class_embeddings_input_dim=pooled_dim)
    unet = UNet2DConditionModel(
        sample_size=sample_size, in_channels=channels + 2 * config.coordinate_channels, out_channels=channels,
        layers_per_block=config.layers_per_block, block_out_channels=config.block_out_channels,
        down_block_types=downs, up_block_types=ups, mid_block_type="UNetMidBlock2DCrossAttn",
        cross_attention_dim=cross_attention_dim, attention_head_dim=config.attention_heads,
        norm_num_groups=config.norm_groups, **pooled)
    if config.pooled_conditioning:  # zero output: a fresh (or warm-started) network ignores it until trained
        torch.nn.init.zeros_(unet.class_embedding.linear_2.weight)
        torch.nn.init.zeros_(unet.class_embedding.linear_2.bias)
    return unet


def schedule_of(config: UNetConfig) -> NoiseSchedule:
    if config.v_prediction:
        return NoiseSchedule(config.schedule, spacing="trailing", prediction="v_prediction", zero_terminal_snr=True)
    return NoiseSchedule(config.schedule)


def objective(schedule: NoiseSchedule, min_snr_gamma: float | None) -> str:
    target = "epsilon" if schedule.prediction == "epsilon" else "v (zero terminal SNR)"
    return f"{target}, " + (f"Min-SNR-{min_snr_gamma:g} weighting" if min_snr_gamma else "unweighted MSE")


def coordinate_maps(batch: int, height: int, width: int, device: torch.device) -> torch.Tensor:
    """[B, 2, H, W]: x then y of each pixel centre, from -1 (left/top) to 1 (right/bottom)."""
    ys = torch.linspace(-1, 1, height, device=device).view(1, 1, height, 1).expand(batch, 1, height, width)
    xs = torch.linspace(-1, 1, width, device=device).view(1, 1, 1, width).expand(batch, 1, height, width)
    return torch.cat([xs, ys], dim=1)


def unet_denoiser(unet: UNet2DConditionModel):
    """Adapt the U-Net to the shared Denoiser signature (the pooled vector is used when the U-Net takes it)."""
    extra = unet.config.in_channels - unet.config.out_channels  # 2 when it takes coordinate channels
    takes_pooled = unet.config.class_embed_type == "projection"

    def denoise(x: torch.Tensor, t: torch.Tensor, states: torch.Tensor, pooled: torch.Tensor) -> torch.Tensor:
        if extra:
            x = torch.cat([x, coordinate_maps(x.shape[0], x.shape[2], x.shape[3], x.device)], dim=1)  # [B,C+2,H,W]
        return unet(x, t, encoder_hidden_states=states, class_labels=pooled if takes_pooled else None).sample

    return denoise


def parameter_count(*modules) -> int:
    return sum(p.numel() for m in modules for p in m.parameters())


# ---------------------------------------------------------------- loading
def load(folder: pathlib.Path = CHECKPOINT_ROOT / "ddpm", text_encoder: TextEncoder | None = None,
         device: str = "cpu") -> DiffusionGenerator:
    folder = pathlib.Path(folder)
    manifest = read_manifest(folder)
    encoder_folder = resolve_pin(folder, manifest["components"]["text_encoder"], TEXT_ENCODER_WEIGHTS)
    text_encoder = text_encoder or TextEncoder.from_pretrained(encoder_folder)
    try:
        unet = UNet2DConditionModel.from_pretrained(folder / "unet").eval().requires_grad_(False)
    except Exception as error:
        raise CheckpointError(f"cannot load {folder / 'unet'}: {str(error).splitlines()[0]}") from None
    schedule = NoiseSchedule(**manifest["schedule"])
    info = diffusion_info(manifest["name"], "ddpm", parameter_count(unet) + text_encoder.parameter_count(),
                          description="pixel-space DDPM: U-Net with cross-attention to text tokens"
                                      + (" and the pooled text vector" if unet.config.class_embed_type else "")
                                      + f", {schedule.name} schedule"
                                      + (", v-prediction with zero terminal SNR" if schedule.zero_terminal_snr else "")
                                      + ", classifier-free guidance")
    return DiffusionGenerator(info, unet_denoiser(unet.to(device)), text_encoder.to(device), schedule,
                              sample_shape=(3, 32, 32), device=device)


# ---------------------------------------------------------------- training
def training_component(preset: str = "small", text_encoder_path: pathlib.Path = TEXT_ENCODER_PATH,
                       name: str = "ddpm", init_seed: int = 0):
    from models.training import Component

    config = PRESETS[preset]
    schedule = schedule_of(config)
    encoder = TextEncoder.from_pretrained(text_encoder_path)
    torch.manual_seed(init_seed)  # the initial weights are part of the recipe
    unet = build_unet(config, cross_attention_dim=encoder.config.text_width, pooled_dim=encoder.config.embed_dim)
    denoise = unet_denoiser(unet)

    def loss(images: torch.Tensor, captions: list[str], step: int) -> torch.Tensor:
        with torch.no_grad():
            states, pooled = encoder(captions)  # frozen
        generator = torch.Generator().manual_seed(10_000_019 + step)  # noise and t are a function of the step
        return diffusion_loss(denoise, images, states, pooled, schedule, generator, config.min_snr_gamma)

    def generator_for(network: UNet2DConditionModel) -> DiffusionGenerator:
        info = diffusion_info(name, "ddpm", parameter_count(network) + encoder.parameter_count())
        return DiffusionGenerator(info, unet_denoiser(network), encoder, schedule, sample_shape=(3, 32, 32))

    def sample_grid(network: UNet2DConditionModel, step: int):
        from models.sample_grid import grid_of
        return grid_of(generator_for(network), steps=25, guidance=3.0)

    def watch(network: UNet2DConditionModel, step: int) -> str:
        from evaluation.accuracy import score, single_prompts
        result = score(generator_for(network), single_prompts(48, seed=555), guidance=3.0, steps=25)
        return " | ".join(f"{k} {result[k]:.2f}" for k in ("color_shape", "size", "position", "full") if k in result)

    def export(network: UNet2DConditionModel, folder: pathlib.Path) -> dict:
        network.save_pretrained(folder / "unet")
        schedule.scheduler("ddpm").save_pretrained(folder / "scheduler")
        return {
            "unet": {"class": "diffusers.UNet2DConditionModel", "preset": preset,
                     "config": dataclasses.asdict(config), "parameters": parameter_count(network)},
            "text_encoder": pin(folder, pathlib.Path(text_encoder_path), TEXT_ENCODER_WEIGHTS),
        }

    def evaluate(folder: pathlib.Path) -> dict:
        from evaluation.accuracy import single_object_accuracy
        generator = load(folder)
        metrics = {}
        for g in (1.0, 3.0):
            result = single_object_accuracy(generator, n_prompts=64, guidance=g, steps=25)
            metrics[f"single_accuracy_g{g:g}_ddim25_64prompts"] = result["color_shape"]
            metrics[f"single_all_asked_g{g:g}_ddim25_64prompts"] = result["full"]
        return metrics

    return Component(name=name, family="ddpm", network=unet, loss=loss, export=export, evaluate=evaluate,
                     sample_grid=sample_grid, watch=watch, weights="unet/diffusion_pytorch_model.safetensors",
                     extra_manifest={"schedule": dataclasses.asdict(schedule),
                                     "objective": objective(schedule, config.min_snr_gamma)})
