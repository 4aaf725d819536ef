"""The U-Net backbone: a diffusers UNet2DConditionModel with coordinate channels and the pooled text
vector in its timestep embedding, behind the shared Denoiser signature."""
from __future__ import annotations

import dataclasses

import torch
from diffusers import UNet2DConditionModel


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


UNET_CONFIGS = {
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
