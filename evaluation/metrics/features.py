"""Feature extractors for FID/KID, and the Frechet distance between Gaussian statistics.

Two extractors, both `torch.nn.Module`s that torchmetrics' FID/KID take as `feature=` and that
map uint8 images [B, 3, H, W] to features [B, D]:
- `inception`: Inception-v3 with the FID weights (torchmetrics / torch-fidelity), 2048-d pool features;
  the weights file must be on disk (offline machines cannot fetch it).
- `world`: the image tower of the evaluator CLIP trained here on the Shapes world (another seed and
  configuration than the generators' text encoder), 96-d embeddings.
"""
from __future__ import annotations

import hashlib
import io
import os
import pathlib
from typing import Callable, Sequence

import numpy as np
import torch
from PIL import Image

from models.checkpoints import CHECKPOINT_ROOT, sha256
from models.files import atomic_write

INCEPTION_FILE = "pt_inception-2015-12-05-6726825d.pth"
INCEPTION_URL = "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth"
INCEPTION_ENV = "GENBENCH_INCEPTION_WEIGHTS"
# the one file torch-fidelity and pytorch-fid publish (its name carries the digest's first 8 digits); only it is
# handed to torch-fidelity, which unpickles with weights_only=False, i.e. would run code inside any other file
INCEPTION_SHA256 = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"
INCEPTION_BYTES = 95_628_359
EVALUATOR_CLIP_ENV = "GENBENCH_EVALUATOR_CLIP"  # another folder for the evaluator CLIP (tests use a tiny one)
FEATURES = ("world", "inception")


class FeatureError(RuntimeError):
    """A feature extractor that cannot be built; the message is one line saying what to do."""


def evaluator_clip_path() -> pathlib.Path:
    return pathlib.Path(os.environ.get(EVALUATOR_CLIP_ENV) or CHECKPOINT_ROOT / "clip-evaluator")


def load_evaluator_clip(folder: pathlib.Path | None = None):
    """The evaluator CLIP as a `TextEncoder` (`.clip`: the open_clip model, `.tokenize`), from `folder` or
    evaluator_clip_path(); a FeatureError saying how to train it when it is missing or broken.
    The one loader of it: the `world` features here and the `world` CLIP score both come through it."""
    from models.checkpoints import CheckpointError
    from models.text.encoder import TextEncoder
    try:
        return TextEncoder.from_pretrained(folder or evaluator_clip_path())
    except CheckpointError as error:
        raise FeatureError(f"{error} (the evaluator CLIP: `python -m models train --model clip-evaluator`)") from None


def default_inception_path() -> pathlib.Path:
    if os.environ.get(INCEPTION_ENV):
        return pathlib.Path(os.environ[INCEPTION_ENV])
    return pathlib.Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILE


class WorldFeatures(torch.nn.Module):
    """The evaluator CLIP's image embedding: uint8 [B, 3, H, W] -> [B, 96]."""

    def __init__(self, folder: pathlib.Path | None = None):
        super().__init__()
        self.clip = load_evaluator_clip(folder).clip
        self.num_features = self.clip.visual.output_dim

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images.float() / 127.5 - 1.0  # [B, 3, H, W] in [-1, 1]
        if x.shape[-1] != 32 or x.shape[-2] != 32:
            x = torch.nn.functional.interpolate(x, size=(32, 32), mode="bilinear", antialias=True, align_corners=False)
        return self.clip.encode_image(x).double()  # [B, 96]


def inception_path(weights: str | os.PathLike | None = None) -> pathlib.Path:
    """The weights file asked for (else the default), after checking it is a file."""
    path = pathlib.Path(weights) if weights else default_inception_path()
    if not path.is_file():
        raise FeatureError(f"Inception-v3 FID weights not found at {path}: download {INCEPTION_URL} there, "
                           f"or pass --inception-weights PATH (or set {INCEPTION_ENV})")
    return path


def _first_line(error: BaseException) -> str:
    return (str(error).splitlines() or [type(error).__name__])[0][:120]


def _not_the_weights(path: pathlib.Path, what: str) -> FeatureError:
    return FeatureError(f"{path} is not the Inception-v3 FID weights ({what}); only that exact file is loaded: "
                        f"download {INCEPTION_URL}")


