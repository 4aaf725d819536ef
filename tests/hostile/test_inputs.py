"""Hostile inputs to the command lines: every one refused before any model loads, in one line naming the flag
(or file and line), with a non-zero exit status when nothing was made."""
from __future__ import annotations

import socket
import textwrap
import time

import pytest

from evaluation.prompts import MAX_PER_TASK, PromptSetError, load_prompts
from evaluation.runs.image_folders import ImageFolderError, read_folder

RUN = ["run", "--guidance", "3", "--steps", "2", "--n", "1", "--device", "cpu", "--no-floor"]


def evaluation_cli(*args: str):
    """`python -m evaluation ARGS` in this process: the SystemExit it ends with (None: it finished)."""
    from evaluation.__main__ import main

    try:
        main(list(args))
    except SystemExit as stopped:
        return stopped
    return None


def one_line_error(stopped: SystemExit | None, *phrases: str) -> None:
    assert stopped is not None and stopped.code not in (0, None)
    message = str(stopped.code)
    assert message.startswith("error: ") and "\n" not in message, message
    for phrase in phrases:
        assert phrase in message, message


def argparse_refuses(capsys, call, *phrases: str) -> None:
    """argparse's refusal: exit 2, its last line `error: argument --FLAG: ...` naming the flag."""
    with pytest.raises(SystemExit) as stopped:
        call()
    assert stopped.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert all(phrase in last for phrase in phrases), last


# ---------------------------------------------------------------- prompt sets: a stated maximum, checked first
@pytest.mark.parametrize("spec, phrase", [("shapes-single-99999999", f"from 1 to {MAX_PER_TASK} prompts"),
                                          ("shapes-all-" + "9" * 5000, f"from 1 to {MAX_PER_TASK} prompts"),
                                          ("shapes-single-²", "no prompt set"), ("x" * 5000, "no prompt set")])
def test_a_prompt_set_too_large_or_misspelt_is_refused_before_one_prompt_is_built(spec, phrase, monkeypatch):
    import evaluation.prompts

    monkeypatch.setattr(evaluation.prompts, "world_set", lambda *a: pytest.fail("prompts were built"))
    with pytest.raises(PromptSetError, match=phrase) as refused:
        load_prompts(spec)
    assert "\n" not in str(refused.value) and len(str(refused.value)) < 400


def test_run_names_the_prompts_flag_and_loads_no_model(tmp_path, store_tiny):
    stopped = evaluation_cli(*RUN, "--models", "tiny", "--prompts", "shapes-single-99999999", "--out", str(tmp_path))
    one_line_error(stopped, "--prompts", str(MAX_PER_TASK))
    assert store_tiny == []


# ---------------------------------------------------------------- seeds and ports
@pytest.mark.parametrize("args, flag", [(["arena", "votes.db", "--seed", "-1"], "--seed"),
                                        (["arena", "votes.db", "--seed", "²"], "--seed"),
                                        ([*RUN, "--models", "tiny", "--out", "o", "--seed", "²"], "--seed"),
                                        ([*RUN, "--models", "tiny", "--out", "o", "--seed", "2147483648"], "--seed"),
                                        (["accuracy", "--prompt-seed", "-5"], "--prompt-seed")])
def test_a_seed_that_is_not_plain_digits_in_range_is_refused_by_argparse(args, flag, capsys):
    from evaluation.__main__ import main

    argparse_refuses(capsys, lambda: main(args), f"argument {flag}", "a seed is an integer from 0 to 2147483647")


def test_a_run_whose_last_image_seed_passes_the_limit_is_refused_before_any_model_loads(tmp_path, store_tiny):
    stopped = evaluation_cli(*RUN, "--models", "tiny", "--prompts", "shapes-single-5", "--seed", "2147483000",
                             "--out", str(tmp_path))
    one_line_error(stopped, "--seed 2147483000", "2147487000")
    assert store_tiny == []


@pytest.mark.parametrize("port", ["70000", "0", "-1", "²", "80.5"])
def test_demo_port_out_of_range_is_refused_by_argparse(port, capsys, monkeypatch):
    import demo.__main__
    import demo.app

    monkeypatch.setattr(demo.app, "build", lambda *a, **k: pytest.fail("models loaded"))
    argparse_refuses(capsys, lambda: demo.__main__.main(["--port", port]), "argument --port", "1 to 65535")


