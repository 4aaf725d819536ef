"""A fixed grid of world prompts, for training previews and quick looks."""
from __future__ import annotations

from PIL import Image

GRID_PROMPTS = [
    "a large red circle in the center", "a small blue square in the top left", "a large green triangle",
    "a small yellow circle at the bottom", "a purple cross on the right", "a cyan triangle in the bottom right",
    "a red square to the left of a blue circle", "two orange squares",
]


def grid_of(generator, steps: int = 25, guidance: float = 3.0, seeds: int = 4, scale: int = 2) -> Image.Image:
    """Rows: GRID_PROMPTS; columns: seeds 0..seeds-1 (image i of the request)."""
    rows = [generator.generate([p] * seeds, seed=0, steps=steps, guidance_scale=guidance) for p in GRID_PROMPTS]
    size = generator.info.resolution
    grid = Image.new("RGB", (seeds * size, len(rows) * size))
    for r, row in enumerate(rows):
        for c, image in enumerate(row):
            grid.paste(image, (c * size, r * size))
    return grid.resize((grid.width * scale, grid.height * scale), Image.NEAREST)
