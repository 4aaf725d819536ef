"""The built-in Shapes world, the ground floor: objects, rendering, captions, scenes and the judge.

Nothing here imports the rest of the project. Its exact specification is in docs/ARCHITECTURE.md.
"""
from world.captions import count_caption, pair_caption, parse_caption, single_caption
from world.scenes import ShapesDataset, collate, color_shape_pairs, make_object, sample_scene, scene_rng
from world.shapes import (COLORS, DROP_POSITION, DROP_SIZE, HELD_OUT, NUMBERS, PLURALS, POSITIONS, RELATIONS,
                          SCENE_KINDS, SHAPES, SIZE, SIZES, SUPERSAMPLE, WORLD_VERSION, Scene, WorldObject,
                          cell_center, geometric_centroid, jitter, render, shape_polygons, to_image, to_tensor)

__all__ = [
    "count_caption",
    "pair_caption",
    "parse_caption",
    "single_caption",
    "ShapesDataset",
    "collate",
    "color_shape_pairs",
    "make_object",
    "sample_scene",
    "scene_rng",
    "COLORS",
    "DROP_POSITION",
    "DROP_SIZE",
    "HELD_OUT",
    "NUMBERS",
    "PLURALS",
    "POSITIONS",
    "RELATIONS",
    "SCENE_KINDS",
    "SHAPES",
    "SIZE",
    "SIZES",
    "SUPERSAMPLE",
    "WORLD_VERSION",
    "Scene",
    "WorldObject",
    "cell_center",
    "geometric_centroid",
    "jitter",
    "render",
    "shape_polygons",
    "to_image",
    "to_tensor",
]