def test_demo_port_already_taken_is_refused_before_the_models_load(capsys, monkeypatch):
    import demo.__main__
    import demo.app

    monkeypatch.setattr(demo.app, "build", lambda *a, **k: pytest.fail("models loaded"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SystemExit) as stopped:
            demo.__main__.main(["--port", str(port)])
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and err == f"error: --port {port}: already in use on 127.0.0.1; stop what " \
                                              f"holds it or choose another port\n"


# ---------------------------------------------------------------- numbers of `models sample` and `models train`
@pytest.mark.parametrize("args, phrase", [
    (["train", "--model", "ddpm", "--lr", "nan"], "--lr must be a finite number"),
    (["train", "--model", "ddpm", "--lr", "inf"], "--lr must be a finite number"),
    (["sample", "--model", "ddpm", "--prompt", "x", "--out", "o", "--guidance", "nan"], "--guidance must be a finite"),
    (["sample", "--model", "ddpm", "--prompt", "x", "--out", "o", "--truncation", "inf"], "--truncation must be a"),
    (["sample", "--model", "ar", "--prompt", "x", "--out", "o", "--temperature", "nan"], "--temperature must be a"),
    (["sample", "--model", "ar", "--prompt", "x", "--out", "o", "--temperature", "0"], "--temperature must be above"),
    (["sample", "--model", "ar", "--prompt", "x", "--out", "o", "--top-k", "-3"], "--top-k must be 0")])
def test_models_number_flags_must_be_finite_and_in_range_before_anything_loads(args, phrase, capsys, monkeypatch):
    import models.__main__
    import models.cli

    monkeypatch.setattr(models.cli, "load", lambda *a, **k: pytest.fail("a model loaded"))
    monkeypatch.setattr(models.cli, "check_output_folder", lambda *a: pytest.fail("a folder was made"))
    with pytest.raises(SystemExit) as stopped:
        models.__main__.main(args)
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and err.count("\n") == 1 and phrase in err, err


# ---------------------------------------------------------------- images.csv
@pytest.fixture
def flat(tmp_path):
    """A flat folder with one image; write(text or bytes) sets its images.csv."""
    from PIL import Image

    Image.new("RGB", (32, 32)).save(tmp_path / "a.png")

    def write(content) -> None:
        table = tmp_path / "images.csv"
        table.write_bytes(content) if isinstance(content, bytes) else table.write_text(content, encoding="utf-8")
    write.folder = tmp_path
    return write


@pytest.mark.parametrize("content, line, phrase", [
    ("file,prompt\na.png,a red circle\na.png,\"" + "x" * 200_000 + "\"\n", 3, "field larger than field limit"),
    (b"file,prompt\na.png,a red circle\na.png,a \xff\xfe circle\n", 3, "not UTF-8"),
    ("file,prompt,seed\na.png,a red circle,\u00b2\n", 2, "seed must be an integer from 0 to 2147483647"),
    ("file,prompt,seed\na.png,a red circle,99999999999\n", 2, "seed must be an integer"),
    ("file,prompt\na.png,a red circle\na.png,a red \0circle\n", 3, "not in the prompt set")])
def test_images_csv_that_cannot_be_read_is_one_line_naming_file_and_line(flat, content, line, phrase):
    flat(content)
    with pytest.raises(ImageFolderError) as refused:
        read_folder(flat.folder, [load_prompts("shapes-quick")[0].__class__("a red circle", "single", None)])
    message = str(refused.value)
    assert message.startswith(f"{flat.folder / 'images.csv'}:{line}: ") and phrase in message and "\n" not in message


def test_score_on_a_non_utf8_images_csv_exits_non_zero_with_that_line(flat, tmp_path_factory):
    flat(b"file,prompt\n\xc3\x28.png,a red circle\n")
    stopped = evaluation_cli("score", str(flat.folder), "--prompts", "shapes-quick",
                             "--out", str(tmp_path_factory.mktemp("run")))
    one_line_error(stopped, "images.csv:2: not UTF-8 text")


def test_a_100k_row_images_csv_is_placed_by_lookup_not_by_scan():
    from evaluation.prompts import PromptItem
    from evaluation.runs.image_folders import PromptLookup

    class Counted(list):  # counts every pass over the prompts: a scan per row would make 100k of them
        passes = 0

        def __iter__(self):
            Counted.passes += 1
            return super().__iter__()

    prompts = Counted(PromptItem(f"prompt number {i}", "all") for i in range(10_000))
    lookup = PromptLookup(prompts)
    started, Counted.passes = time.monotonic(), 0
    found = [lookup.index("prompt  number 9999 ", f"images.csv:{line}") for line in range(2, 100_002)]
    assert found == [9999] * 100_000 and Counted.passes == 0 and time.monotonic() - started < 30
    with pytest.raises(ImageFolderError, match=r"^images.csv:7: prompt 'nope' is not in the prompt set"):
        lookup.index("nope", "images.csv:7")


# ---------------------------------------------------------------- user models (--models package.module:attribute)
def user_module(tmp_path, monkeypatch, name: str, body: str) -> str:
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(body))
    monkeypatch.syspath_prepend(str(tmp_path))
    return f"{name}:generate"


def test_a_models_module_that_calls_sys_exit_on_import_ends_the_run_non_zero(tmp_path, monkeypatch, store_tiny):
    spec = user_module(tmp_path, monkeypatch, "exits_on_import", "import sys\nsys.exit(0)\n")
    stopped = evaluation_cli(*RUN, "--models", spec, "--prompts", "shapes-single-1", "--out", str(tmp_path / "run"))
    one_line_error(stopped, spec, "SystemExit")
    assert not (tmp_path / "run" / "rows.jsonl").exists()


def test_a_user_model_that_raises_ends_the_run_with_one_line_naming_it(tmp_path, monkeypatch, store_tiny):
    spec = user_module(tmp_path, monkeypatch, "raises_runtime", """
        def generate(prompts, seed):
            raise RuntimeError("CUDA out of memory\\ntried to allocate 20 GiB")
        """)
    stopped = evaluation_cli(*RUN, "--models", spec, "--prompts", "shapes-single-1", "--out", str(tmp_path / "run"))
    one_line_error(stopped, f"{spec} raised RuntimeError: CUDA out of memory")


def test_accuracy_on_a_callable_that_returns_too_few_images_is_one_line(tmp_path, monkeypatch):
    spec = user_module(tmp_path, monkeypatch, "too_few", """
        from PIL import Image

        def generate(prompts, seed):
            return [Image.new("RGB", (32, 32))] * (len(prompts) - 1)
        """)
    stopped = evaluation_cli("accuracy", "--models", spec, "--n", "3", "--guidance", "1")
    one_line_error(stopped, f"{spec} returned 2 images for 3 prompts")
