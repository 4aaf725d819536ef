"""The world detector: find the objects in a 32x32 Shapes image (color, shape, size, cell, centre).

Foreground is whatever differs from the image's background color (its per-channel
median: black for rendered scenes, and whatever faint tint or residual noise a
generator leaves) by more than a threshold; it is split into connected components; a component whose brightest
pixels disagree in color is grain and dropped; each other component's color is the palette color nearest to
its brightest pixels minus the background (a tint comes off, a dimmer drawing keeps its hue), and its shape
and size come from matching its coverage map against templates rendered by the world's own renderer, aligned
on the component's centroid. How right it is, clean and under noise, blur, tint, JPEG and shifts:
`python -m evaluation judge-audit`.
"""
from __future__ import annotations

import dataclasses
import functools

import numpy as np
from PIL import Image
from scipy import ndimage

from world import COLORS, SHAPES, SIZES, WorldObject, cell_center, geometric_centroid, render

FOREGROUND = 120  # a pixel whose largest channel differs from the background's by more is object
MIN_PIXELS = 10  # smaller specks are noise, not objects (a small triangle covers about 20)
# an object's brightest pixels share one color: their mean distance from it is ~0 rendered, <= 47 under noise
# of sigma 25, <= 37 in the shipped models' images; a speck of uniform noise spreads 70 or more
MAX_SPREAD = 60.0
PALETTE = np.array(list(COLORS.values()), dtype=np.float32)  # [7, 3]
PALETTE_NAMES = list(COLORS)
DIMMING = (0.7, 1.15)
# drawings a little smaller or larger than the world's keep their shape: on the hand-labelled audit set
# (tests/data/judge_audit) small squares drawn soft or 10 % off in size read as circles at scale 1 alone
SCALES = (0.85, 0.9, 1.0, 1.1, 1.15)  # how much dimmer or brighter than the palette a drawn color may be and keep its name


@dataclasses.dataclass(frozen=True)
class Detection:
    color: str
    shape: str
    size: str
    cell: tuple[int, int]
    center: tuple[float, float]  # estimated shape centre (x, y), pixels
    pixels: int
    match: float  # template IoU in [0, 1]


@functools.lru_cache(maxsize=None)
def _template(shape: str, size: str, dx: int, dy: int, scale: float = 1.0) -> np.ndarray:
    """Coverage map [32,32] in [0,1] of a white shape whose area centroid is at (16 + dx/4, 16 + dy/4), drawn
    `scale` times the world's size (resampled about its centroid)."""
    probe = WorldObject(shape, "red", size, (1, 1), (16.0, 16.0))
    gx, gy = geometric_centroid(probe)
    cx, cy = 16.0 + (16.0 - gx) + dx / 4, 16.0 + (16.0 - gy) + dy / 4
    image = render([WorldObject(shape, "red", size, (1, 1), (cx, cy))])
    coverage = np.asarray(image, dtype=np.float32).max(axis=2) / 255.0 * 255 / max(COLORS["red"])
    if scale == 1.0:
        return coverage
    centre = np.array([cy, cx]) - 0.5  # array coordinates of the centroid
    return np.clip(ndimage.affine_transform(coverage, np.eye(2) / scale, offset=centre - centre / scale, order=1), 0, 1)


def shape_fit(coverage: np.ndarray, cx: float, cy: float) -> tuple[float, str, str]:
    """(IoU, shape, size) of the template that best covers `coverage` [32,32] with its centroid at (cx, cy): the
    detector's shape fit. Each shape is tried at SCALES of each size, so a drawing a little larger or smaller than
    the world's keeps its shape (a small square drawn 10 % large covers a circle's pixels as well as a square's)."""
    # sub-pixel phase of the centroid picks the template; the integer part is a shift
    dx, dy = round((cx - round(cx)) * 4), round((cy - round(cy)) * 4)
    best = None
    for shape in SHAPES:
        for size in SIZES:
            for scale in SCALES:
                template = _shifted(_template(shape, size, dx, dy, scale), round(cx), round(cy))
                iou = float(np.minimum(coverage, template).sum() / max(np.maximum(coverage, template).sum(), 1e-6))
                if best is None or iou > best[0]:
                    best = (iou, shape, size)
    return best


def _shifted(template: np.ndarray, x: float, y: float) -> np.ndarray:
    """Move a template centred at (16, 16) so its centre is at (x, y), rounding to whole pixels."""
    return ndimage.shift(template, (round(y - 16), round(x - 16)), order=0, mode="constant")


