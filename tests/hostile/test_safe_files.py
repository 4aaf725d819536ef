"""Files that try to lead a write or a read out of the folder it belongs to: a symlink at a run's `.lock` or at
`models sample`'s write test, a GenEval sample linking out of IMAGES, a FIFO named like an image, PNG bombs,
two GenEval folders of one prompt. Each is refused in one line naming the file (or set aside), nothing outside is
touched, nothing blocks, and a rerun works."""
from __future__ import annotations

import json
import os
import threading

import pytest

from hostile.run_folders import complete, png_bomb, run_tiny, warnings_of

SET = "shapes-single-2"


def _geneval(folder, names=("00000", "00001"), prompts=SET):
    """A GenEval folder of the set's renders, 32x32, two samples a prompt; folder i holds prompt i."""
    from evaluation.prompts import load_prompts
    from world.references import reference_image

    for index, name in enumerate(names):
        item = load_prompts(prompts)[index]
        (folder / name / "samples").mkdir(parents=True)
        (folder / name / "metadata.jsonl").write_text(json.dumps({"prompt": item.prompt, "tag": "single"}) + "\n")
        for sample in range(2):
            reference_image(item.prompt, 1000 * index + sample).save(folder / name / "samples" / f"{sample:04d}.png")
    return folder


def _score(images, out, prompts=SET):
    from evaluation.runs.score_images import score

    return score(images, prompts, out, model_name="elsewhere", device="cpu")


