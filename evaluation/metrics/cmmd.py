"""CMMD (Jayasumana et al. 2024, "Rethinking FID"): the maximum mean discrepancy between CLIP image embeddings
of two image sets, with a Gaussian RBF kernel, no Gaussian assumption about the features, unbiased.

As in the paper and its reference code: embeddings L2-normalised, k(x, y) = exp(-|x - y|^2 / (2 sigma^2)) with
sigma = 10, MMD^2 scaled by 1000. The estimator is the unbiased one: within-set sums skip i = j; for sets of
equal size the cross sum skips i = j too (Gretton et al. 2012's MMD^2_u), which keeps it unbiased, makes a set
against itself exactly 0, and leaves out the pair of a generated image and the reference of its own prompt and
seed in a run (not an independent draw). CLIP: the evaluator CLIP (`world`, the run's default) or any open_clip
model as MODEL:WEIGHTS, as for the CLIP score (evaluation/metrics/clip_score.py).

    python -m evaluation cmmd A B [--clip world|MODEL:WEIGHTS]
"""
from __future__ import annotations

import argparse
import pathlib
import sys

import numpy as np
import torch
from PIL import Image

SIGMA = 10.0
SCALE = 1000.0
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp"}


def mmd2_unbiased(x: np.ndarray, y: np.ndarray, sigma: float = SIGMA) -> float:
    """Unbiased MMD^2 of x [M, D] against y [N, D] under the Gaussian RBF kernel (see the module doc)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(x) < 2 or len(y) < 2:
        raise ValueError(f"CMMD needs at least 2 embeddings per set, got {len(x)} and {len(y)}")
    gamma = 1.0 / (2.0 * sigma ** 2)

    def kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:  # [len(a), len(b)]
        squared = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
        return np.exp(-gamma * np.maximum(squared, 0.0))

    k_xx, k_yy, k_xy = kernel(x, x), kernel(y, y), kernel(x, y)
    m, n = len(x), len(y)
    within_x = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    within_y = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    cross = (k_xy.sum() - np.trace(k_xy)) / (m * (m - 1)) if m == n else k_xy.mean()
    return float(within_x + within_y - 2.0 * cross)


def normalise(embeddings: np.ndarray) -> np.ndarray:
    embeddings = np.asarray(embeddings, dtype=np.float64)
    return embeddings / np.maximum(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-12)


def cmmd(x: np.ndarray, y: np.ndarray) -> float:
    """CMMD of CLIP embeddings x [M, D] and y [N, D] (normalised here): 1000 * unbiased MMD^2, sigma 10."""
    return SCALE * mmd2_unbiased(normalise(x), normalise(y))


class OpenClipImages(torch.nn.Module):
    """An open_clip image tower as a feature extractor: uint8 [B, 3, H, W] -> embeddings [B, D]."""

    def __init__(self, spec: str):
        super().__init__()
        from evaluation.metrics.clip_score import ClipScorer

        self.scorer = ClipScorer(spec)  # a FeatureError with one line when the weights are not there

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        pictures = [Image.fromarray(im.permute(1, 2, 0).numpy()) for im in images]
        pixels = torch.stack([self.scorer.preprocess(p) for p in pictures])  # [B, 3, h, w]
        return self.scorer.model.encode_image(pixels).double()  # [B, D]


def feature_kind(spec: str) -> str:
    """The feature-cache name of a CLIP: the evaluator CLIP's embeddings are the `world` FID features."""
    from evaluation.store import slug

    return "world" if spec == "world" else f"clip-{slug(spec)}"


def clip_extractor(spec: str) -> torch.nn.Module:
    from evaluation.metrics.features import WorldFeatures

    return WorldFeatures().eval() if spec == "world" else OpenClipImages(spec).eval()


def folder_embeddings(folder: str, spec: str, model: torch.nn.Module | None = None) -> np.ndarray:
    """CLIP embeddings [N, D] of every image under `folder` (run_metrics.py reads folders the same way; it imports
    this module, so the listing is not imported from there)."""
    from evaluation.metrics.features import image_features

    path = pathlib.Path(folder)
    if not path.is_dir():
        raise FileNotFoundError(f"{path} is not an image folder")
    images = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if len(images) < 2:
        raise ValueError(f"{path}: need at least 2 images for CMMD, found {len(images)}")
    return image_features(model or clip_extractor(spec), images, lambda f: Image.open(f).convert("RGB"))


def cmd_cmmd(args: argparse.Namespace) -> None:
    from evaluation.metrics.features import FeatureError

    try:
        model = clip_extractor(args.clip)
        x, y = folder_embeddings(args.a, args.clip, model), folder_embeddings(args.b, args.clip, model)
        if not args.paired:
            print(f"{cmmd(x, y):.4f}")
            return
        from evaluation.metrics import kid

        result = kid.mmd2(normalise(x), normalise(y), folder_units(args.a), folder_units(args.b), kid.rbf_kernel(SIGMA))
    except (FeatureError, ValueError, OSError) as error:
        print(f"error: {str(error).splitlines()[0]}", file=sys.stderr)
        raise SystemExit(2)
    print(f"{SCALE * result['value']:.4f} ± {SCALE * result['se']:.4f} [{SCALE * result['low']:.4f}, "
          f"{SCALE * result['high']:.4f}] (paired by prompt folder, {result['units']} prompts)")


def folder_units(folder: str) -> list[str]:
    """The prompt of every image under `folder`, in folder_embeddings' order: its first folder below the root
    (GenEval's layout, NNNNN/samples/*.png)."""
    root = pathlib.Path(folder)
    images = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    return [p.relative_to(root).parts[0] if len(p.relative_to(root).parts) > 1 else p.stem for p in images]


def add_parser(sub) -> None:
    p = sub.add_parser("cmmd", help="CMMD between two image folders (MMD on CLIP embeddings, Jayasumana et al. 2024)",
                       description="CMMD between two image folders: 1000 x the unbiased MMD^2 of their L2-normalised "
                                   "CLIP image embeddings under a Gaussian kernel with sigma 10. 0 for a folder "
                                   "against itself; lower is closer. Unlike FID it assumes no Gaussian and is "
                                   "unbiased at small sample sizes.")
    p.add_argument("a", help="image folder (searched recursively; at least 2 images)")
    p.add_argument("b", help="image folder")
    p.add_argument("--clip", default="world",
                   help="world (the evaluator CLIP, default) or MODEL:WEIGHTS for any open_clip model with a local "
                        "weights file, e.g. ViT-B-32:/models/open_clip_vit_b32.bin")
    p.add_argument("--paired", action="store_true",
                   help="the folders hold the same prompts, one subfolder each (GenEval's layout): leave out the pairs "
                        "of images that share a prompt and print a bootstrap interval over prompts "
                        "(evaluation/metrics/kid.py)")
    p.set_defaults(run=cmd_cmmd)
