"""A run folder that heals: a bad cached file (garbage, `[]`, wrong field types, a symlink loop, a folder where a
file belongs) is named in one line, set aside as `<name>.bad-<time>` and rebuilt; an image that cannot be read is
made again; `report` says what it left out; images of mixed sizes are refused in one line and leave the folder
usable. Every case ends with every image and row exactly once and the clean run's metrics."""
from __future__ import annotations

import json

import pytest

from hostile.run_folders import complete, metrics_of, run_tiny, same_numbers, warnings_of


@pytest.fixture
def clean(tmp_path, store_tiny):
    """A finished tiny run and its metrics."""
    out = tmp_path / "run"
    run_tiny(out)
    return out, metrics_of(out)


def _fingerprint(out):
    return json.loads((out / "metrics.json").read_text())["fingerprint"]


CACHED = {  # file -> what a hostile hand leaves there
    "metrics.json garbage": ("metrics.json", b"\x00{garbage"),
    "metrics.json []": ("metrics.json", b"[]"),
    "metrics.json wrong types": ("metrics.json", None),  # the right fingerprint, records that make no report
    "features garbage": ("features-world.npz", b"PK\x03\x04 not a zip"),
    "run.json wrong types": ("run.json", json.dumps({"prompts": "shapes-single-2", "n": "two", "features": "world",
                                                     "checkpoints": {}, "imported": []}).encode()),
    "run.json garbage": ("run.json", b"\xff\xfe not json"),
    "run.json no prompt set": ("run.json", json.dumps({"prompts": "oops", "n": 1, "checkpoints": {}}).encode()),
    "rows.jsonl a folder": ("rows.jsonl", "folder"),
    "report.md a folder": ("report.md", "folder"),
}


@pytest.mark.parametrize("case", [*CACHED, "metrics.json loop", "run.json loop", "rows.jsonl loop",
                                  "features loop"])
def test_a_bad_cached_file_is_named_set_aside_and_rebuilt(clean, capsys, case):
    out, metrics = clean
    name, content = CACHED.get(case) or ({"features": "features-world.npz"}.get(case.split()[0], case.split()[0]),
                                         "loop")
    path = out / name
    if content is None:
        content = json.dumps({"fingerprint": _fingerprint(out), "records": [{"model": "tiny", "setting": "x",
                                                                               "fid": "oops", "accuracy": 3}]}).encode()
    path.unlink(missing_ok=True)
    if content == "folder":
        path.mkdir()
    elif content == "loop":
        path.symlink_to(path)
    else:
        path.write_bytes(content)
    capsys.readouterr()
    assert run_tiny(out)["generated"] == 0  # nothing lost: the images and their own rows are sound
    said = [line for line in warnings_of(capsys) if line.startswith(f"warning: {path}: ")]
    assert len(said) == 1 and f"set aside as {name}.bad-" in said[0], warnings_of(capsys)
    assert len(list(out.glob(f"{name}.bad-*"))) == 1
    complete(out, 2)
    assert same_numbers(metrics_of(out), metrics) and (out / "report.md").is_file()
    assert json.loads((out / "run.json").read_text())["n"] == 1  # the record is sound again


def test_a_zeroed_png_whose_row_is_intact_is_made_again(clean, capsys):
    out, metrics = clean
    row = json.loads((out / "rows.jsonl").read_text().splitlines()[0])
    image = out / row["file"]
    image.write_bytes(b"\0" * image.stat().st_size)
    capsys.readouterr()
    assert run_tiny(out)["generated"] == 1
    assert any(f"{image}: is not a readable image" in line for line in warnings_of(capsys))
    complete(out, 2)
    assert same_numbers(metrics_of(out), metrics)


def test_report_on_a_damaged_folder_says_what_it_left_out(tmp_path, store_tiny, capsys):
    from evaluation.__main__ import main

    out = tmp_path / "run"
    run_tiny(out, n=2)  # two samples a prompt: the paired metrics still stand on what is left
    row = json.loads((out / "rows.jsonl").read_text().splitlines()[0])
    (out / row["file"]).write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    (out / "metrics.json").write_text("[]")
    capsys.readouterr()
    main(["report", str(out)])
    captured = capsys.readouterr()
    assert "1 unreadable image(s) left out (set aside; `evaluation run` makes them again)" in captured.out
    assert any(line.startswith(f"warning: {out / 'metrics.json'}: ") for line in captured.err.splitlines())
    records = json.loads((out / "metrics.json").read_text())["records"]
    assert [r["n"] for r in records] == [3]  # the report stands on the sound images
    assert run_tiny(out, n=2)["generated"] == 1  # and the run makes the other again
    complete(out, 4)


