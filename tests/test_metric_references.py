"""The metrics against their references, on real PNGs and the shipped evaluator CLIP's features (world features):

- the FID an evaluation run reports (evaluation/metrics/run_metrics.py compute: torchmetrics states, covariance rebuilt) equals
  frechet_distance of the same features' statistics and pytorch-fid's calculate_frechet_distance (scipy's sqrtm);
- `python -m evaluation fid`, `stats` and `run --reference` give that same number; `--clip MODEL:WEIGHTS` scores
  as open_clip's own model does;
- rendered references score far below blank or noise images, and the CLIP score prefers the matching caption.
"""
import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from pytorch_fid.fid_score import calculate_frechet_distance

from evaluation.metrics.clip_score import ClipScorer
from evaluation.metrics.features import WorldFeatures, evaluator_clip_path, image_features, statistics
from evaluation.metrics.fid import frechet_distance
from models.checkpoints import CHECKPOINT_ROOT
from world.accuracy import world_prompts
from world.perturbations import blank, noise_image, other_color
from world.references import reference_image

REPO = pathlib.Path(__file__).resolve().parents[1]
N = 160  # more images than the 96 feature dimensions: full-rank covariances, as pytorch-fid expects


def test_the_evaluator_clip_is_the_shipped_one():
    assert evaluator_clip_path() == CHECKPOINT_ROOT / "clip-evaluator"  # not the tiny stand-in of other tests


def evaluation(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evaluation", *args], capture_output=True, text=True, timeout=300,
                          cwd=REPO)


def run_command(out: pathlib.Path, *extra: str) -> list[str]:
    return ["run", "--models", "gan", "--prompts", f"shapes-single-{N}", "--n", "1", "--features", "world",
            "--out", str(out), "--no-floor", *extra]  # one record per run: the GAN's


def rows_of(run: pathlib.Path) -> list[dict]:
    return [json.loads(line) for line in (run / "rows.jsonl").read_text().splitlines()]


def fid_of(run: pathlib.Path) -> float:
    record, = json.loads((run / "metrics.json").read_text())["records"]
    return record["fid"]["world"]


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, pathlib.Path]:
    """An evaluation run of the GAN on N world prompts (its PNGs under "gan"), and PNG folders of the rendered
    references of the same (caption, seed) pairs ("real", what the run compares against) and of other seeds."""
    root = tmp_path_factory.mktemp("images")
    result = evaluation(*run_command(root / "run"))
    assert result.returncode == 0, result.stderr[-2000:]
    rows = rows_of(root / "run")
    assert len(rows) == N
    for name, shift in (("real", 0), ("real-again", 10_000)):
        (root / name).mkdir()
        for i, row in enumerate(rows):
            reference_image(row["target"], row["seed"] + shift).save(root / name / f"{i:03d}.png")
    return {"run": root / "run", "gan": root / "run" / "images" / "gan", "real": root / "real",
            "real-again": root / "real-again"}


@pytest.fixture(scope="module")
def world() -> WorldFeatures:
    return WorldFeatures().eval()


def features_of(world, folder: pathlib.Path) -> np.ndarray:
    return image_features(world, sorted(folder.rglob("*.png")), lambda p: Image.open(p).convert("RGB"))


def test_the_runs_fid_equals_frechet_distance_and_pytorch_fid(folders, world):
    fake = statistics(image_features(world, [folders["run"] / row["file"] for row in rows_of(folders["run"])],
                                     lambda p: Image.open(p).convert("RGB")))
    real = statistics(features_of(world, folders["real"]))  # the run renders these references itself
    ours = frechet_distance(*fake, *real)
    reference = calculate_frechet_distance(*fake, *real)  # pytorch-fid: scipy.linalg.sqrtm
    assert fid_of(folders["run"]) == pytest.approx(ours, rel=1e-9)
    assert ours == pytest.approx(reference, rel=1e-6) and ours > 1  # measured 8.39


def test_fid_and_stats_commands_agree_with_the_statistics_of_the_features(folders, world, tmp_path):
    fake, real = statistics(features_of(world, folders["gan"])), statistics(features_of(world, folders["real"]))
    expected = frechet_distance(*fake, *real)
    result = evaluation("fid", str(folders["gan"]), str(folders["real"]), "--features", "world")
    assert result.returncode == 0, result.stderr
    assert float(result.stdout.strip()) == pytest.approx(expected, abs=2e-6)  # printed with 6 decimals
    result = evaluation("stats", str(folders["real"]), str(tmp_path / "real.npz"), "--features", "world")
    assert result.returncode == 0 and "mu (96,), sigma (96, 96)" in result.stdout, result.stderr
    with np.load(tmp_path / "real.npz") as saved:
        assert np.allclose(saved["mu"], real[0], rtol=0, atol=1e-12)
        assert np.allclose(saved["sigma"], real[1], rtol=0, atol=1e-12)
    result = evaluation("fid", str(folders["gan"]), str(tmp_path / "real.npz"), "--features", "world")
    assert float(result.stdout.strip()) == pytest.approx(expected, abs=2e-6)


