"""What FID folds into one number, taken apart: fidelity and coverage as k-NN manifold estimates, the diversity of
a generator within one prompt, and how often the judge passes the run's own reference images.

- precision / recall (Kynkaanniemi et al. 2019) and density / coverage (Naeem et al. 2020), k = 5, on the
  run's own FID features (the extractor FID uses, not torch-fidelity's Inception): a real sample's ball
  reaches its k-th nearest real neighbour (itself excluded), a generated one's its k-th nearest generated.
  Precision and recall are computed as torch_fidelity.metric_prc does (tests/test_cmmd_and_fidelity.py
  checks them against it);
- within-prompt diversity, over the pairs of samples of the same prompt: the share whose detected objects
  differ in size or position (world.detector), and the mean feature distance between them; the same numbers
  for the rendered references of the same prompts and seeds say how much variety the prompts leave open;
- the judge on its references: the share of the rows' rendered references it judges right, and why it
  failed the others.
"""
from __future__ import annotations

import functools
import itertools
import pathlib
from collections import defaultdict

import numpy as np
from PIL import Image

K = 5
FAILURES_KEPT = 5


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances [len(a), len(b)]."""
    squared = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.maximum(squared, 0.0))


def prdc(real: np.ndarray, fake: np.ndarray, k: int = K) -> dict | None:
    """Precision, recall, density, coverage of fake [F, D] against real [R, D]; None with k or fewer of either."""
    real, fake = np.asarray(real, dtype=np.float64), np.asarray(fake, dtype=np.float64)
    if len(real) <= k or len(fake) <= k:
        return None
    radius_real = np.sort(_distances(real, real), axis=1)[:, k]  # [R]; column 0 is the sample itself
    radius_fake = np.sort(_distances(fake, fake), axis=1)[:, k]  # [F]
    cross = _distances(real, fake)  # [R, F]
    inside_real = cross <= radius_real[:, None]  # [R, F]: fake j inside real i's ball
    return {"precision": float(inside_real.any(axis=0).mean()),
            "recall": float((cross <= radius_fake[None, :]).any(axis=1).mean()),
            "density": float(inside_real.sum() / (k * len(fake))),
            "coverage": float((cross.min(axis=1) <= radius_real).mean()),
            "k": k}


def _by_prompt(members: list[dict]) -> dict[int, list[int]]:
    """prompt_index -> positions in members of its samples."""
    groups: dict[int, list[int]] = defaultdict(list)
    for i, row in enumerate(members):
        groups[row["prompt_index"]].append(i)
    return groups


def _layout(image: Image.Image) -> tuple:
    """What the detector sees of size and position: the sorted (size, cell) of every object."""
    from world.detector import detect

    if image.size != (32, 32):  # the detector reads the world's canvas, as the judge does
        image = image.convert("RGB").resize((32, 32), Image.BICUBIC)
    return tuple(sorted((d.size, d.cell) for d in detect(image)))


# every setting of a run shares one set of references (same targets, same seeds): render and read each once
@functools.lru_cache(maxsize=4096)
def _reference_layout(target: str, seed: int) -> tuple:
    from world.references import reference_image

    return _layout(reference_image(target, seed))


@functools.lru_cache(maxsize=4096)
def _reference_verdict(target: str, seed: int) -> dict:
    from world.accuracy import judge
    from world.references import reference_image

    return judge(target, reference_image(target, seed))


def _share_differing(signatures: list[tuple], groups: dict[int, list[int]]) -> float | None:
    pairs = [(i, j) for indices in groups.values() for i, j in itertools.combinations(indices, 2)]
    return None if not pairs else float(np.mean([signatures[i] != signatures[j] for i, j in pairs]))


def _spread(features: np.ndarray, groups: dict[int, list[int]]) -> float | None:
    """Mean distance between the feature vectors of two samples of the same prompt, averaged over prompts."""
    values = [_distances(features[idx], features[idx])[np.triu_indices(len(idx), 1)].mean()
              for idx in groups.values() if len(idx) > 1]
    return float(np.mean(values)) if values else None


def diversity(root: pathlib.Path, members: list[dict], features: dict[str, tuple[np.ndarray, np.ndarray | None]]) -> dict | None:
    """Within-prompt diversity of a group and of its references; None when no prompt has two samples.
    `features`: kind -> (generated [N, D], references [N, D] or None), rows in the order of members."""
    groups = _by_prompt(members)
    if all(len(idx) < 2 for idx in groups.values()):
        return None
    generated = [_layout(Image.open(root / r["file"]).convert("RGB")) for r in members]
    world = all(r["target"] is not None for r in members)
    result = {"layouts_differ": _share_differing(generated, groups), "layouts_differ_reference": None,
              "spread": {kind: _spread(fake, groups) for kind, (fake, _) in features.items()},
              "spread_reference": {kind: _spread(real, groups) for kind, (_, real) in features.items()
                                   if real is not None and len(real) == len(members)}}
    if world:
        references = [_reference_layout(r["target"], r["seed"]) for r in members]
        result["layouts_differ_reference"] = _share_differing(references, groups)
    return result


def judge_on_references(members: list[dict]) -> dict | None:
    """The judge on the rendered reference of every row with a world target: the share it passes, and the
    first failures with the judge's reason; None when no row has a target."""
    targets = sorted({(r["target"], r["seed"]) for r in members if r["target"] is not None})
    if not targets:
        return None
    verdicts = [(target, seed, _reference_verdict(target, seed)) for target, seed in targets]
    failures = [[target, seed, v["reason"]] for target, seed, v in verdicts if not v["full"]]
    return {"n": len(verdicts), "correct": float(np.mean([v["full"] for _, _, v in verdicts])),
            "failures": failures[:FAILURES_KEPT]}
