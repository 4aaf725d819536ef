"""The Shapes world contract (docs/ARCHITECTURE.md, "The Shapes world")."""
import collections

import numpy as np
import pytest
import torch

from world.detector import detect
from world import COLORS, HELD_OUT, POSITIONS, SHAPES, SIZES, ShapesDataset, WorldObject, cell_center, geometric_centroid, parse_caption, render, sample_scene, scene_rng


def centroid(image):
    weight = np.asarray(image, dtype=np.float64).max(axis=2)  # [32,32]
    ys, xs = np.mgrid[0:32, 0:32]
    return (weight * (xs + 0.5)).sum() / weight.sum(), (weight * (ys + 0.5)).sum() / weight.sum()


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("size", list(SIZES))
def test_rendered_centroid_is_within_one_pixel_of_the_specified_centre(shape, size):
    rng = np.random.default_rng(0)
    for cell in POSITIONS:
        nx, ny = cell_center(size, cell)
        obj = WorldObject(shape, "red", size, cell, (nx + rng.uniform(-0.5, 0.5), ny + rng.uniform(-0.5, 0.5)))
        cx, cy = centroid(render([obj]))
        # circle, square and cross are symmetric about the centre; the apex-up triangle's area
        # centroid lies 0.2 r below it, which geometric_centroid accounts for
        gx, gy = geometric_centroid(obj)
        assert abs(cx - gx) <= 1 and abs(cy - gy) <= 1, (shape, size, cell, (cx, cy), (gx, gy))
        if shape != "triangle":
            assert abs(cx - obj.center[0]) <= 1 and abs(cy - obj.center[1]) <= 1


def test_canvas_is_black_32px_and_objects_have_their_palette_color():
    image = render([WorldObject("square", "blue", "large", (1, 1), (16.0, 16.0))])
    array = np.asarray(image)
    assert image.size == (32, 32) and image.mode == "RGB"
    assert tuple(array[0, 0]) == (0, 0, 0)
    assert tuple(array[16, 16]) == COLORS["blue"]


def test_held_out_pairs_never_appear_in_a_large_training_sample():
    seen = collections.Counter()
    for i in range(20_000):
        for obj in sample_scene(scene_rng(5, i)).objects:
            seen[(obj.color, obj.shape)] += 1
    assert not HELD_OUT & set(seen)
    assert len(seen) == len(COLORS) * len(SHAPES) - len(HELD_OUT)  # every held-in pair does appear


def test_scene_kinds_and_word_dropping_follow_the_contract():
    scenes = [sample_scene(scene_rng(6, i), version=1) for i in range(6000)]
    kinds = collections.Counter(s.kind for s in scenes)
    assert abs(kinds["single"] / 6000 - 0.5) < 0.03
    assert abs(kinds["pair"] / 6000 - 0.3) < 0.03
    singles = [parse_caption(s.caption) for s in scenes if s.kind == "single"]
    assert abs(sum(p["size"] is None for p in singles) / len(singles) - 0.5) < 0.04
    assert abs(sum(p["cell"] is None for p in singles) / len(singles) - 0.5) < 0.04


def test_captions_agree_with_their_objects():
    for i in range(2000):
        scene = sample_scene(scene_rng(7, i), version=1)  # version 2's kinds: tests/test_world_v2.py
        spec = parse_caption(scene.caption)
        assert spec is not None and spec["kind"] == scene.kind, scene.caption
        objs = scene.objects
        if scene.kind == "single":
            assert (spec["color"], spec["shape"]) == (objs[0].color, objs[0].shape)
            assert spec["size"] in (None, objs[0].size) and spec["cell"] in (None, objs[0].cell)
        elif scene.kind == "count":
            assert spec["count"] == len(objs) == len({o.cell for o in objs})
            assert all(o.size == "small" for o in objs)
        else:
            (a, b) = objs
            dx, dy = b.cell[0] - a.cell[0], b.cell[1] - a.cell[1]
            expected = {"to the left of": (dy == 0 and dx > 0), "to the right of": (dy == 0 and dx < 0),
                        "above": (dx == 0 and dy > 0), "below": (dx == 0 and dy < 0)}
            assert expected[spec["relation"]], (scene.caption, a.cell, b.cell)


def test_dataset_is_deterministic_by_seed_and_yields_ground_truth():
    a, b, c = ShapesDataset(seed=3), ShapesDataset(seed=3), ShapesDataset(seed=4)
    image, caption, objects = a[11]
    image2, caption2, objects2 = b[11]
    assert torch.equal(image, image2) and caption == caption2 and objects == objects2
    assert image.shape == (3, 32, 32) and -1 <= image.min() and image.max() <= 1
    assert any(not torch.equal(a[i][0], c[i][0]) for i in range(5))
    assert {"shape", "color", "size", "cell", "center"} <= set(objects[0])


def test_novel_scenes_use_only_held_out_pairs():
    for i in range(200):
        for obj in sample_scene(scene_rng(8, i), held_out=True).objects:
            assert (obj.color, obj.shape) in HELD_OUT


def test_detector_reads_rendered_ground_truth():
    right = 0
    for i in range(400):
        scene = sample_scene(scene_rng(9, i), drop_words=False)
        found = sorted((d.color, d.shape, d.size, d.cell) for d in detect(render(scene.objects)))
        right += found == sorted((o.color, o.shape, o.size, o.cell) for o in scene.objects)
    assert right / 400 >= 0.99