def test_run_reference_folder_and_statistics_give_the_same_fid(folders, world, tmp_path):
    """`evaluation run --reference FOLDER | stats.npz`: one reference for every group, the same number either way."""
    import shutil

    from evaluation.metrics.features import save_statistics

    real = statistics(features_of(world, folders["real-again"]))
    save_statistics(tmp_path / "again.npz", *real)
    expected = frechet_distance(*statistics(features_of(world, folders["gan"])), *real)
    for reference in (folders["real-again"], tmp_path / "again.npz"):
        run = tmp_path / f"run-{reference.suffix or 'folder'}"
        shutil.copytree(folders["run"], run)  # the images exist: only the metrics are made again
        result = evaluation(*run_command(run, "--reference", str(reference)))
        assert result.returncode == 0 and "0 images generated" in result.stdout, result.stderr[-2000:]
        assert fid_of(run) == pytest.approx(expected, rel=1e-9), reference


def test_rendered_references_score_far_below_blank_and_noise_images(folders, world):
    real = statistics(features_of(world, folders["real"]))
    rng = np.random.default_rng(0)
    impostors = {"black": [blank() for _ in range(N)],
                 "random colors": [blank(tuple(int(v) for v in rng.integers(0, 256, 3))) for _ in range(N)],
                 "noise": [noise_image(rng) for _ in range(N)],
                 "blobs": [noise_image(rng, smooth=1.5) for _ in range(N)]}
    renders = frechet_distance(*statistics(features_of(world, folders["real-again"])), *real)
    for name, images in impostors.items():
        # blank images all share one feature vector: a covariance of rank 0, which frechet_distance takes as is
        impostor = frechet_distance(*statistics(image_features(world, images)), *real)
        assert impostor > 50 * renders, (name, impostor, renders)  # measured: renders 1.1, impostors 159-213


def test_the_shipped_evaluator_clip_prefers_the_matching_caption():
    scorer = ClipScorer("world")
    rng = np.random.default_rng(0)
    prompts = world_prompts(100, "single") + world_prompts(50, "pair") + world_prompts(50, "count")
    images = [reference_image(p, i) for i, p in enumerate(prompts)]
    matching = np.array(scorer.score(images, prompts))
    other = np.array(scorer.score(images, [other_color(p, rng) for p in prompts]))
    assert (matching > other).mean() >= 0.97, (matching > other).mean()  # measured 1.0
    assert matching.mean() > other.mean() + 20  # measured: 87.7 vs 43.3


def test_clip_model_weights_score_as_open_clip_computes_it(tmp_path):
    """`--clip MODEL:WEIGHTS`: any open_clip architecture with a local file; here a tiny one registered for the test."""
    import open_clip

    config = {"embed_dim": 16, "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 8},
              "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}
    (tmp_path / "genbench-tiny-clip.json").write_text(json.dumps(config))
    open_clip.add_model_config(tmp_path / "genbench-tiny-clip.json")
    torch.manual_seed(0)
    model = open_clip.create_model("genbench-tiny-clip")
    torch.save(model.state_dict(), tmp_path / "weights.bin")
    scorer = ClipScorer(f"genbench-tiny-clip:{tmp_path / 'weights.bin'}")
    images, texts = [reference_image("a red circle", 0), reference_image("two blue squares", 1)], ["a red circle", "x"]
    scores = scorer.score(images, texts)
    _, _, preprocess = open_clip.create_model_and_transforms("genbench-tiny-clip", pretrained=str(tmp_path / "weights.bin"))
    with torch.no_grad():
        image = torch.nn.functional.normalize(model.encode_image(torch.stack([preprocess(i) for i in images])), dim=-1)
        text = torch.nn.functional.normalize(model.encode_text(open_clip.get_tokenizer("genbench-tiny-clip")(texts)), dim=-1)
    expected = [100 * max(c, 0.0) for c in (image * text).sum(-1).tolist()]
    assert scores == pytest.approx(expected, abs=1e-3)
    result = evaluation("run", "--models", "gan", "--clip", "ViT-B-32:/no/such/weights.bin", "--out", str(tmp_path / "r"))
    lines = result.stderr.strip().splitlines()
    assert result.returncode != 0 and len(lines) == 1 and "expected world or MODEL:WEIGHTS_FILE" in lines[0], result.stderr