def check_inception_file(path: pathlib.Path, data: bytes | None = None) -> None:
    """Refuse anything but the published FID weights: the size first (a huge file is never read), then the
    sha256 of `data` when given (the very bytes to be loaded), else of the file."""
    size = len(data) if data is not None else path.stat().st_size
    if size != INCEPTION_BYTES:
        raise _not_the_weights(path, f"{size} bytes, expected {INCEPTION_BYTES}")
    digest = hashlib.sha256(data).hexdigest() if data is not None else sha256(path)
    if digest != INCEPTION_SHA256:
        raise _not_the_weights(path, f"sha256 {digest[:12]}..., expected {INCEPTION_SHA256[:12]}...")


def inception_features(weights: str | os.PathLike | None = None) -> torch.nn.Module:
    """torchmetrics' Inception-v3 (FID weights, 2048-d); FeatureError naming the file when it is absent,
    or when it is anything but the published weights."""
    path = inception_path(weights)
    check_inception_file(path)  # by size and digest before the file is read in full
    data = path.read_bytes()
    check_inception_file(path, data)  # the bytes loaded are the bytes checked, whatever happens to the file
    try:  # a second guard: a plain state dict of tensors, read by the loader that runs no code
        torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as error:
        raise _not_the_weights(path, f"not a plain state dict: {_first_line(error)}") from None
    from torchmetrics.image.fid import NoTrainInceptionV3
    try:  # torch-fidelity torch.loads whatever it is given: the checked bytes, never the path
        return NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048"],
                                  feature_extractor_weights_path=io.BytesIO(data))
    except Exception as error:
        raise FeatureError(f"cannot load Inception-v3 weights from {path}: {_first_line(error)}") from None


def check_available(kind: str, inception_weights: str | None = None) -> None:
    """Fail early, without loading anything, when the extractor's weights are not on disk (or, for
    Inception, are not the published file: checked by size and sha256)."""
    if kind == "world":
        if not (evaluator_clip_path() / "config.json").is_file():
            raise FeatureError(f"no evaluator CLIP in {evaluator_clip_path()}: "
                               f"run `python -m models train --model clip-evaluator`")
    elif kind == "inception":
        check_inception_file(inception_path(inception_weights))
    else:
        raise FeatureError(f"unknown features {kind!r}; choose one of {', '.join(FEATURES)}")


def extractor(kind: str, inception_weights: str | None = None) -> torch.nn.Module:
    if kind == "world":
        return WorldFeatures().eval()
    if kind == "inception":
        return inception_features(inception_weights)
    raise FeatureError(f"unknown features {kind!r}; choose one of {', '.join(FEATURES)}")


def as_uint8(images: list[Image.Image]) -> torch.Tensor:
    """PIL images -> uint8 [B, 3, H, W]."""
    return torch.from_numpy(np.stack([np.asarray(im.convert("RGB")) for im in images])).permute(0, 3, 1, 2).contiguous()


def image_features(model: torch.nn.Module, items: Sequence, load: Callable = lambda item: item,
                   batch: int = 64) -> np.ndarray:
    """[len(items), D] float64 features, `batch` images at a time; `load(item) -> PIL.Image` (paths, ids)."""
    chunks = []
    with torch.no_grad():
        for start in range(0, len(items), batch):
            images = [load(item) for item in items[start:start + batch]]
            chunks.append(model(as_uint8(images)).double().cpu().numpy())
    return np.concatenate(chunks) if chunks else np.zeros((0, 0))


# ---------------------------------------------------------------- Gaussian statistics
def statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (unbiased) covariance of features [N, D], float64."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"need at least 2 feature vectors [N, D], got shape {features.shape}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def save_statistics(path: str | os.PathLike, mu: np.ndarray, sigma: np.ndarray) -> None:
    """pytorch-fid's .npz format: arrays `mu` and `sigma` (like np.savez, `.npz` is added to a name without it)."""
    path = pathlib.Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    atomic_write(path, lambda handle: np.savez(handle, mu=mu, sigma=sigma), mode="wb")


def load_statistics(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(path) as data:
            return data["mu"].astype(np.float64), data["sigma"].astype(np.float64)
    except KeyError:
        raise ValueError(f"{path}: expected arrays 'mu' and 'sigma' (pytorch-fid's format)") from None
    except Exception as error:
        raise ValueError(f"{path}: cannot read statistics ({str(error).splitlines()[0]})") from None
