"""Hostile run folders: rows.jsonl that lies or is damaged, names that must not collide, durability. Every case
ends with every image and row exactly once."""
from __future__ import annotations

import json

import pytest

from hostile.run_folders import cli_args, complete, run_tiny, table_lines, tiny_options, warnings_of


# ---------------------------------------------------------------- 11: rows.jsonl that lies or is damaged
def test_store_a_non_utf8_row_mid_file_is_skipped_and_reported(tmp_path, store_tiny, capsys):
    out = tmp_path / "run"
    run_tiny(out, prompts="shapes-single-3")
    lines = table_lines(out)
    lines[1] = b'{"key": "\xff\xfe broken\n'  # its image is still there: recovered from the PNG
    (out / json.loads(lines[2])["file"]).unlink()  # and one image lost: made again
    (out / "rows.jsonl").write_bytes(b"".join(lines))
    capsys.readouterr()
    again = run_tiny(out, prompts="shapes-single-3")
    assert warnings_of(capsys) == [f"warning: {out / 'rows.jsonl'}: skipped 1 unreadable row(s) (line 2); their "
                                       f"images are read back from the PNGs or made again"]
    assert again["generated"] == 1 and again["images"] == 3
    complete(out, 3)
    assert run_tiny(out, prompts="shapes-single-3")["generated"] == 0 and warnings_of(capsys) == []


def test_store_a_row_whose_file_is_not_a_string_is_skipped(tmp_path, store_tiny, capsys):
    out = tmp_path / "run"
    run_tiny(out)
    lines = table_lines(out)
    for number, file in ((0, 5), (1, None)):
        row = json.loads(lines[number])
        (out / row["file"]).unlink()
        lines[number] = (json.dumps({**row, "file": file}) + "\n").encode()
    (out / "rows.jsonl").write_bytes(b"".join(lines))
    capsys.readouterr()
    assert run_tiny(out)["generated"] == 2  # no TypeError: both images are made again
    assert warnings_of(capsys)[0].endswith("skipped 2 unreadable row(s) (line 1, 2); their images are read back "
                                               "from the PNGs or made again")
    complete(out, 2)


@pytest.mark.parametrize("hostile", ["absolute", "../secret.png", "images/../../secret.png",
                                            "images/../run.json", "symlink", "images/../images/..\\x.png"])
def test_store_a_row_naming_a_file_outside_images_is_rejected(tmp_path, store_tiny, capsys, hostile):
    out = tmp_path / "run"
    run_tiny(out)
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"not yours")
    if hostile == "symlink":
        (out / "images" / "tiny").mkdir(exist_ok=True)
        (out / "images" / "tiny" / "link.png").symlink_to(secret)
    file = {"absolute": str(secret), "symlink": "images/tiny/link.png"}.get(hostile, hostile)
    lines = table_lines(out)
    row = json.loads(lines[0])
    (out / row["file"]).unlink()
    lines[0] = (json.dumps({**row, "file": file}) + "\n").encode()
    (out / "rows.jsonl").write_bytes(b"".join(lines))
    capsys.readouterr()
    assert run_tiny(out)["generated"] == 1  # the lost image is made again, the row naming the outside ignored
    assert warnings_of(capsys)[0].startswith(f"warning: {out / 'rows.jsonl'}: skipped 1 unreadable row(s) (line 1)")
    if hostile == "symlink":
        (out / "images" / "tiny" / "link.png").unlink()
    assert complete(out, 2)[row["key"]]["file"] == row["file"] and secret.read_bytes() == b"not yours"


def test_store_a_png_whose_row_names_another_file_is_read_where_it_lies(tmp_path, store_tiny):
    from PIL import Image, PngImagePlugin

    from evaluation.store import ROW_CHUNK

    out = tmp_path / "run"
    run_tiny(out)
    lines = table_lines(out)
    row = json.loads(lines[0])
    meta = PngImagePlugin.PngInfo()
    meta.add_text(ROW_CHUNK, json.dumps({**row, "file": "/etc/passwd"}))
    with Image.open(out / row["file"]) as image:
        image.load()
    image.save(out / row["file"], pnginfo=meta)
    (out / "rows.jsonl").write_bytes(b"".join(lines[1:]))  # its row lost: only the PNG knows it
    assert run_tiny(out)["generated"] == 0
    assert complete(out, 2)[row["key"]]["file"] == row["file"]


def test_store_the_torn_last_line_a_kill_leaves_is_dropped_quietly(tmp_path, store_tiny, capsys):
    out = tmp_path / "run"
    run_tiny(out)
    lines = table_lines(out)
    (out / "rows.jsonl").write_bytes(b"".join(lines[:-1]) + lines[-1][:20])
    capsys.readouterr()
    assert run_tiny(out)["generated"] == 0 and warnings_of(capsys) == []
    complete(out, 2)


