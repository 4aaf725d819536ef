"""CLIP score, 100 * max(cos(image, text), 0), through open_clip.

`world` (default) is the evaluator CLIP trained here on the Shapes world with another seed and
configuration than the generators' text encoder; `MODEL:WEIGHTS` is any open_clip architecture
with a local weights file (for instance `ViT-B-32:/models/open_clip_vit_b32.bin`).
"""
from __future__ import annotations

import pathlib

import torch
from PIL import Image

from evaluation.metrics.features import FeatureError, load_evaluator_clip


class ClipScorer:
    def __init__(self, spec: str = "world", device: str = "cpu"):
        self.spec, self.device = spec, device
        if spec == "world":
            from world import to_tensor
            encoder = load_evaluator_clip()
            self.model, self.tokenize = encoder.clip.to(device), encoder.tokenize
            # the world CLIP sees 32x32 images; other resolutions are resized to it
            self.preprocess = lambda im: to_tensor(im if im.size == (32, 32) else im.resize((32, 32), Image.BICUBIC))
            return
        import open_clip
        name, _, weights = spec.partition(":")
        if not weights or not pathlib.Path(weights).is_file():
            raise FeatureError(f"CLIP {spec!r}: expected world or MODEL:WEIGHTS_FILE with the file on disk "
                               f"(open_clip architectures: {', '.join(open_clip.list_models()[:4])}, ...)")
        try:
            self.model, _, self.preprocess = open_clip.create_model_and_transforms(name, pretrained=weights, device=device)
        except Exception as error:
            raise FeatureError(f"cannot load CLIP {spec!r}: {str(error).splitlines()[0]}") from None
        tokenizer = open_clip.get_tokenizer(name)
        self.tokenize = lambda texts: tokenizer(texts).to(device)
        self.model.eval()

    @torch.no_grad()
    def score(self, images: list[Image.Image], texts: list[str]) -> list[float]:
        """One score per (image, text) pair, in [0, 100]."""
        pixels = torch.stack([self.preprocess(im.convert("RGB")) for im in images]).to(self.device)  # [B, 3, H, W]
        image = torch.nn.functional.normalize(self.model.encode_image(pixels).float(), dim=-1)  # [B, D]
        text = torch.nn.functional.normalize(self.model.encode_text(self.tokenize(list(texts))).float(), dim=-1)
        return [round(100 * max(c, 0.0), 4) for c in (image * text).sum(-1).tolist()]
