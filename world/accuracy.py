"""Compositional accuracy of a generator on world prompts, judged by the world detector."""
from __future__ import annotations

from typing import Sequence

from PIL import Image

from collections import Counter

from world import PLURALS, POSITIONS, parse_caption, sample_scene, scene_rng, wanted_objects
from world.detector import Detection, detect
from world.placement import line_middle
from world.seeds import chunk_seed

EVAL_SEED = 2024  # world prompts for evaluation come from a stream that training never uses
# below this template IoU (world/detector.py shape_fit) the judge answers "unsure": on the hand-labelled audit set
# (tests/data/judge_audit: generated images where the fit was poorest) fits under it were blobs, merged or
# half-drawn objects whose verdict the eye could often not give either; clean renderings fit 0.75 or better
UNSURE_FIT = 0.43
PLACEHOLDER = "a red circle"  # what a prompt the planner refused is replaced by; its image is judged blank


def judge(caption: str, image: Image.Image) -> dict:
    """Does the image show what the caption asks? Keys: color_shape, full (and each attribute asked), and
    reason: "" when full, else what the detector saw that the caption did not ask ("color: saw blue")."""
    spec = parse_caption(caption)
    if spec is None:
        raise ValueError(f"not a world caption: {caption!r}")
    if image.size != (32, 32):  # the detector reads the world's 32x32 canvas; other generators are resized to it
        image = image.convert("RGB").resize((32, 32), Image.BICUBIC)
    found = detect(image)
    poor = [d for d in found if d.match < UNSURE_FIT]
    return unsure(verdict(spec, found), poor) if poor else verdict(spec, found)


def unsure(result: dict, poor: list[Detection]) -> dict:
    """The verdict when the detector's shape fit is poor: never right (every attribute False), `unsure` set, and
    the reason says which object fitted worst."""
    worst = min(poor, key=lambda d: d.match)
    answer = {key: False if isinstance(value, bool) else value for key, value in result.items()}
    return {**answer, "unsure": True,
            "reason": f"unsure: shape fit {worst.match:.2f} < {UNSURE_FIT} ({worst.color} {worst.shape})"}


def verdict(spec: dict, found: list[Detection]) -> dict:
    """The judge's answer for a parsed caption on objects already found (by the detector, or by a person's eye:
    world/hand_labels.py): the rules of a right image, apart from how the objects were seen."""
    if spec["kind"] == "single":
        return judge_single(spec, found)
    if spec["kind"] == "count":
        same = [d for d in found if (d.color, d.shape) == (spec["color"], spec["shape"])]
        right = len(same) == spec["count"] == len(found)
        return {"color_shape": bool(same) and len(same) == len(found), "count": right, "full": right,
                "reason": "" if right else f"saw {_seen(found)}"}
    if spec["kind"] == "pair":
        return judge_pair(spec, found)
    return judge_scene(spec, found)


def judge_scene(spec: dict, found: list[Detection]) -> dict:
    """The kinds of version 2: exactly the objects named and nothing else (`objects`), then what the kind adds:
    the line of three with the named object in the middle (`line`), or each object's size (`size`)."""
    objects = Counter((d.color, d.shape) for d in found) == wanted_objects(spec)
    result = {"color_shape": objects, "objects": len(found)}
    reason = "" if objects else f"saw {_seen(found)}"
    if spec["kind"] == "between":
        middle = line_middle(found)
        result["line"] = objects and middle == spec["middle"]
        if objects and not result["line"]:
            reason = f"middle: {' '.join(middle)}" if middle else "not in one row or column"
    elif spec["kind"] == "sizes":
        wrong = [f"{c} {s} {d.size}" for size, c, s in spec["objects"] for d in found
                 if (d.color, d.shape) == (c, s) and d.size != size]
        result["size"] = objects and not wrong
        if objects and wrong:
            reason = f"size: {', '.join(wrong)}"
    result["full"] = objects and result.get("line", True) and result.get("size", True)
    result["reason"] = reason
    return result


def _seen(found: list[Detection]) -> str:
    """What the detector found, as a reader would say it: "nothing", "2 objects (red circle, blue square)"."""
    if not found:
        return "nothing"
    counts: dict[tuple[str, str], int] = {}
    for d in found:
        counts[(d.color, d.shape)] = counts.get((d.color, d.shape), 0) + 1
    names = ", ".join(f"{n} {c} {PLURALS[s]}" if n > 1 else f"{c} {s}" for (c, s), n in counts.items())
    return f"{len(found)} object{'s' if len(found) > 1 else ''} ({names})"


