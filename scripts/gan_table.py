"""Compare trained GAN checkpoints: the loss x architecture table of the GAN family.

For each checkpoint folder (written by `python -m models train --model gan --out FOLDER ...`):
color-and-shape accuracy on held-in single-object prompts (world detector, bootstrap 95 % interval),
accuracy on all that the prompt asks, FID against images rendered from the same prompts (features:
the evaluator CLIP's image tower, `--features world`, as `python -m evaluation fid` computes it),
images/s, and the training budget the manifest records.

    python scripts/gan_table.py FOLDER [FOLDER ...] [--prompts 300] [--out table.md]
"""
from __future__ import annotations

import argparse
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from world.accuracy import judge, single_prompts  # noqa: E402
from evaluation.metrics.features import extractor, image_features, statistics  # noqa: E402
from evaluation.metrics.fid import frechet_distance  # noqa: E402
from evaluation.metrics.run_metrics import bootstrap  # noqa: E402
from evaluation.markdown_tables import markdown_row, markdown_table  # noqa: E402
from world.references import reference_image  # noqa: E402
from models.gan import family as gan  # noqa: E402
from models.checkpoints import read_manifest  # noqa: E402


def row(folder: pathlib.Path, prompts: list[str], features, real_stats) -> dict:
    manifest = read_manifest(folder)
    config = manifest["components"]["generator"]["config"]
    generator = gan.load(folder)
    generator.generate(prompts[:4], seed=0)  # warm-up
    started = time.perf_counter()
    images = generator.generate(prompts, seed=0)
    speed = len(images) / (time.perf_counter() - started)
    verdicts = [judge(p, im) for p, im in zip(prompts, images)]
    color_shape = bootstrap([float(v["color_shape"]) for v in verdicts])
    text_losses = config.get("contrastive_weight", 0) or config.get("mismatch", False)
    return {"arch": config["arch"], "loss": config["loss"], "text losses": "on" if text_losses else "off",
            "steps": manifest["training"]["steps"], "wall": manifest["training"]["wall_time_s"],
            "color_shape": color_shape, "full": float(np.mean([v["full"] for v in verdicts])),
            "fid": frechet_distance(*statistics(image_features(features, images)), *real_stats), "speed": speed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", help="GAN checkpoint folders")
    parser.add_argument("--prompts", type=int, default=300, help="held-in single-object prompts (default 300)")
    parser.add_argument("--out", default=None, help="also write the table to this markdown file")
    args = parser.parse_args()
    prompts = single_prompts(args.prompts)
    features = extractor("world")
    real_stats = statistics(image_features(features, [reference_image(p, i) for i, p in enumerate(prompts)]))
    header = ["arch", "loss", "text losses", "steps × 32", "train wall", "color+shape [95 % CI]", "all asked",
              "FID (world)", "img/s"]
    body = []
    for folder in args.folders:
        r = row(pathlib.Path(folder), prompts, features, real_stats)
        mean, low, high = r["color_shape"]
        body.append([str(r["arch"]), str(r["loss"]), r["text losses"], f"{r['steps']:,}", f"{r['wall'] / 60:.0f} min",
                     f"{100 * mean:.0f} % [{100 * low:.0f}, {100 * high:.0f}]", f"{100 * r['full']:.0f} %",
                     f"{r['fid']:.2f}", f"{r['speed']:.0f}"])
        print(markdown_row(body[-1]), flush=True)
    table = markdown_table(header, body)
    print(f"\n{len(prompts)} held-in single-object prompts, seed 0; FID against images rendered from the same "
          f"prompts, evaluator-CLIP features\n\n{table}")
    if args.out:
        pathlib.Path(args.out).write_text(table + "\n")


if __name__ == "__main__":
    main()
