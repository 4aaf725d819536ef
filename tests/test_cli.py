"""What users type: `python -m models sample | list | train`, good and bad input."""
import subprocess
import sys

import pytest

from models.registry import is_available


def run(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "models", *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("args, message", [
    (["--model", "no-such-model"], "unknown model"),
    (["--prompt", ""], "empty"),
    (["--prompt", "   "], "empty"),
    (["--steps", "0"], "--steps"),
    (["--steps", "-5"], "--steps"),
    (["--guidance", "nan"], "--guidance"),
    (["--guidance", "inf"], "--guidance"),
    (["--n", "0"], "--n"),
])
def test_bad_sample_input_exits_nonzero_with_one_line_and_no_traceback(tmp_path, args, message):
    base = {"--model": "ddpm", "--prompt": "a red circle", "--out": str(tmp_path / "out")}
    for flag, value in zip(args[::2], args[1::2]):
        base[flag] = value
    result = run("sample", *[x for kv in base.items() for x in kv])
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], result.stderr


def test_unwritable_output_folder_is_a_one_line_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = run("sample", "--model", "ddpm", "--prompt", "a red circle", "--out", str(blocker / "out"))
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.strip().startswith("error: cannot write to output folder")


def test_unknown_trainable_is_a_one_line_error():
    result = run("train", "--model", "no-such-model")
    assert result.returncode != 0 and "Traceback" not in result.stderr and "unknown model" in result.stderr


@pytest.mark.parametrize("args, message", [
    (["--model", "ddpm", "--text-losses", "off"], "apply to --model gan only"),
    (["--model", "gan", "--arch", "biggan"], "unknown --arch 'biggan'"),
    (["--model", "gan", "--loss", "hinge"], "unknown --loss 'hinge'"),
    (["--model", "ddpm", "--preset", "huge"], "unknown --preset 'huge'"),
    (["--model", "gan", "--preset", "small"], "applies to --model ddpm only"),
])
def test_family_specific_training_options_are_one_line_errors(tmp_path, args, message):
    result = run("train", *args, "--out", str(tmp_path / "out"))
    assert result.returncode != 0 and message in result.stderr and "Traceback" not in result.stderr


def test_the_ddpm_checkpoint_ships_with_the_repository():
    assert is_available("ddpm")


def test_sample_is_deterministic_and_image_zero_does_not_depend_on_n(tmp_path):
    common = ["sample", "--model", "ddpm", "--prompt", "a large red circle in the center", "--seed", "0",
              "--steps", "5"]
    for folder, n in (("a", "6"), ("b", "6"), ("c", "1")):
        result = run(*common, "--n", n, "--out", str(tmp_path / folder))
        assert result.returncode == 0, result.stderr
    a = sorted((tmp_path / "a").glob("*.png"))
    assert [p.name for p in a] == [f"{i:03d}.png" for i in range(6)]
    assert all(p.read_bytes() == (tmp_path / "b" / p.name).read_bytes() for p in a)
    assert (tmp_path / "c" / "000.png").read_bytes() == a[0].read_bytes()
    assert len({p.read_bytes() for p in a}) == 6  # six different images


def test_list_shows_parameters_and_gflops():
    result = run("list")
    assert result.returncode == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if line.startswith("ddpm"))
    assert "ready" in row and "M" in row
