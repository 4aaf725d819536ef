"""Property-based tests (hypothesis) of the parsers: prompt files, world captions, images.csv, GenEval folders'
metadata, and the flag types. Each either reads its input or refuses it with its own one-line error, never
anything else; what the project writes reads back as it was.

Few examples by default, so the suite stays quick; GENBENCH_HYPOTHESIS=soak runs 2,000 of each."""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
import pathlib
import re
import tempfile
from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from PIL import Image

from demo.port import MAX_PORT, port_number
from evaluation import arguments
from evaluation.prompts import PromptItem, PromptSetError, load_prompts
from evaluation.runs.image_folders import ImageFolderError, export_prompts, read_folder
from models.contract import MAX_GUIDANCE, MAX_SEED, MAX_STEPS, GenerationError, check_batch_size
from world import parse_caption, wanted_objects
from world.captions import caption_task
from world.scenes import sample_scene
from world.shapes import COLORS, NUMBERS, PLURALS, POSITIONS, RELATIONS, SHAPES

QUICK = dict(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("quick", max_examples=25, **QUICK)
settings.register_profile("soak", max_examples=2000, **QUICK)
settings.load_profile(os.environ.get("GENBENCH_HYPOTHESIS", "quick"))

KINDS = ("single", "pair", "count", "count-high", "multi", "mixed", "between", "sizes")
# the world's words and the punctuation its grammar uses: random captions that get deep into the parser
WORDS = [*COLORS, *SHAPES, *PLURALS.values(), *NUMBERS.values(), *POSITIONS.values(), *RELATIONS, "a", "an", "and",
         "between", "small", "large", ",", "A", "  "]
# one-line text: no character str.splitlines breaks on, no surrogate, no byte-order mark
LINE_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="\ufeff"),
                    max_size=60)
FILE_TEXT = st.lists(st.sampled_from([*"ab ,;\"'\t\r\n{}[]:#=\\x0\u00b2\u00e9\u2028", "prompt", "category", "tag",
                                      "file", "seed", "a.png", "\"prompt\": ", "a red circle"]),
                     max_size=60).map("".join)


def one_line(error: Exception) -> None:
    assert str(error) and "\n" not in str(error) and "\r" not in str(error), repr(str(error))


def normalised(text: str) -> str:
    return " ".join(text.split())


# ---------------------------------------------------------------- prompt files
@given(prompts=st.lists(LINE_TEXT.filter(lambda t: normalised(t) and not t.lstrip().startswith("#")), min_size=1,
                        max_size=8),
       newline=st.sampled_from(["\n", "\r\n"]), encoding=st.sampled_from(["utf-8", "utf-8-sig"]))
def test_a_text_prompt_file_reads_back_its_prompts_whatever_the_line_ending_or_bom(prompts, newline, encoding):
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / "prompts.txt"
        path.write_bytes(newline.join(prompts).encode(encoding))
        assert [item.prompt for item in load_prompts(str(path))] == [normalised(p) for p in prompts]


@given(prompts=st.lists(LINE_TEXT.filter(normalised), min_size=1, max_size=5))
def test_a_utf16_prompt_file_is_one_line_saying_not_utf8(prompts):
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / "prompts.txt"
        path.write_text("\n".join(prompts), encoding="utf-16")  # with its byte-order mark, as editors write it
        with pytest.raises(PromptSetError, match="not UTF-8 text"):
            load_prompts(str(path))


@given(content=st.binary(max_size=300) | FILE_TEXT.map(str.encode), suffix=st.sampled_from([".txt", ".csv", ".tsv",
                                                                                            ".jsonl"]))
def test_any_prompt_file_loads_or_is_refused_in_one_line(content, suffix):
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / f"prompts{suffix}"
        path.write_bytes(content)
        try:
            items = load_prompts(str(path))
        except PromptSetError as error:
            one_line(error)
            return
    assert items and all(isinstance(i, PromptItem) and i.prompt == normalised(i.prompt) for i in items)


# ---------------------------------------------------------------- world captions
@given(seed=st.integers(0, 2**32 - 1), kind=st.sampled_from(KINDS), drop_words=st.booleans())
def test_every_caption_the_world_writes_parses_back_to_its_scene(seed, kind, drop_words):
    scene = sample_scene(np.random.default_rng(seed), kind, drop_words=drop_words)
    spec = parse_caption(scene.caption)
    assert spec is not None, scene.caption
    assert wanted_objects(spec) == Counter((o.color, o.shape) for o in scene.objects)
    assert caption_task(scene.caption) == kind
    assert spec["kind"] == kind.removesuffix("-high")
    shouted = "  " + scene.caption.upper().replace(" ", "   ") + " "
    assert parse_caption(shouted) == spec and parse_caption(re.sub(r"\ban\b", "a", scene.caption)) == spec
    if kind == "single":
        [obj] = scene.objects
        assert spec["size"] in (None, obj.size) and spec["cell"] in (None, obj.cell)


@given(text=st.text(max_size=200) | st.lists(st.sampled_from(WORDS), max_size=16).map(" ".join))
def test_parse_caption_reads_any_text_as_a_world_spec_or_none(text):
    spec = parse_caption(text)
    if spec is not None:
        assert all(color in COLORS and shape in SHAPES for color, shape in wanted_objects(spec))
        assert 1 <= sum(wanted_objects(spec).values()) <= 5


# ---------------------------------------------------------------- images.csv and GenEval folders
def image_folder(folder: pathlib.Path) -> pathlib.Path:
    Image.new("RGB", (32, 32)).save(folder / "a.png")
    return folder


