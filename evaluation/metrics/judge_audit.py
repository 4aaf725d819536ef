"""python -m evaluation judge-audit [--n N] [--out DIR]: how far the judge (world/detector.py + world/accuracy.py)
can be trusted on images that are not clean renderings. `--labelled` checks it against hand labels of
generated images instead (evaluation/metrics/judge_by_eye.py).

N random world scenes (every optional word given, so size and position are judged too) are rendered and
perturbed at growing strengths: Gaussian pixel noise, Gaussian blur, JPEG compression, a color shift (every
channel moved by its own random offset), and a small scale (the image shrunk to fewer pixels and scaled back,
as a generator working at a lower resolution would). The table holds the share the judge passes at each
strength (strength 0: the clean rendering, where the judge should pass all) and the most common reason for the
failures at the strongest one. Two more tables: the share right at the strengths the judge is held to
(world/perturbations.py STRENGTHS, tested at >= 95 %), and how often it says yes where the answer is no
(blank canvases, noise, a rendering under a caption of another color).
"""
from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import pathlib
import sys

import numpy as np
from PIL import Image
from tqdm import tqdm

from world.perturbations import blur, jpeg, noise, rescale, tint

AUDIT_SEED = 4096  # the audit's scenes come from a stream that neither training nor evaluation uses


@dataclasses.dataclass(frozen=True)
class Perturbation:
    name: str
    unit: str  # what the strengths measure
    strengths: tuple[float, ...]  # the first is no perturbation at all


PERTURBATIONS = (
    Perturbation("gaussian noise", "pixel std (0-255)", (0, 8, 16, 32, 48, 64)),
    Perturbation("blur", "Gaussian radius (px)", (0, 0.5, 0.75, 1.0, 1.5, 2.0)),
    Perturbation("JPEG", "100 - quality", (0, 10, 30, 50, 70, 90)),
    Perturbation("color shift", "max channel offset (0-255)", (0, 10, 20, 40, 60, 80)),
    Perturbation("small scale", "32 - side shrunk to (px)", (0, 4, 8, 12, 16, 20)),
)


def perturb(image: Image.Image, name: str, strength: float, rng: np.random.Generator) -> Image.Image:
    """One perturbation of a 32x32 RGB image; strength 0 returns it unchanged."""
    if strength == 0:
        return image
    if name == "gaussian noise":
        return noise(image, strength, rng)
    if name == "blur":
        return blur(image, strength)
    if name == "JPEG":
        return jpeg(image, int(100 - strength))
    if name == "color shift":  # every channel moved by its own random offset
        return tint(image, tuple(rng.uniform(-strength, strength, size=3)))
    if name == "small scale":
        return rescale(image, int(32 - strength))
    raise ValueError(f"unknown perturbation {name!r}")


@dataclasses.dataclass(frozen=True)
class AuditRow:
    perturbation: str
    unit: str
    strengths: list[float]
    accuracy: list[float]  # share judged right at each strength
    top_reason: str  # the most common reason at the strongest level ("" when all passed)


def audit(n: int, seed: int = AUDIT_SEED, perturbations=PERTURBATIONS, progress: bool = True) -> list[AuditRow]:
    from world import render, sample_scene, scene_rng
    from world.accuracy import judge

    scenes = [sample_scene(scene_rng(seed, i), drop_words=False) for i in range(n)]
    clean = [render(scene.objects) for scene in scenes]
    bar = tqdm(total=n * sum(len(p.strengths) for p in perturbations), desc="judge audit", unit="img",
               disable=not progress)
    rows = []
    for p_index, p in enumerate(perturbations):
        accuracy, reasons = [], collections.Counter()
        for level, strength in enumerate(p.strengths):
            right = 0
            for i, (scene, image) in enumerate(zip(scenes, clean)):
                rng = np.random.default_rng([seed, i, p_index, level])  # each image's own noise
                verdict = judge(scene.caption, perturb(image, p.name, strength, rng))
                right += verdict["full"]
                if level == len(p.strengths) - 1 and not verdict["full"]:
                    reasons[_kind_of(verdict["reason"])] += 1
            accuracy.append(right / n)
            bar.update(n)
        top = reasons.most_common(1)
        rows.append(AuditRow(p.name, p.unit, list(p.strengths), accuracy,
                             f"{top[0][0]}: {top[0][1]} of {n}" if top else ""))
    bar.close()
    return rows


def held_strengths(n: int, seed: int = AUDIT_SEED, kinds: tuple[str, ...] | None = None) -> dict[str, float]:
    """Share of n scenes (words dropped as in the prompt sets; every kind of caption of the training mixture, or
    these kinds in turn) judged right in full, clean and at each strength of world/perturbations.py STRENGTHS."""
    from world import render, sample_scene, scene_rng
    from world.accuracy import judge
    from world.perturbations import STRENGTHS

    scenes = [sample_scene(scene_rng(seed, i), kind=kinds[i % len(kinds)] if kinds else None) for i in range(n)]
    cases = {"clean": lambda image, rng: image, **STRENGTHS}
    shares = {}
    for name, corrupt in tqdm(cases.items(), desc="held strengths", leave=False):
        rng = np.random.default_rng(seed)
        shares[name] = float(np.mean([judge(s.caption, corrupt(render(s.objects), rng))["full"] for s in scenes]))
    return shares


