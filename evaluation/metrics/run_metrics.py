"""Metrics per (model, setting), computed from the images in the run store, so a resumed run and an
uninterrupted one report the same numbers.

FID and KID go through torchmetrics (float64 states; under torch.distributed each process adds its
shard and torchmetrics merges the states). Features are computed once per image and cached in
RUN_DIR/features-<kind>.npz; the extractor is fed to torchmetrics through an identity module.
"""
from __future__ import annotations

import hashlib
import json
import pathlib
import warnings
from collections import defaultdict

import numpy as np
import torch
from PIL import Image

from evaluation.metrics.features import image_features, load_statistics
from evaluation.metrics.fid import frechet_distance
from evaluation.metrics.fid_infinity import fid_infinity
from models.files import atomic_write
from world.references import reference_image

BOOTSTRAP_SAMPLES = 1000
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp"}


class PrecomputedFeatures(torch.nn.Module):
    """torchmetrics' `feature=` module for features computed beforehand: identity, float64."""

    def __init__(self, dim: int):
        super().__init__()
        self.num_features = dim

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features.double()


class FeatureCache:
    """Features of images by id (a store file name, or a reference's caption|seed), kept in one .npz."""

    def __init__(self, path: pathlib.Path, extractor: torch.nn.Module, batch: int = 64):
        self.path, self.extractor, self.batch = path, extractor, batch
        self.known: dict[str, np.ndarray] = {}
        if path.is_file():
            with np.load(path, allow_pickle=False) as data:
                self.known = dict(zip(data["ids"].tolist(), data["features"]))
        self.dirty = False
        self.used: set[str] = set()

    def features(self, ids: list[str], load) -> np.ndarray:
        """[len(ids), D] float64; `load(id) -> PIL.Image` for ids not seen before."""
        self.used.update(ids)
        missing = [i for i in dict.fromkeys(ids) if i not in self.known]
        if missing:
            self.known.update(zip(missing, image_features(self.extractor, missing, load, self.batch)))
            self.dirty = True
        return np.stack([self.known[i] for i in ids])

    def save(self) -> None:
        """Writes the features asked for since loading: those of replaced images (another digest) drop out."""
        if self.used and set(self.known) != self.used:
            self.known = {i: self.known[i] for i in self.used if i in self.known}
            self.dirty = True
        if self.dirty and self.known:
            ids = sorted(self.known)
            atomic_write(self.path, lambda handle: np.savez(handle, ids=np.array(ids),
                                                            features=np.stack([self.known[i] for i in ids])), mode="wb")
            self.dirty = False


