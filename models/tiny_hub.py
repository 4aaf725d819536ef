"""Tiny diffusers pipelines built locally, with random weights: the hub code path without a network.

The tests save them with `save_pretrained` and load them back through the registry (`hub:FOLDER`);
scripts/hub_cuda_speed.py times them on CPU and CUDA. Same classes as the real checkpoints, a few
hundred thousand parameters each.
"""
from __future__ import annotations

import json
import pathlib

import torch

# what the tiny DiT knows, in the hub's id2label format (comma-separated synonyms)
TINY_IMAGENET_LABELS = {0: "tabby, tabby cat", 1: "golden retriever", 2: "goldfish, Carassius auratus"}


def _tiny_vae():
    from diffusers import AutoencoderKL

    # two levels: 16x16x3 images <-> 8x8x4 latents
    return AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(16, 32),
                         down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
                         layers_per_block=1, norm_num_groups=8, sample_size=16)


def write_clip_tokenizer(folder: pathlib.Path):
    """A transformers CLIPTokenizer whose vocab.json and merges.txt come from open_clip's bundled BPE."""
    from open_clip.tokenizer import SimpleTokenizer
    from transformers import CLIPTokenizer

    bpe = SimpleTokenizer()
    folder.mkdir(parents=True, exist_ok=True)
    # open_clip names the special tokens <start_of_text>/<end_of_text>; CLIP's files call them <|...|>
    renamed = {"<start_of_text>": "<|startoftext|>", "<end_of_text>": "<|endoftext|>"}
    vocab = {renamed.get(token, token): index for token, index in bpe.encoder.items()}
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
    merges = sorted(bpe.bpe_ranks, key=bpe.bpe_ranks.get)
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(" ".join(pair) for pair in merges) + "\n",
                                       encoding="utf-8")
    return CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), pad_token="<|endoftext|>",
                         model_max_length=77)


def tiny_stable_diffusion(workdir: pathlib.Path):
    """StableDiffusionPipeline: tiny CLIPTextModel + open_clip-vocabulary CLIPTokenizer, 16x16 images."""
    from diffusers import DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)
    tokenizer = write_clip_tokenizer(pathlib.Path(workdir) / "tokenizer-files")
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, max_position_embeddings=77, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id))
    unet = UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(32, 64),
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=32, attention_head_dim=8, norm_num_groups=16)
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              clip_sample=False, set_alpha_to_one=False, steps_offset=1)
    return StableDiffusionPipeline(vae=_tiny_vae(), text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                   scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)


def tiny_dit():
    """DiTPipeline: a 2-layer DiTTransformer2DModel (AdaLN-Zero, learned sigma) over 8x8x4 latents."""
    from diffusers import DDIMScheduler, DiTPipeline, DiTTransformer2DModel

    torch.manual_seed(0)
    transformer = DiTTransformer2DModel(num_attention_heads=2, attention_head_dim=16, in_channels=4,
                                        out_channels=8, num_layers=2, sample_size=8, patch_size=2,
                                        num_embeds_ada_norm=1000)
    with torch.no_grad():  # diffusers zero-initialises AdaLN-Zero: a random model would output nothing but zeros
        for parameter in transformer.parameters():
            parameter.add_(0.02 * torch.randn_like(parameter))
    return DiTPipeline(transformer=transformer, vae=_tiny_vae(), scheduler=DDIMScheduler(), id2label=TINY_IMAGENET_LABELS)


def save_tiny_dit(folder: pathlib.Path) -> pathlib.Path:
    """save_pretrained does not keep id2label; the hub's DiT repos carry it in model_index.json, so do the same."""
    tiny_dit().save_pretrained(folder)
    index = json.loads((pathlib.Path(folder) / "model_index.json").read_text())
    index["id2label"] = {str(k): v for k, v in TINY_IMAGENET_LABELS.items()}
    (pathlib.Path(folder) / "model_index.json").write_text(json.dumps(index, indent=2))
    return pathlib.Path(folder)


def tiny_ddpm():
    """DDPMPipeline: an unconditional 2-level UNet2DModel on 16x16 images, as google/ddpm-cifar10-32 is at 32."""
    from diffusers import DDPMPipeline, DDPMScheduler, UNet2DModel

    torch.manual_seed(0)
    unet = UNet2DModel(sample_size=16, in_channels=3, out_channels=3, layers_per_block=1,
                       block_out_channels=(16, 32), down_block_types=("DownBlock2D", "AttnDownBlock2D"),
                       up_block_types=("AttnUpBlock2D", "UpBlock2D"), norm_num_groups=8)
    return DDPMPipeline(unet=unet, scheduler=DDPMScheduler(num_train_timesteps=1000))


def save_all(root: pathlib.Path) -> dict[str, pathlib.Path]:
    """Every tiny pipeline saved under root; returns name -> folder."""
    root = pathlib.Path(root)
    folders = {"sd": root / "tiny-sd", "dit": root / "tiny-dit", "ddpm": root / "tiny-ddpm"}
    tiny_stable_diffusion(root / "work").save_pretrained(folders["sd"])
    save_tiny_dit(folders["dit"])
    tiny_ddpm().save_pretrained(folders["ddpm"])
    return folders