def false_yes(n: int, seed: int = AUDIT_SEED) -> dict[str, float]:
    """Share of "yes" (full) on n images each that show nothing their caption asks."""
    from world import render, sample_scene, scene_rng
    from world.accuracy import judge
    from world.perturbations import blank, noise_image, other_color

    rng = np.random.default_rng(seed)
    scenes = [sample_scene(scene_rng(seed, i)) for i in range(n)]
    cases = {"blank canvas, random color": [(s.caption, blank(tuple(int(v) for v in rng.integers(0, 256, 3))))
                                            for s in scenes],
             "uniform noise": [(s.caption, noise_image(rng)) for s in scenes],
             "smooth noise (blobs)": [(s.caption, noise_image(rng, smooth=1.5)) for s in scenes],
             "render, another color asked": [(other_color(s.caption, rng), render(s.objects)) for s in scenes]}
    return {name: float(np.mean([judge(caption, image)["full"] for caption, image in pairs]))
            for name, pairs in cases.items()}


def _kind_of(reason: str) -> str:
    """A reason without its particulars: 'color: saw blue' -> 'color', 'saw 2 objects (...)' -> 'saw 2 objects'."""
    first = reason.split(";")[0]
    return first.split(":")[0] if ":" in first else first.split(" (")[0]


def table(rows: list[AuditRow]) -> tuple[list[str], list[list[str]]]:
    levels = max(len(r.strengths) for r in rows)
    header = ["perturbation", "strength unit"] + [f"level {i}" for i in range(levels)] + ["most common failure, strongest"]
    body = [[r.perturbation, r.unit] + [f"{s:g}: {100 * a:.0f} %" for s, a in zip(r.strengths, r.accuracy)]
            + [r.top_reason or "–"] for r in rows]
    return header, body


def cmd_judge_audit(args: argparse.Namespace) -> None:
    if args.labelled:
        from evaluation.metrics import judge_by_eye

        print(judge_by_eye.summary(judge_by_eye.check(pathlib.Path(args.labelled))))
        return
    if not 1 <= args.n <= 10_000:
        print("error: --n must be from 1 to 10000 scenes", file=sys.stderr)
        raise SystemExit(2)
    rows = audit(args.n, args.seed)
    header, body = table(rows)
    widths = [max(len(c) for c in column) for column in zip(header, *body)]
    text = "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in [header, *body])
    print(f"judge accuracy on {args.n} rendered world scenes (seed {args.seed}) vs perturbation strength:\n{text}")
    from world import V1_KINDS, V2_KINDS

    held, said_yes = held_strengths(args.n, args.seed), false_yes(args.n, args.seed)
    tiers = {"v1 kinds": held_strengths(args.n, args.seed, V1_KINDS), "v2 kinds": held_strengths(args.n, args.seed, V2_KINDS)}
    print(f"\nright in full at the strengths the judge is held to (>= 95 %), {args.n} scenes of the training mixture "
          f"and {args.n} of each world version's kinds in turn:")
    print(f"  {'':<28} {'mixture':>8} {'v1 kinds':>9} {'v2 kinds':>9}")
    print("\n".join(f"  {name:<28} {100 * share:7.2f}% {100 * tiers['v1 kinds'][name]:8.2f}% "
                    f"{100 * tiers['v2 kinds'][name]:8.2f}%" for name, share in held.items()))
    print("said yes where the answer is no:")
    print("\n".join(f"  {name:<28} {100 * share:6.2f} %" for name, share in said_yes.items()))
    if args.out:
        from evaluation.markdown_tables import markdown_table
        from models.files import atomic_write

        out = pathlib.Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write(out / "judge_audit.json", json.dumps({"n": args.n, "seed": args.seed,
                                                           "rows": [dataclasses.asdict(r) for r in rows],
                                                           "held_strengths": held, "held_by_version": tiers,
                                                           "false_yes": said_yes}, indent=1))
        atomic_write(out / "judge_audit.md", f"# Judge audit\n\n{args.n} rendered world scenes, seed {args.seed}: "
                                             f"share judged right at each strength.\n\n{markdown_table(header, body)}\n\n"
                                             "Right in full at the strengths the judge is held to:\n\n"
                                             + markdown_table(["corruption", "right (mixture)", "v1 kinds", "v2 kinds"],
                                                              [[k, f"{100 * v:.1f} %", f"{100 * tiers['v1 kinds'][k]:.1f} %",
                                                                f"{100 * tiers['v2 kinds'][k]:.1f} %"] for k, v in held.items()])
                                             + "\n\nSaid yes where the answer is no:\n\n"
                                             + markdown_table(["image", "yes"], [[k, f"{100 * v:.1f} %"] for k, v in said_yes.items()]) + "\n")
        print(f"wrote {out / 'judge_audit.md'} and judge_audit.json")


def add_parser(sub) -> None:
    p = sub.add_parser("judge-audit", help="the judge's accuracy on rendered scenes under growing perturbations",
                       description="Render N random world scenes, perturb them at growing strengths (noise, blur, "
                                   "JPEG, color shift, small scale) and report the share the judge (the world "
                                   "detector) still passes at each strength, with the most common failure.")
    p.add_argument("--n", type=int, default=200, help="scenes per strength (default 200)")
    p.add_argument("--seed", type=int, default=AUDIT_SEED, help=f"scene stream (default {AUDIT_SEED})")
    p.add_argument("--out", default=None, help="also write judge_audit.md and judge_audit.json to this folder")
    p.add_argument("--labelled", nargs="?", const="tests/data/judge_audit", default=None, metavar="DIR",
                   help="instead: the judge against hand labels of generated images (labels.jsonl in DIR, default "
                        "tests/data/judge_audit): right, wrong, unsure and every disagreement")
    p.set_defaults(run=cmd_judge_audit)
