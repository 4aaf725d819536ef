"""What the judge says about a demo image: the world caption it reads, its verdict as one line, and the
world's own rendering of that caption (ground truth beside the generators)."""
from __future__ import annotations

from PIL import Image

from world import HELD_OUT, caption_task, parse_caption
from world.accuracy import judge
from world.references import reference_image

# the attributes judge() reports when asked ("line": the named object in the middle of a line of three)
CHECKS = ("color", "shape", "size", "position", "relation", "count", "line")


def world_caption(prompt: str, plan) -> str | None:
    """The world caption an image is judged against: the planner's caption when it understood the prompt, the
    prompt itself when it is one; None when there is nothing to judge against."""
    if plan is not None and plan.understood:
        return plan.caption
    return " ".join(prompt.lower().split()) if parse_caption(prompt) else None


def category(prompt: str, caption: str | None) -> str:
    """The arena's task of a prompt: a world task (single, pair, count, count-high, multi, mixed, between,
    sizes, or novel: a held-out color-shape pair alone) for a world caption typed as such, free text for
    anything the planner had to read."""
    spec = parse_caption(prompt)
    if spec is None or caption is None:
        return "free text"
    if spec["kind"] == "single" and (spec["color"], spec["shape"]) in HELD_OUT:
        return "novel"
    return caption_task(prompt)


def verdict(caption: str | None, image: Image.Image | None) -> dict | None:
    """world.accuracy.judge's verdict on the image, or None when there is no caption or no image."""
    return None if caption is None or image is None else judge(caption, image)


def verdict_line(result: dict | None) -> str:
    """One line of Markdown: ✓ or ✗, what the detector saw, and each attribute asked."""
    if result is None:
        return "No verdict: the prompt is outside the Shapes world."
    asked = {key: result[key] for key in CHECKS if key in result}
    if "color" not in result:  # every kind but a single: were exactly the named objects there?
        asked = {"objects": result["color_shape"], **asked}
    checks = " · ".join(f"{key} {'✓' if ok else '✗'}" for key, ok in asked.items())
    if result["full"]:
        return f"✓ **shows all that was asked** ({checks})"
    seen = result.get("reason") or f"{result.get('objects', '?')} objects seen"
    return f"✗ **{seen}** ({checks})"


def world_tile(caption: str | None, seed: int) -> Image.Image | None:
    """The world's own rendering of the caption for this seed (what it leaves open drawn from the seed)."""
    return None if caption is None else reference_image(caption, seed)