def test_a_run_json_that_is_not_ours_is_refused_but_one_in_a_run_is_healed(tmp_path, store_tiny):
    from evaluation.store import StoreError

    stranger = tmp_path / "stranger"
    stranger.mkdir()
    (stranger / "run.json").write_text("[]")  # a folder holding no run: its run.json is not ours to move
    with pytest.raises(StoreError, match="is not a run record"):
        run_tiny(stranger)
    assert (stranger / "run.json").read_text() == "[]"


# ---------------------------------------------------------------- images of mixed sizes
def _sized(prompts, seed):
    from world.references import reference_image

    return [reference_image(p, seed + i).resize((40, 40) if seed % 2 else (32, 32)) for i, p in enumerate(prompts)]


def test_a_callable_returning_mixed_sizes_is_one_line_and_the_folder_stays_usable(tmp_path, store_tiny):
    import evaluation
    from evaluation.store import StoreError
    from world.references import reference_image

    out = tmp_path / "run"
    with pytest.raises(StoreError, match=r"^_sized \(one-pass\): a 40x40 image after 32x32 ones; every image of a "
                                         r"model and setting must have one size$"):
        evaluation.run(models=[_sized], prompts="shapes-single-2", n=2, out=out, device="cpu", floor=False)

    def square(prompts, seed):  # the folder is still usable: another model runs into it
        return [reference_image(p, seed + i) for i, p in enumerate(prompts)]

    assert len(evaluation.run(models=[square], prompts="shapes-single-2", n=2, out=out, device="cpu",
                              floor=False).rows) == 4


def test_a_folder_of_mixed_sizes_is_refused_before_scoring(tmp_path, store_tiny):
    from evaluation.__main__ import main
    from evaluation.runs.image_folders import export_prompts
    from evaluation.prompts import load_prompts

    export_prompts(load_prompts("shapes-single-2"), tmp_path / "job")
    for index in range(2):
        for sample in range(2):
            _sized(["a red circle"], index * 1000 + sample)[0].save(tmp_path / "job" / f"{index:05d}" / "samples"
                                                                    / f"{sample:04d}.png")
    with pytest.raises(SystemExit, match=r"^error: .*0001.png is 40x40, .*0000.png is 32x32: every image of one "
                                         r"model must have one size$"):
        main(["score", str(tmp_path / "job"), "--out", str(tmp_path / "run"), "--device", "cpu"])
    assert not (tmp_path / "run" / "rows.jsonl").exists()


def test_stats_on_a_folder_of_mixed_sizes_is_one_line(tmp_path, evaluator_clip):
    from PIL import Image

    from evaluation.__main__ import main

    for side in (32, 40, 48):
        Image.new("RGB", (side, side)).save(tmp_path / f"{side}.png")
    with pytest.raises(SystemExit) as failed:
        main(["stats", str(tmp_path), str(tmp_path / "s.npz")])
    assert str(failed.value).startswith("error: ") and "\n" not in str(failed.value)
    assert "40.png is 40x40 but" in str(failed.value) and "32.png is 32x32" in str(failed.value)  # names both files


def test_a_row_whose_key_was_edited_in_place_is_read_back_from_its_image(tmp_path, store_tiny):
    """The soak's seed 7: a rows.jsonl line whose key no longer names its own fields filed the image twice."""
    out = tmp_path / "run"
    run_tiny(out, n=2)
    clean = complete(out, 4)
    lines = (out / "rows.jsonl").read_text().splitlines()
    edited = json.loads(lines[1])
    lines[1] = json.dumps({**edited, "key": "oops"})
    (out / "rows.jsonl").write_text("\n".join(lines) + "\n")
    run_tiny(out, n=2)
    assert set(complete(out, 4)) == set(clean)


def test_a_metrics_cache_emptied_in_place_is_computed_again(tmp_path, store_tiny):
    """The soak's seed 2: metrics.json with its fingerprint intact and its records emptied reported nothing."""
    out = tmp_path / "run"
    run_tiny(out, n=2)
    clean = metrics_of(out)
    cached = json.loads((out / "metrics.json").read_text())
    (out / "metrics.json").write_text(json.dumps({**cached, "records": []}))
    run_tiny(out, n=2)
    assert same_numbers(metrics_of(out), clean) and clean