def detect(image: Image.Image | np.ndarray) -> list[Detection]:
    rgb = np.asarray(image, dtype=np.float32)[..., :3]  # [32,32,3]
    background = np.median(rgb.reshape(-1, 3), axis=0)  # [3]; objects cover well under half the canvas
    brightness = np.abs(rgb - background).max(axis=2)  # [32,32], distance from the background
    found = []
    for mask in _object_masks(rgb, background, brightness):
        pixels = int(mask.sum())
        values = rgb[mask]  # [N,3]
        core = values[brightness[mask] >= np.median(brightness[mask])]
        # objects are drawn over black: what a tint or a faint generator background adds to every pixel comes off
        mean = core.mean(axis=0) - background
        color = nearest_color(mean)
        # coverage of this component alone, normalised by its own peak brightness
        # (as the sum over channels: JPEG keeps luma sharp but halves chroma, so one channel alone blurs)
        total = np.abs(rgb - background).sum(axis=2)  # [32,32]
        coverage = np.where(ndimage.binary_dilation(mask, iterations=1), total, 0) / max(total[mask].max(), 1)
        ys, xs = np.nonzero(coverage > 0)
        weights = coverage[ys, xs]
        cx, cy = float((weights * (xs + 0.5)).sum() / weights.sum()), float((weights * (ys + 0.5)).sum() / weights.sum())
        iou, shape, size = shape_fit(coverage, cx, cy)
        # the triangle's area centroid sits 0.2 r below its specified centre
        centre_y = cy - (0.2 * SIZES[size] / 2 if shape == "triangle" else 0.0)
        cell = _nearest_cell(size, cx, centre_y)
        found.append(Detection(color, shape, size, cell, (cx, centre_y), pixels, iou))
    return found


def _object_masks(rgb: np.ndarray, background: np.ndarray, brightness: np.ndarray) -> list[np.ndarray]:
    """Masks [32,32] of the drawn objects: connected foreground that is big enough and of one color. Two objects
    of different colors that touch (crosses in neighbouring cells can, by a pixel) are split by color."""
    labels, count = ndimage.label(brightness > FOREGROUND, structure=np.ones((3, 3)))
    masks = []
    for label in range(1, count + 1):
        mask = labels == label
        if mask.sum() < MIN_PIXELS:
            continue
        if _one_color(rgb, brightness, mask):
            masks.append(mask)
            continue
        # pixels of several colors: two touching objects, or grain (whose single-color pieces are specks)
        names = _nearest_colors(rgb[mask] - background)  # [N]
        for name in np.unique(names):
            part = np.zeros_like(mask)
            part[mask] = names == name
            pieces, n = ndimage.label(part, structure=np.ones((3, 3)))
            masks += [piece for piece in (pieces == k for k in range(1, n + 1))
                      if piece.sum() >= MIN_PIXELS and _one_color(rgb, brightness, piece)]
    return masks


def _one_color(rgb: np.ndarray, brightness: np.ndarray, mask: np.ndarray) -> bool:
    """Do the brightest half of the mask's pixels share one color (the anti-aliased edges are left out)?"""
    core = rgb[mask][brightness[mask] >= np.median(brightness[mask])]
    return bool(np.linalg.norm(core - core.mean(axis=0), axis=1).mean() <= MAX_SPREAD)


def _nearest_colors(rgb: np.ndarray) -> np.ndarray:
    """nearest_color for every row of rgb [N,3] -> palette indices [N]."""
    scale = np.clip(rgb @ PALETTE.T / (PALETTE ** 2).sum(axis=1), *DIMMING)  # [N,7]
    return np.argmin(((PALETTE[None] * scale[..., None] - rgb[:, None]) ** 2).sum(axis=2), axis=1)


def nearest_color(rgb: np.ndarray) -> str:
    """The palette color nearest to `rgb` [3] once each palette color is scaled to it (within DIMMING): a color
    drawn dimmer or brighter keeps its hue, so darkened yellow stays yellow rather than nearing orange."""
    scale = np.clip(PALETTE @ rgb / (PALETTE ** 2).sum(axis=1), *DIMMING)  # [7], the best factor per color
    return PALETTE_NAMES[int(np.argmin(((PALETTE * scale[:, None] - rgb) ** 2).sum(axis=1)))]


def _nearest_cell(size: str, x: float, y: float) -> tuple[int, int]:
    centres = {cell: cell_center(size, cell) for cell in [(gx, gy) for gx in range(3) for gy in range(3)]}
    return min(centres, key=lambda c: (centres[c][0] - x) ** 2 + (centres[c][1] - y) ** 2)