# ---------------------------------------------------------------- 12, 13: names that must not collide
def test_store_close_guidance_scales_get_their_own_setting(tmp_path, store_tiny):
    import dataclasses

    from evaluation.runs.sweep import Setting

    names = {g: Setting("ddim", 50, g).name for g in (1.0, 3, 7.5, 0.5, 12.25, 1e-07, 1.0000001, 1.0000002, 0.1)}
    assert names[1.0] == "ddim-50steps-g1" and names[3] == "ddim-50steps-g3" and names[7.5] == "ddim-50steps-g7.5"
    assert names[1e-07] == "ddim-50steps-g1e-07" and names[0.1] == "ddim-50steps-g0.1"  # older runs keep theirs
    assert names[1.0000001] == "ddim-50steps-g1.0000001" and names[1.0000002] == "ddim-50steps-g1.0000002"
    assert len(set(names.values())) == len(names)
    out = tmp_path / "run"
    options = dataclasses.replace(tiny_options(out), guidance=[1.0000001, 1.0000002])
    from evaluation.runs.sweep import run

    assert run(options)["generated"] == 4  # both scales, each its own images
    assert {p.name for p in (out / "images" / "tiny").iterdir()} == {"ddim-2steps-g1.0000001", "ddim-2steps-g1.0000002"}
    records = json.loads((out / "metrics.json").read_text())["records"]
    assert sorted(r["guidance"] for r in records) == [1.0000001, 1.0000002]
    assert run(options)["generated"] == 0
    complete(out, 4)


def test_store_repeated_scales_and_steps_on_the_command_line_are_one_setting(tmp_path, store_tiny):
    from evaluation.__main__ import build_parser, main

    args = build_parser().parse_args(cli_args(tmp_path / "run", "--guidance", "3,3.0,-0,1.0000001", "--steps",
                                                "2,2"))
    assert args.guidance == [3.0, 0.0, 1.0000001] and args.steps == [2] and str(args.guidance[1]) == "0.0"
    main(cli_args(tmp_path / "run", "--guidance", "3,3"))
    complete(tmp_path / "run", 2)  # made once each, not twice


def test_store_model_names_that_slug_alike_get_their_own_folders(tmp_path, store_tiny):
    from evaluation.store import slug

    for kept in ("ddpm", "dit-layout", "gan", "one-pass", "ddim-50steps-g7.5", "ddim-2steps-g1e-07", "sd1.5+lora"):
        assert slug(kept) == kept  # every older run keeps its folder names
    hostile = ["hub:a/b", "hub:a_b", "hub:a:b", "hub_a_b", "a b", ".", "..", "", "x" * 300, "é"]
    slugs = [slug(name) for name in hostile]
    assert len(set(slugs)) == len(hostile) and all(s not in ("", ".", "..") and "/" not in s for s in slugs)
    assert slugs[0].startswith("hub_a_b_") and max(map(len, slugs)) <= 120
    out = tmp_path / "run"
    assert run_tiny(out, models=["hub:a/b", "hub:a_b"])["generated"] == 4
    rows = complete(out, 4)
    folders = {r["model"]: r["file"].split("/")[1] for r in rows.values()}
    assert folders == {"hub:a/b": slug("hub:a/b"), "hub:a_b": slug("hub:a_b")} and len(set(folders.values())) == 2
    assert run_tiny(out, models=["hub:a/b", "hub:a_b"])["generated"] == 0



# ---------------------------------------------------------------- 19: durability
def test_store_images_rows_and_new_folders_are_fsynced(tmp_path, monkeypatch):
    import os

    from PIL import Image

    from evaluation.store import RunStore

    synced = []
    real_fsync = os.fsync

    def fsync(descriptor):
        synced.append(os.readlink(f"/proc/self/fd/{descriptor}"))
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", fsync)
    out = tmp_path.resolve() / "run"
    store = RunStore(out)
    assert {str(tmp_path.resolve()), str(out)} <= set(synced)  # the new run folder and its images/ are durable
    synced.clear()
    file = "images/hub_a_b_x/ddim-2steps-g3/p0000-s00-seed0.png"
    store.add(Image.new("RGB", (4, 4)), {"key": "k", "file": file})
    png = out / file
    assert any(p.startswith(str(png.parent / ".p0000-s00-seed0.png.")) and p.endswith(".tmp") for p in synced)
    for folder in (out / "images", png.parent.parent, png.parent, out):  # parents of new folders; the renames
        assert str(folder) in synced, folder
    assert str(out / "rows.jsonl") in synced and png.is_file()
    synced.clear()
    store.add(Image.new("RGB", (4, 4)), {"key": "k2", "file": file.replace("p0000", "p0001")})
    assert str(out / "rows.jsonl") in synced and str(png.parent) in synced