def judge_single(spec: dict, found: list[Detection]) -> dict:
    one = found[0] if len(found) == 1 else None
    result = {"objects": len(found), "color": bool(one and one.color == spec["color"]),
              "shape": bool(one and one.shape == spec["shape"])}
    result["color_shape"] = result["color"] and result["shape"]
    full = result["color_shape"]
    if spec["size"] is not None:
        result["size"] = bool(one and one.size == spec["size"])
        full = full and result["size"]
    if spec["cell"] is not None:
        result["position"] = bool(one and one.cell == spec["cell"])
        full = full and result["position"]
    result["full"] = full
    result["reason"] = "" if full else _single_reason(result, one, found)
    return result


def _single_reason(result: dict, one: Detection | None, found: list[Detection]) -> str:
    if one is None:
        return f"saw {_seen(found)}"
    seen = {"color": one.color, "shape": one.shape, "size": one.size,
            "position": POSITIONS[one.cell].split(" ", 1)[1].removeprefix("the ") if "position" in result else None}
    return "; ".join(f"{key}: saw {seen[key]}" for key in ("color", "shape", "size", "position")
                     if result.get(key) is False)


def judge_pair(spec: dict, found: list[Detection]) -> dict:
    first = [d for d in found if (d.color, d.shape) == spec["first"]]
    second = [d for d in found if (d.color, d.shape) == spec["second"]]
    # any assignment of two distinct detections will do ("a blue triangle left of a blue triangle" is symmetric)
    pairs = [(a, b) for a in first for b in second if a is not b]
    both = len(found) == 2 and bool(pairs)

    def holds(a: Detection, b: Detection) -> bool:
        (ax, ay), (bx, by) = a.center, b.center
        return {"to the left of": ax < bx - 3, "to the right of": ax > bx + 3,
                "above": ay < by - 3, "below": ay > by + 3}[spec["relation"]]

    relation = both and any(holds(a, b) for a, b in pairs)
    if not both:
        reason = f"saw {_seen(found)}"
    else:
        reason = "" if relation else f"relation: {' '.join(spec['first'])} not {spec['relation']} {' '.join(spec['second'])}"
    return {"color_shape": both, "relation": relation, "full": both and relation, "reason": reason}


def world_prompts(n: int, kind: str = "single", seed: int = EVAL_SEED, held_out: bool = False,
                  every_word: bool = False) -> list[str]:
    """n world captions of one scene kind (single, pair, count or a version-2 kind such as count-high or multi),
    held-in color-shape pairs unless held_out;
    optional words (size, position) dropped as in training, or all given when every_word."""
    return [sample_scene(scene_rng(seed, i), kind=kind, held_out=held_out, drop_words=not every_word).caption
            for i in range(n)]


def single_prompts(n: int, seed: int = EVAL_SEED, held_out: bool = False) -> list[str]:
    return world_prompts(n, "single", seed, held_out)


def score(generator, prompts: Sequence[str], guidance: float, steps: int, sampler: str | None = None,
          seed: int = 0, batch: int = 16, targets: Sequence[str] | None = None, planner=None,
          options: dict | None = None) -> dict:
    """Generate one image per prompt (image i of one request, so seeds differ) and average the judgements.

    `sampler` None: the generator's own default (DDIM for the built-in diffusion families, Euler for a flow).
    `prompts` are what a person typed and `targets` the world captions the images are judged against
    (default: the prompts themselves). A `planner` rewrites each prompt first; a prompt it finds outside
    the world still gets an image, so the noise of the others does not move, but counts as wrong: it is sent
    as a placeholder world caption (a generator that plans for itself would refuse the text as typed).
    """
    prompts, targets = list(prompts), list(targets or prompts)
    sent, refused = list(prompts), [False] * len(prompts)
    if planner is not None:
        plans = [planner.plan(p) for p in prompts]
        sent = [plan.caption if plan.understood else PLACEHOLDER for plan in plans]
        refused = [not plan.understood for plan in plans]
    blank = Image.new("RGB", (32, 32))  # judged like an image with nothing in it: every attribute wrong
    judgements = []
    for start in range(0, len(prompts), batch):
        chunk = sent[start:start + batch]
        images = generator.generate(chunk, seed=chunk_seed(seed, start), steps=steps, guidance_scale=guidance, sampler=sampler,
                                    **(options or {}))
        judgements += [judge(t, blank if r else im)
                       for t, r, im in zip(targets[start:start + batch], refused[start:start + batch], images)]
    keys = sorted({k for j in judgements for k in j if k not in ("objects", "reason", "unsure")})
    result = {"n": len(judgements), **{k: round(sum(j[k] for j in judgements if k in j) /
                                                 max(1, sum(k in j for j in judgements)), 4) for k in keys}}
    result["unsure"] = round(sum(bool(j.get("unsure")) for j in judgements) / max(1, len(judgements)), 4)
    if planner is not None:
        result["planned"] = round(1 - sum(refused) / max(1, len(refused)), 4)
    return result


def single_object_accuracy(generator, n_prompts: int = 100, guidance: float = 3.0, steps: int = 50,
                           sampler: str | None = None) -> dict:
    return score(generator, single_prompts(n_prompts), guidance, steps, sampler)
