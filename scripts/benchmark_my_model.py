"""Benchmark your own model against the built-ins: a worked example of the Python API.

It wraps a diffusers text-to-image pipeline in a plain function generate(prompts, seed) -> list of PIL images
(one torch.Generator per image, so each image is reproducible on its own), then hands that function to
`evaluation.run` beside built-in generators. The run folder, metrics and report are those of
`python -m evaluation run`; the table is printed here.

    python scripts/benchmark_my_model.py --pipeline path/to/save_pretrained_folder
    python scripts/benchmark_my_model.py            # offline demo: a tiny untrained Stable Diffusion (expect ~0 %)

Passing the pipeline object itself (models=["gan", pipeline]) works too: GenBench then drives it with its own
sampler settings and guidance grid. The function below is the general recipe for anything that makes images.
"""
from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import evaluation  # noqa: E402


def load_pipeline(folder: str | None):
    """Your pipeline from a save_pretrained folder; without one, a tiny untrained Stable Diffusion built here."""
    if folder is not None:
        from diffusers import DiffusionPipeline
        return DiffusionPipeline.from_pretrained(folder)
    from models.tiny_hub import tiny_stable_diffusion
    return tiny_stable_diffusion(pathlib.Path(tempfile.mkdtemp(prefix="genbench-tiny-sd-")))


def wrap(pipeline, steps: int, guidance: float):
    """generate(prompts, seed): image i draws its noise from a generator seeded seed + i."""
    import torch

    pipeline.set_progress_bar_config(disable=True)

    def my_model(prompts: list[str], seed: int):
        generators = [torch.Generator().manual_seed(seed + index) for index in range(len(prompts))]
        return pipeline(prompt=list(prompts), num_inference_steps=steps, guidance_scale=guidance,
                        generator=generators, output_type="pil").images

    return my_model


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pipeline", default=None, help="a diffusers save_pretrained folder (default: a tiny "
                                                         "untrained Stable Diffusion, to show the plumbing offline)")
    parser.add_argument("--builtins", default="gan,ddpm", help="built-in generators to compare with (default gan,ddpm)")
    parser.add_argument("--prompts", default="shapes-quick", help="prompt set (default shapes-quick)")
    parser.add_argument("--n", type=int, default=1, help="samples per prompt (default 1)")
    parser.add_argument("--steps", type=int, default=20, help="your pipeline's sampling steps (default 20)")
    parser.add_argument("--guidance", type=float, default=3.0, help="guidance for every model (default 3)")
    parser.add_argument("--out", default="runs/my-model", help="run folder (default runs/my-model)")
    args = parser.parse_args(argv)

    my_model = wrap(load_pipeline(args.pipeline), args.steps, args.guidance)
    builtins = [name.strip() for name in args.builtins.split(",") if name.strip()]
    results = evaluation.run(models=[*builtins, my_model], prompts=args.prompts, guidance=[args.guidance],
                             n=args.n, out=args.out)
    columns = ["model", "setting", "n", "accuracy_single", "accuracy_pair", "accuracy_count", "accuracy_novel",
               "clip_score", "fid_world", "images_per_s"]
    print(" | ".join(columns))
    for row in results.table:
        print(" | ".join(_cell(row.get(column)) for column in columns))
    print(f"report: {results.report_md} (and report.html)")


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return "-" if value is None else str(value)


if __name__ == "__main__":
    main()