def _never_blocks(call, seconds: float = 20.0):
    """Run `call` in a thread; fail (instead of hanging the suite) when it does not return in time."""
    outcome = {}
    thread = threading.Thread(target=lambda: outcome.update(result=_caught(call)), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "blocked"
    return outcome["result"]


def _caught(call):
    try:
        return call()
    except (ValueError, OSError) as error:
        return error


# ---------------------------------------------------------------- writes never follow a link out
@pytest.mark.parametrize("planted", ["symlink", "fifo"])
def test_a_link_or_fifo_at_the_runs_lock_is_set_aside_and_its_target_untouched(tmp_path, store_tiny, capsys, planted):
    out, victim = tmp_path / "run", tmp_path / "victim.txt"
    out.mkdir()
    victim.write_text("precious")
    if planted == "symlink":
        (out / ".lock").symlink_to(victim)
    else:
        os.mkfifo(out / ".lock")
    assert _never_blocks(lambda: run_tiny(out))["generated"] == 2
    assert victim.read_text() == "precious" and (out / ".lock").is_file() and not (out / ".lock").is_symlink()
    assert any(line.startswith(f"warning: {out / '.lock'}: ") and ".lock.bad-" in line for line in warnings_of(capsys))
    complete(out, 2)


def test_models_sample_never_writes_through_a_link_planted_in_its_out_folder(tmp_path, capsys):
    from models.__main__ import main

    out, victim = tmp_path / "out", tmp_path / "victim.txt"
    out.mkdir()
    victim.write_text("precious")
    (out / ".genbench-write-test").symlink_to(victim)  # the old fixed name of the write test
    (out / "000.png").symlink_to(victim)  # and the first image's name
    main(["sample", "--model", "gan", "--prompt", "a red circle", "--n", "1", "--device", "cpu", "--out", str(out)])
    assert victim.read_text() == "precious" and not (out / "000.png").is_symlink()
    assert (out / "000.png").read_bytes().startswith(b"\x89PNG")
    assert not list(out.glob(".genbench-write-test-*"))  # the probe leaves nothing behind


def test_an_atomic_write_never_follows_a_link_planted_at_its_temporary_name(tmp_path):
    from models.files import atomic_write

    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (tmp_path / f".target.txt.{os.getpid()}.tmp").symlink_to(victim)
    atomic_write(tmp_path / "target.txt", "mine")
    assert victim.read_text() == "precious" and (tmp_path / "target.txt").read_text() == "mine"


# ---------------------------------------------------------------- reads: regular files inside the folder only
def test_a_geneval_sample_linking_out_of_images_is_refused_by_name(tmp_path, store_tiny):
    images = _geneval(tmp_path / "job")
    secret = tmp_path / "secret.png"
    (images / "00000" / "samples" / "0000.png").rename(secret)
    (images / "00000" / "samples" / "0000.png").symlink_to(secret)
    with pytest.raises(ValueError, match=r"0000.png leads outside .*job \(to .*secret.png\): refused$"):
        _score(images, tmp_path / "run")
    assert not (tmp_path / "run" / "rows.jsonl").exists()  # nothing copied in
    (images / "00000" / "samples" / "inside.png").symlink_to(images / "00001" / "samples" / "0000.png")
    (images / "00000" / "samples" / "0000.png").unlink()  # a link that stays inside IMAGES is fine
    assert _score(images, tmp_path / "run")["scored"] == 4


def test_a_fifo_named_like_a_sample_is_refused_without_blocking(tmp_path, store_tiny):
    images = _geneval(tmp_path / "job")
    os.mkfifo(images / "00001" / "samples" / "0002.png")
    error = _never_blocks(lambda: _score(images, tmp_path / "run"))
    assert isinstance(error, ValueError) and str(error).endswith("0002.png is not a regular file: refused")


def test_a_fifo_named_like_a_run_image_does_not_block_the_rerun(tmp_path, store_tiny):
    out = tmp_path / "run"
    rows = run_tiny(out)["rows"]
    file = out / sorted(rows.values(), key=lambda r: r["key"])[0]["file"]
    file.unlink()
    os.mkfifo(file)  # its row is intact: the image behind it is unreadable
    assert _never_blocks(lambda: run_tiny(out))["generated"] == 1
    assert file.is_file() and not file.is_fifo()
    complete(out, 2)


@pytest.mark.parametrize("side", [20000, 10000])
def test_png_bombs_are_refused_from_their_header_before_decoding(tmp_path, store_tiny, side):
    from PIL import Image

    from models.safe_files import MAX_IMAGE_PIXELS

    assert Image.MAX_IMAGE_PIXELS == MAX_IMAGE_PIXELS == 4096 * 4096  # set on purpose, and documented
    images = _geneval(tmp_path / "job")
    bomb = png_bomb(images / "00001" / "samples" / "0001.png", side, side)
    assert bomb.stat().st_size < 100_000
    with pytest.raises(ValueError) as refused:
        _score(images, tmp_path / "run")
    assert str(refused.value) == (f"{bomb} declares more pixels than the {MAX_IMAGE_PIXELS:,} allowed: refused "
                                  f"before decoding (DecompressionBombError)")


def test_an_image_over_a_lower_limit_is_refused_from_its_header(tmp_path):
    from models.safe_files import FileRefused, open_image

    bomb = png_bomb(tmp_path / "wide.png", 300, 200)
    assert open_image(bomb).size == (300, 200)
    with pytest.raises(FileRefused, match=r"wide.png is 300x200 pixels, over the 10,000 allowed"):
        open_image(bomb, max_pixels=10_000)


@pytest.mark.parametrize("kind", ["fifo", "folder", "device", "loop"])
def test_safe_reads_and_writes_refuse_what_is_not_a_regular_file(tmp_path, kind):
    from models.safe_files import FileRefused, open_for_write, read_bytes

    path = tmp_path / "thing"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    elif kind == "loop":
        path.symlink_to(path)
    else:
        path = "/dev/zero"
    refused = _never_blocks(lambda: read_bytes(path))
    assert isinstance(refused, FileRefused) and "\n" not in str(refused) and str(refused).startswith(str(path))
    if kind in ("fifo", "loop"):
        with pytest.raises(FileRefused, match=str(path)):
            open_for_write(path)


# ---------------------------------------------------------------- unique destinations
def test_two_geneval_folders_of_one_prompt_are_refused_before_anything_is_written(tmp_path, store_tiny):
    images = _geneval(tmp_path / "job", names=("0", "00001"))
    _geneval(tmp_path / "other", names=("00000",))
    (tmp_path / "other" / "00000").rename(images / "00000")  # "0" and "00000": both prompt 0
    with pytest.raises(ValueError, match=r"job/0 and .*job/00000 both hold prompt 0: keep one"):
        _score(images, tmp_path / "run")
    assert not (tmp_path / "run" / "rows.jsonl").exists()


def test_a_named_folder_and_a_numbered_one_of_one_prompt_are_refused(tmp_path, store_tiny):
    images = _geneval(tmp_path / "job")
    _geneval(tmp_path / "other", names=("00000",))
    (tmp_path / "other" / "00000").rename(images / "first")  # no number: placed by its prompt, which 00000 holds
    with pytest.raises(ValueError, match=r"both hold prompt 0: keep one"):
        _score(images, tmp_path / "run")
