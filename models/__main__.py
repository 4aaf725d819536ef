"""python -m models list | sample | train | plan — see --help of each."""
from __future__ import annotations

import argparse

from models import cli
from models.acceleration import PRECISIONS
from models.contract import MAX_GUIDANCE, MAX_STEPS
from models.devices import DEVICE_HELP


def _add_plan(sub) -> None:
    p = sub.add_parser("plan", help="rewrite free text into a world caption (exit 3 when outside the world)",
                       description="Rewrite free text into a canonical Shapes-world caption. Prints the caption "
                                   "(exit 0), or one line saying what is outside the world (exit 3).")
    p.add_argument("text", help='what a person typed, e.g. "draw a crimson ball up in the left corner"')
    p.add_argument("--planner", default="rules",
                   help="rules (default, offline) | none | lm:PATH (local transformers causal LM) | "
                        "chat:URL[#MODEL] (OpenAI-compatible endpoint; key from $OPENAI_API_KEY)")
    p.add_argument("--json", action="store_true",
                   help="print the whole plan as JSON: caption, notes, what the text fixes ('constraints') and the "
                        "complete layout of image INDEX under SEED ('layout': every object with size, cell and box)")
    p.add_argument("--seed", type=int, default=0, help="the request seed whose free layout choices to show (default 0)")
    p.add_argument("--index", type=int, default=0, help="which image of that request (default 0)")
    p.set_defaults(run=cli.cmd_plan)


def _add_train(sub) -> None:
    p = sub.add_parser("train", help="train a component; resumes from OUT/train_state")
    p.add_argument("--model", required=True,  # the names of models.trainables.TRAINABLES (a test keeps them in step)
                   help="text-encoder | ddpm | vae | ldm | dit | dit-layout | flow | text-t5 | dit-t5 | gan | gan-layout "
                        "| clip-evaluator | vq | ar; with no other flag, the recipe of the shipped NAME")
    p.add_argument("--preset", default=None, metavar="NAME",
                   help="the named recipe; ddpm: small (epsilon, cross-attention only) | small-pooled (+ pooled text "
                        "vector) | small-v (default, as shipped: + v-prediction, zero terminal SNR, trailing "
                        "timesteps); ldm, dit: small (epsilon, Min-SNR-5) | small-v (default: the ddpm's v recipe; "
                        "the U-Net also takes the pooled text vector); gan, gan-layout: dcgan (default, as shipped: "
                        "non-saturating loss, text losses on) | dcgan-minimax | dcgan-wgan | dcgan-wgan-gp | "
                        "stylegan2 | stylegan2-minimax | stylegan2-wgan | stylegan2-wgan-gp | dcgan-no-text-losses")
    p.add_argument("--steps", type=int, default=None, help="total optimiser steps (default: the preset's)")
    p.add_argument("--batch-size", type=int, default=None, help="images per step (default: the preset's)")
    p.add_argument("--lr", type=float, default=None, help="peak learning rate (default: the preset's)")
    p.add_argument("--cooldown", type=int, default=None, metavar="STEPS",
                   help="decay the learning rate linearly to 10%% over the last STEPS steps (default: the preset's)")
    p.add_argument("--out", default=None, help="checkpoint folder (default: models/checkpoints/NAME)")
    p.add_argument("--init-from", default=None, metavar="DIR",
                   help="start from another exported checkpoint's weights (e.g. to train a shipped model longer; gan-layout: the shipped gan by default); "
                        "ignored when OUT/train_state exists (that resumes)")
    p.set_defaults(run=cli.cmd_train)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m models", description="GenBench generators: list, sample, train, plan.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="every registered generator with family, parameters and GFLOPs")
    p.set_defaults(run=cli.cmd_list)

    p = sub.add_parser("sample", help="write N images for one prompt as PNGs")
    p.add_argument("--model", required=True,
                   help="generator name (see `python -m models list`) or hub:<diffusers-repo-id-or-folder>")
    p.add_argument("--device", default="auto", help=DEVICE_HELP)
    p.add_argument("--prompt", required=True, help="caption, e.g. 'a large red circle in the center'")
    p.add_argument("--n", type=int, default=8, help="number of images (default 8)")
    p.add_argument("--seed", type=int, default=0, help="image i depends only on (seed, i, prompt, settings)")
    p.add_argument("--steps", type=int, default=None, help=f"sampling steps, 1 to {MAX_STEPS} (default: the model's)")
    p.add_argument("--guidance", type=float, default=None,
                   help=f"classifier-free guidance scale, 0 to {MAX_GUIDANCE:g} (default: the model's)")
    p.add_argument("--truncation", type=float, default=None, metavar="PSI",
                   help="GANs only: truncation psi in [0, 2], the fidelity/diversity knob (default 1: none)")
    p.add_argument("--temperature", type=float, default=None,
                   help="autoregressive models (ar) only: divide the logits by T before sampling (default: the model's)")
    p.add_argument("--top-k", type=int, default=None, metavar="K",
                   help="autoregressive models (ar) only: sample among the K most likely codes, 0 = all (default: "
                        "the model's)")
    p.add_argument("--handoff", type=float, default=None, metavar="H",
                   help="ar+dit only: the share of dit's schedule that finishes ar's draft, 0 (the draft as drawn) to "
                        "1 (the draft ignored) (default: the model's, 0.8)")
    p.add_argument("--sampler", default=None, help="ddpm | ddim | dpm++ for the noise-schedule families, euler | heun for flow; hub models: default | ddim | dpm++ (default: the model's own)")
    p.add_argument("--layout", choices=("planner", "none"), default=None,
                   help="layout-aware models (dit-layout, gan-layout) only: planner (default: the planner's layout, as "
                        "grounding tokens for dit-layout, written into the caption for gan-layout) | none (the caption "
                        "alone: the ablation)")
    p.add_argument("--batch-size", default=None, metavar="B",
                   help="images computed together (default: 16 on CPU, 64 on CUDA); a fixed B gives bitwise-identical "
                        "images, another B equal ones to within 1/255")
    p.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="CUDA autocast: auto (bf16 where supported, else fp16; default) | fp32 | fp16 | bf16; CPU: fp32")
    p.add_argument("--compile", action="store_true", help="torch.compile the network first (pays off on long GPU runs)")
    p.add_argument("--out", required=True, help="folder to write 000.png, 001.png, ... into")
    p.set_defaults(run=cli.cmd_sample)

    _add_train(sub)

    _add_plan(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