@given(content=st.binary(max_size=300) | FILE_TEXT.map(lambda t: ("file,prompt,seed\n" + t).encode()))
def test_any_images_csv_places_its_images_or_is_refused_in_one_line(content):
    with tempfile.TemporaryDirectory() as folder:
        folder = image_folder(pathlib.Path(folder))
        (folder / "images.csv").write_bytes(content)
        try:
            placed = read_folder(folder, [PromptItem("a red circle", "single", "a red circle")])
        except ImageFolderError as error:
            one_line(error)
            return
    assert all(image.prompt_index == 0 and (image.seed is None or 0 <= image.seed <= MAX_SEED) for image in placed)


@given(prompts=st.lists(LINE_TEXT.map(normalised).filter(bool), min_size=1, max_size=6, unique=True),
       rows=st.lists(st.tuples(st.integers(0, 5), st.none() | st.integers(0, MAX_SEED)), min_size=1, max_size=12))
def test_images_csv_written_by_csv_places_each_row_at_its_prompt_and_sample(prompts, rows):
    items = [PromptItem(prompt, "all") for prompt in prompts]
    rows = [(index % len(items), seed) for index, seed in rows]
    with tempfile.TemporaryDirectory() as folder:
        folder = image_folder(pathlib.Path(folder))
        with open(folder / "images.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["file", "prompt", "seed"])
            writer.writerows(["a.png", prompts[index], "" if seed is None else seed] for index, seed in rows)
        placed = read_folder(folder, items)
    counts: Counter = Counter()
    for image, (index, seed) in zip(placed, rows, strict=True):
        assert (image.prompt_index, image.sample, image.seed) == (index, counts[index], seed)
        counts[index] += 1


@given(content=st.binary(max_size=200) | FILE_TEXT.map(str.encode))
def test_any_geneval_metadata_places_its_samples_or_is_refused_in_one_line(content):
    with tempfile.TemporaryDirectory() as folder:
        samples = pathlib.Path(folder) / "00000" / "samples"
        samples.mkdir(parents=True)
        image_folder(samples)
        (samples.parent / "metadata.jsonl").write_bytes(content)
        try:
            placed = read_folder(pathlib.Path(folder), [PromptItem("a red circle", "single", "a red circle")])
        except ImageFolderError as error:
            one_line(error)
            return
    assert [image.prompt_index for image in placed] == [0]


@given(prompts=st.lists(LINE_TEXT.map(normalised).filter(bool), min_size=1, max_size=5, unique=True))
def test_a_set_exported_in_genevals_layout_reads_back_prompt_by_prompt(prompts):
    items = [PromptItem(prompt, "all") for prompt in prompts]
    with tempfile.TemporaryDirectory() as folder:
        out = pathlib.Path(folder) / "set"
        assert export_prompts(items, out) == len(items)
        for j in range(len(items)):
            image_folder(out / f"{j:05d}" / "samples")
        for j, line in enumerate((out / "evaluation_metadata.jsonl").read_text(encoding="utf-8").splitlines()):
            assert json.loads(line)["prompt"] == prompts[j]
        assert [image.prompt_index for image in read_folder(out, items)] == list(range(len(items)))


# ---------------------------------------------------------------- flag types
def parsed_or_refused(parse, text: str, error=argparse.ArgumentTypeError):
    """parse(text), or None when it refuses with its own one-line error."""
    try:
        return parse(text)
    except error as refused:
        one_line(refused)
        return None


@given(text=st.text(max_size=30) | st.integers(-2**40, 2**40).map(str))
def test_seed_and_port_flags_take_plain_digits_in_range_and_nothing_else(text):
    digits = text.strip()
    plain = digits.isascii() and digits.isdigit()
    seed, port = parsed_or_refused(arguments.seed, text), parsed_or_refused(port_number, text)
    assert seed == (int(digits) if plain and int(digits) <= MAX_SEED else None)
    assert port == (int(digits) if plain and 1 <= int(digits) <= MAX_PORT else None)


@given(seed=st.integers(0, MAX_SEED), port=st.integers(1, MAX_PORT))
def test_every_seed_and_port_in_range_round_trips(seed, port):
    assert arguments.seed(str(seed)) == seed and port_number(f" {port} ") == port


@given(text=st.text(max_size=40) | st.lists(st.floats() | st.integers(-5, 2000), max_size=4).map(
    lambda values: ",".join(map(str, values))))
def test_number_list_flags_give_finite_numbers_in_range_or_one_line(text):
    scales = parsed_or_refused(arguments.floats, text)
    assert scales is None or all(math.isfinite(s) and 0 <= s <= MAX_GUIDANCE for s in scales)
    steps = parsed_or_refused(arguments.ints, text)
    assert steps is None or all(isinstance(s, int) and 1 <= s <= MAX_STEPS for s in steps)
    psi = parsed_or_refused(arguments.truncations, text)
    assert psi is None or all(math.isfinite(p) and 0 <= p <= 2 for p in psi)
    size = parsed_or_refused(check_batch_size, text, GenerationError)
    assert size is None or isinstance(size, int) and size >= 1
    for parse in (arguments.names, arguments.layouts, arguments.step):
        parsed_or_refused(parse, text)


@given(values=st.lists(st.floats(0, MAX_GUIDANCE), min_size=1, max_size=5))
def test_guidance_scales_round_trip_once_each(values):
    assert arguments.floats(",".join(map(repr, values))) == list(dict.fromkeys(v + 0.0 for v in values))