def bootstrap(values: list[float], seed: int = 0) -> tuple[float, float, float] | None:
    """(mean, low, high): the mean and its 95 % percentile-bootstrap interval."""
    if not values:
        return None
    array = np.asarray(values, dtype=np.float64)
    rng = np.random.default_rng(seed)
    means = array[rng.integers(0, len(array), size=(BOOTSTRAP_SAMPLES, len(array)))].mean(axis=1)
    return float(array.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def fid_and_kid(fake: np.ndarray, real: np.ndarray | None, real_stats: tuple | None = None,
                shard: tuple[int, int] = (0, 1), with_kid: bool = True) -> tuple[float | None, list[float] | None]:
    """FID (and KID mean, std when real features are at hand) of fake [N, D] against real [M, D] or (mu, sigma).
    with_kid=False: FID alone (paired references get the paired KID, evaluation/metrics/kid.py)."""
    from torchmetrics.image.fid import FrechetInceptionDistance  # imported here: a cached report needs neither
    from torchmetrics.image.kid import KernelInceptionDistance

    rank, world = shard
    dim = fake.shape[1]
    fid = FrechetInceptionDistance(feature=PrecomputedFeatures(dim), reset_real_features=True)
    fid.update(torch.from_numpy(fake[rank::world]), real=False)
    if real is not None:
        fid.update(torch.from_numpy(real[rank::world]), real=True)
    with fid.sync_context():  # under torch.distributed: every process's sums, merged
        n_fake = int(fid.fake_features_num_samples)
        if n_fake < 2:
            return None, None
        mu_fake, sigma_fake = _gaussian(fid.fake_features_sum, fid.fake_features_cov_sum, n_fake)
        if real is not None:
            mu_real, sigma_real = _gaussian(fid.real_features_sum, fid.real_features_cov_sum,
                                            int(fid.real_features_num_samples))
    if real is None:
        mu_real, sigma_real = real_stats
    fid_value = frechet_distance(mu_fake, sigma_fake, mu_real, sigma_real)
    kid_value = None
    if with_kid and real is not None and min(len(fake), len(real)) >= 4:
        subset = min(1000, len(fake) // 2, len(real) // 2)  # subsets smaller than the set, so the std means something
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torchmetrics' note that KID keeps every feature: ours are small
            kid = KernelInceptionDistance(feature=PrecomputedFeatures(dim), subsets=50, subset_size=subset)
        kid.update(torch.from_numpy(fake[rank::world]), real=False)
        kid.update(torch.from_numpy(real[rank::world]), real=True)
        with torch.random.fork_rng():
            torch.manual_seed(0)  # KID draws random subsets: fixed, so reruns agree
            mean, std = kid.compute()
        kid_value = [float(mean), float(std)]
    return fid_value, kid_value


def _gaussian(total: torch.Tensor, cov_total: torch.Tensor, n: int) -> tuple[np.ndarray, np.ndarray]:
    mean = (total / n).unsqueeze(0)  # [1, D]
    sigma = (cov_total - n * mean.T @ mean) / (n - 1)  # torchmetrics' own estimate
    return mean.squeeze(0).numpy(), sigma.numpy()


def folder_images(folder: pathlib.Path) -> list[pathlib.Path]:
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if len(paths) < 2:
        raise ValueError(f"{folder}: need at least 2 images for reference statistics, found {len(paths)}")
    return paths


METRICS_VERSION = 5  # part of the fingerprint: a run's cached metrics.json from before gains the new metrics


def fingerprint(rows: dict[str, dict], options: dict, ids: dict[str, str] | None = None) -> str:
    """Of the rows, the options and (given image_ids) every image's bytes: an image made again under its old key
    (a healed file, a model's rows removed and rerun) must not keep the metrics of the one it replaced."""
    images = [ids[rows[key]["file"]] for key in sorted(rows)] if ids is not None else []
    text = json.dumps([sorted(rows), images, options, METRICS_VERSION], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def image_ids(root: pathlib.Path, rows: dict[str, dict]) -> dict[str, str]:
    """file -> the file's name with a digest of its bytes ("images/m/s/p0001-s00-seed1.png@1a2b..."): the key
    features are cached under, so that a file replaced in place is measured again. Each file is read once."""
    ids = {}
    for row in rows.values():
        try:
            digest = hashlib.sha256((pathlib.Path(root) / row["file"]).read_bytes()).hexdigest()[:12]
        except OSError:  # a missing file fails where it is opened, with its own message
            digest = "missing"
        ids[row["file"]] = f"{row['file']}@{digest}"
    return ids


def _open_id(root: pathlib.Path):
    return lambda image: Image.open(pathlib.Path(root) / image.rsplit("@", 1)[0]).convert("RGB")


class LazyExtractor(torch.nn.Module):
    """Builds its extractor on first use: a run whose features are all cached loads no network."""

    def __init__(self, build):
        super().__init__()
        self.build, self.model = build, None

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        self.model = self.model if self.model is not None else self.build()
        return self.model(images)


def _run_clip(root: pathlib.Path) -> str:
    """The CLIP the run scores with (run.json's `clip`, world by default): CMMD uses the same one."""
    from evaluation.store import read_settings

    try:
        return str(read_settings(root).get("clip") or "world")
    except ValueError:
        return "world"


def _references(root: pathlib.Path, reference: str | None, caches: dict[str, FeatureCache]) -> dict:
    """One reference for every group: a folder of images or an .npz of statistics, per feature kind."""
    real_for_all: dict[str, np.ndarray | tuple] = {}
    if reference:
        for kind, cache in caches.items():
            path = pathlib.Path(reference)
            if path.suffix == ".npz":
                real_for_all[kind] = load_statistics(path)
            else:
                images = folder_images(path)
                real_for_all[kind] = cache.features([f"ref:{p}" for p in images],
                                                    lambda i: Image.open(i[4:]).convert("RGB"))
    return real_for_all


def _real_of(members: list[dict], cache: FeatureCache, given) -> tuple[np.ndarray | None, tuple | None, bool]:
    """(real features, real statistics, paired): the run's reference, else the rendered reference of every
    row (paired: row i of real is the reference of row i of the group)."""
    if given is not None:
        return (None, given, False) if isinstance(given, tuple) else (given, None, False)
    if all(r["target"] is not None for r in members):  # world prompts: rendered references
        real = cache.features([f"world:{r['target']}|{r['seed']}" for r in members],
                              lambda i: reference_image(*_caption_seed(i)))
        return real, None, True
    return None, None, False


def _record(members: list[dict]) -> dict:
    first = members[0]
    record = {"model": first["model"], "family": first["family"], "setting": first["setting"],
              "sampler": first["sampler"], "steps": first["steps"], "guidance": first["guidance"], "n": len(members),
              "images_per_s": None}  # None: images made elsewhere (evaluation score), time unknown
    if all(r["latency_s"] is not None for r in members):
        record["images_per_s"] = round(len(members) / max(1e-9, sum(r["latency_s"] for r in members)), 3)
    record["clip_score"] = bootstrap([r["clip_score"] for r in members if r["clip_score"] is not None])
    clip_by_category: dict[str, list[float]] = defaultdict(list)
    by_category: dict[str, list[dict]] = defaultdict(list)
    for r in members:
        if r["clip_score"] is not None:
            clip_by_category[str(r["category"])].append(r["clip_score"])
        if r["correct"] is not None:
            by_category[r["category"]].append(r)
    record["clip_by_category"] = {c: bootstrap(v) for c, v in sorted(clip_by_category.items())}
    record["accuracy"] = {c: bootstrap([float(r["correct"]) for r in rs]) for c, rs in sorted(by_category.items())}
    record["color_shape"] = {c: float(np.mean([r["color_shape"] for r in rs])) for c, rs in sorted(by_category.items())}
    judged = [r for rs in by_category.values() for r in rs]  # the judge's "unsure" (world.accuracy): not right, counted apart
    record["unsure"] = float(np.mean([str(r.get("reason") or "").startswith("unsure") for r in judged])) if judged else None
    return record


def compute(root: pathlib.Path, rows: dict[str, dict], extractors: dict[str, torch.nn.Module],
            reference: str | None = None, shard: tuple[int, int] = (0, 1),
            ids: dict[str, str] | None = None) -> list[dict]:
    """One record per (model, setting): images/s, CLIP score (overall and per category), accuracy per category,
    FID and KID per features with their sample counts, precision/recall/density/coverage, CMMD on the run's
    CLIP, within-prompt diversity, and the judge's accuracy on the group's references."""
    from evaluation.metrics import cmmd, fidelity, prompt_bootstrap
    from evaluation.metrics.noise_floor import FLOOR_MODEL

    ids = ids if ids is not None else image_ids(root, rows)
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for key in sorted(rows):
        groups[(rows[key]["model"], rows[key]["setting"])].append(rows[key])
    caches = {kind: FeatureCache(root / f"features-{kind}.npz", extractor) for kind, extractor in extractors.items()}
    clip = _run_clip(root)
    clip_kind = cmmd.feature_kind(clip)
    clip_cache = caches.get(clip_kind) or FeatureCache(root / f"features-{clip_kind}.npz",
                                                       LazyExtractor(lambda: cmmd.clip_extractor(clip)))
    every = {**caches, clip_kind: clip_cache}
    real_for_all = _references(root, reference, every)
    records = []
    for members in groups.values():
        record = _record(members)
        record["fid"], record["kid"], record["fid_n"], record["prdc"] = {}, {}, {}, {}
        record["kid_interval"], record["fid_inf"], record["cmmd_interval"] = {}, {}, {}
        record["fid_interval"], record["prdc_interval"] = {}, {}
        paired_features = {}
        for kind, cache in caches.items():
            fake = cache.features([ids[r["file"]] for r in members], _open_id(root))
            real, stats, paired = _real_of(members, cache, real_for_all.get(kind))
            paired_features[kind] = (fake, real if paired else None)
            if real is None and stats is None:
                continue
            record["fid"][kind], record["kid"][kind] = fid_and_kid(fake, real, stats, shard, with_kid=not paired)
            if paired:  # stratified by prompt: the paired estimator, and FID extrapolated to infinite n
                record["kid"][kind], record["kid_interval"][kind] = _paired_mmd(fake, real, members, "kid")
                record["fid_inf"][kind] = fid_infinity(fake, real, *[[r["prompt_index"] for r in members]] * 2)
            record["fid_n"][kind] = {"generated": len(fake), "real": None if real is None else len(real),
                                     "dim": int(fake.shape[1])}
            record["prdc"][kind] = None if real is None else fidelity.prdc(real, fake)
            if paired and record["model"] == FLOOR_MODEL:  # the floor's intervals: what the ≈ marks compare with
                prompts = [r["prompt_index"] for r in members]
                record["fid_interval"][kind] = prompt_bootstrap.fid_interval(fake, real, prompts)
                record["prdc_interval"][kind] = prompt_bootstrap.prdc_intervals(real, fake, prompts, fidelity.K)
        record["cmmd"] = {clip: _cmmd(root, ids, members, clip_cache, real_for_all.get(clip_kind),
                                      record["cmmd_interval"], clip)}
        record["diversity"] = fidelity.diversity(root, members, paired_features)
        record["judge_on_references"] = fidelity.judge_on_references(members)
        records.append(record)
    if shard[0] == 0:
        for cache in every.values():
            cache.save()
    return records


def _cmmd(root: pathlib.Path, ids: dict[str, str], members: list[dict], cache: FeatureCache, given, intervals: dict,
          clip: str) -> float | None:
    """CMMD of the group's images against the run's reference images (none for an .npz of statistics); paired
    references get the paired estimator and its interval (in `intervals`)."""
    from evaluation.metrics import cmmd

    real, _, paired = _real_of(members, cache, given)
    if real is None:
        return None
    fake = cache.features([ids[r["file"]] for r in members], _open_id(root))
    if paired and len({r["prompt_index"] for r in members}) >= 2:
        value, intervals[clip] = _paired_mmd(fake, real, members, "cmmd")
        return value[0]
    return cmmd.cmmd(fake, real) if min(len(fake), len(real)) >= 2 else None


def _paired_mmd(fake: np.ndarray, real: np.ndarray, members: list[dict], which: str) -> tuple[list, list]:
    """([value, se], [value, low, high]) of KID or CMMD with row i of real the reference of row i of members."""
    from evaluation.metrics import cmmd, kid

    prompts = [r["prompt_index"] for r in members]
    if which == "kid":
        result, scale = kid.kid(fake, real, prompts, prompts), 1.0
    else:
        result = kid.mmd2(cmmd.normalise(fake), cmmd.normalise(real), prompts, prompts,
                                 kid.rbf_kernel(cmmd.SIGMA))
        scale = cmmd.SCALE
    value, se, low, high = (None if result[k] is None else scale * result[k] for k in ("value", "se", "low", "high"))
    return [value, se], [value, low, high]


def _caption_seed(reference_id: str) -> tuple[str, int]:
    caption, _, seed = reference_id[len("world:"):].rpartition("|")
    return caption, int(seed)
