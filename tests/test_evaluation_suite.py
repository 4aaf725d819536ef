"""The evaluation suite end to end on tiny real parts: prompt sets, FID against pytorch-fid, the run store's
crash safety (in-process and with SIGKILL), metrics and reports."""
from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from evaluation.metrics import features, fid
from evaluation.__main__ import main as evaluation_main
from world.accuracy import judge
from evaluation.prompts import WORLD_TASKS, PromptSetError, load_prompts
from world import caption_task
from world.references import reference_image
from evaluation.store import RunStore
from evaluation.runs.sweep import RunOptions, run
from hostile.run_folders import same_numbers
from models.text.encoder import TextEncoder

REPO = pathlib.Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- FID
def _stats(rng, n, d, scale=1.0):
    x = rng.normal(size=(n, d)) * scale
    return x.mean(0), np.cov(x, rowvar=False)


@pytest.mark.parametrize("case", ["random", "ill-conditioned", "identical"])
def test_frechet_distance_matches_pytorch_fid(case):
    from pytorch_fid.fid_score import calculate_frechet_distance

    rng = np.random.default_rng(0)
    mu1, s1 = _stats(rng, 200, 32)
    mu2, s2 = _stats(rng, 200, 32, scale=1.3)
    mu2 = mu2 + 0.2
    if case == "ill-conditioned":  # fewer samples than dimensions, eigenvalues over 6 decades
        mu1, s1 = _stats(rng, 20, 32, scale=np.logspace(0, -6, 32))
    if case == "identical":
        mu2, s2 = mu1, s1
    ours = fid.frechet_distance(mu1, s1, mu2, s2)
    reference = calculate_frechet_distance(mu1, s1, mu2, s2)
    if case == "identical":
        assert abs(ours) < 1e-6 and abs(reference) < 1e-6
    else:
        assert ours == pytest.approx(reference, rel=1e-6)


def test_identical_singular_statistics_give_zero():
    rng = np.random.default_rng(1)
    mu, sigma = _stats(rng, 10, 64)  # rank 9 of 64
    assert abs(fid.frechet_distance(mu, sigma, mu, sigma)) < 1e-6


def test_fid_command_on_npz_statistics(tmp_path, capsys):
    from pytorch_fid.fid_score import calculate_frechet_distance

    rng = np.random.default_rng(2)
    first, second = _stats(rng, 100, 16), _stats(rng, 100, 16, scale=2.0)
    features.save_statistics(tmp_path / "a.npz", *first)
    features.save_statistics(tmp_path / "b.npz", *second)
    evaluation_main(["fid", str(tmp_path / "a.npz"), str(tmp_path / "b.npz")])
    printed = float(capsys.readouterr().out.strip())
    assert printed == pytest.approx(calculate_frechet_distance(*first, *second), rel=1e-6)
    with pytest.raises(SystemExit, match="neither an image folder nor"):
        evaluation_main(["fid", str(tmp_path / "a.npz"), str(tmp_path / "missing")])


def test_inception_without_weights_is_one_line(tmp_path):
    with pytest.raises(features.FeatureError) as error:
        features.inception_features(tmp_path / "nothing.pth")
    message = str(error.value)
    assert "\n" not in message and "nothing.pth" in message and "--inception-weights" in message


# ---------------------------------------------------------------- prompt sets
def test_builtin_world_sets():
    quick = load_prompts("shapes-quick")
    assert len(quick) == 40 and {p.category for p in quick} == {"single", "pair", "count", "novel"}
    assert all(p.target == p.prompt for p in quick)
    full = load_prompts("shapes-full")
    assert len(full) == 900 and {p.category for p in full} == set(WORLD_TASKS)
    v2_quick = load_prompts("shapes-v2-quick")
    assert len(v2_quick) == 90 and all(caption_task(p.target) == ("single" if p.category == "novel" else p.category)
                                      for p in v2_quick)
    assert [p.category for p in load_prompts("shapes-novel-5")] == ["novel"] * 5
    assert [p.category for p in load_prompts("shapes-count-high-3")] == ["count-high"] * 3
    with pytest.raises(PromptSetError, match="from 1 to 10000 prompts per task"):
        load_prompts("shapes-single-99999999")


def test_a_name_is_a_prompt_set_when_load_prompts_could_mean_it():
    from evaluation.prompts import names_prompt_set

    assert all(names_prompt_set(name) for name in ("shapes-full", "shapes-count-high-40", "shapes-all-3", "mine.TSV",
                                                   "/gone/parti.jsonl"))
    assert not any(names_prompt_set(name) for name in ("oops", "", "shapes-cats-3", "shapes-count-x", "notes.md"))


def test_prompt_file_loaders(tmp_path):
    text = tmp_path / "mine.txt"
    text.write_text("a red circle\n\n# a comment\na photo of a cat\n")
    assert [(p.prompt, p.category, p.judged) for p in load_prompts(str(text))] == [
        ("a red circle", "mine", True), ("a photo of a cat", "mine", False)]
    parti = tmp_path / "PartiPrompts.tsv"
    parti.write_text("Prompt\tCategory\tChallenge\tNote\nA tiger\tAnimals\tSimple Detail\t\n"
                     "two blue squares\tWorld\tQuantity\tours\n")
    loaded = load_prompts(str(parti))
    assert [(p.prompt, p.category, p.judged) for p in loaded] == [("A tiger", "Animals", False),
                                                                  ("two blue squares", "World", True)]
    geneval = tmp_path / "evaluation_metadata.jsonl"
    geneval.write_text('{"tag": "single_object", "include": [{"class": "bench", "count": 1}], '
                       '"prompt": "a photo of a bench"}\n{"tag": "counting", "prompt": "three red circles"}\n')
    assert [(p.category, p.judged) for p in load_prompts(str(geneval))] == [("single_object", False), ("counting", True)]


@pytest.mark.parametrize("name,content,line", [
    ("bad.tsv", "Prompt\tCategory\nA tiger\tAnimals\nonly-one-column\n", ":3:"),
    ("bad.csv", "caption,category\nx,y\n", ":1:"),
    ("bad.jsonl", '{"prompt": "a red circle"}\n{"prompt": \n', ":2:"),
    ("empty.jsonl", '{"prompt": ""}\n', ":1:"),
])
def test_malformed_prompt_files_name_file_and_line(tmp_path, name, content, line):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(PromptSetError, match=f"{name}{line}"):
        load_prompts(str(path))


def test_references_show_what_their_prompt_asks():
    for item in load_prompts("shapes-quick"):
        assert judge(item.target, reference_image(item.target, seed=3))["full"], item.prompt
    assert reference_image("two red circles", 5).tobytes() == reference_image("two red circles", 5).tobytes()


# ---------------------------------------------------------------- the run store
@pytest.fixture
def evaluator_clip(tmp_path_factory, tiny_text_encoder, monkeypatch):
    folder = tmp_path_factory.mktemp("clip")
    tiny_text_encoder.save_pretrained(folder)  # a tiny stand-in for the world's evaluator CLIP
    monkeypatch.setenv(features.EVALUATOR_CLIP_ENV, str(folder))
    return folder


@pytest.fixture
def tiny_registry(monkeypatch, tiny_generator):
    import models.registry
    monkeypatch.setattr(models.registry, "load", lambda name, device="cpu": tiny_generator)


def _options(out, **extra) -> RunOptions:
    return RunOptions(models=["tiny"], prompts="shapes-single-3", out=str(out), guidance=[1.0, 3.0], steps=[2],
                      samplers=["ddim"], n=2, device="cpu", **{"floor": False, **extra})  # the run alone: no floor row


def _table(out) -> list[dict]:
    return sorted(({k: v for k, v in row.items() if k != "latency_s"} for row in RunStore(out).rows().values()),
                  key=lambda r: r["key"])


def _metrics(out) -> list[dict]:
    records = json.loads((pathlib.Path(out) / "metrics.json").read_text())["records"]
    return [{k: v for k, v in r.items() if k != "images_per_s"} for r in records]


def test_run_writes_everything_once_and_a_rerun_generates_nothing(tmp_path, evaluator_clip, tiny_registry):
    first = run(_options(tmp_path / "run"))
    assert first["generated"] == first["images"] == 3 * 2 * 2
    pngs = sorted((tmp_path / "run" / "images").rglob("*.png"))
    assert len(pngs) == 12 and len({p.name for p in pngs}) == 6  # one name per (prompt, sample, seed) per setting
    assert "ddim-2steps-g3" in {p.parent.name for p in pngs}
    lines = (tmp_path / "run" / "rows.jsonl").read_text().splitlines()
    assert len(lines) == 12 and len({json.loads(line)["key"] for line in lines}) == 12
    second = run(_options(tmp_path / "run"))
    assert second["generated"] == 0 and second["images"] == 12
    records = json.loads((tmp_path / "run" / "metrics.json").read_text())["records"]
    assert {r["setting"] for r in records} == {"ddim-2steps-g1", "ddim-2steps-g3"}
    for record in records:
        assert record["n"] == 6 and record["fid"]["world"] >= 0 and len(record["kid"]["world"]) == 2
        assert 0 <= record["clip_score"][0] <= 100 and "single" in record["accuracy"]
    report = (tmp_path / "run" / "report.md").read_text()
    assert "FID (world)" in report and "fid_vs_clip.png" in report and "grid-g1.png" in report
    html = (tmp_path / "run" / "report.html").read_text()
    assert "data:image/png;base64," in html and "<table>" in html  # self-contained
    csv_lines = (tmp_path / "run" / "images.csv").read_text().splitlines()
    assert len(csv_lines) == 13 and csv_lines[0].startswith("key,model,family")


def test_a_retrained_model_cannot_reuse_its_predecessors_images(tmp_path, evaluator_clip, tiny_registry, monkeypatch):
    import models.registry
    monkeypatch.setattr(models.registry, "checkpoint_fingerprint", lambda name: "weights-v1")
    options = dataclasses.replace(_options(tmp_path / "run"), n=1, guidance=[3.0])
    assert run(options)["generated"] == 3
    assert json.loads((tmp_path / "run" / "run.json").read_text())["checkpoints"] == {"tiny": "weights-v1"}
    assert run(options)["generated"] == 0  # same checkpoint: nothing to redo
    monkeypatch.setattr(models.registry, "checkpoint_fingerprint", lambda name: "weights-v2")
    with pytest.raises(ValueError, match="images of tiny from another checkpoint"):
        run(options)


def test_seeds_are_per_prompt_and_sample_and_shared_across_settings(tmp_path, evaluator_clip, tiny_registry):
    run(_options(tmp_path / "run"))
    rows = RunStore(tmp_path / "run").rows().values()
    seeds = {(r["prompt_index"], r["sample"]): set() for r in rows}
    for r in rows:
        seeds[(r["prompt_index"], r["sample"])].add(r["seed"])
    assert all(len(s) == 1 for s in seeds.values())  # the same seed under every setting
    assert len({next(iter(s)) for s in seeds.values()}) == 6


def test_crash_states_recover_to_exactly_once(tmp_path, evaluator_clip, tiny_registry):
    reference = tmp_path / "uninterrupted"
    run(_options(reference))
    crashed = tmp_path / "crashed"
    run(_options(crashed))
    rows_file = crashed / "rows.jsonl"
    lines = rows_file.read_text().splitlines()
    lost = json.loads(lines[4])
    # a kill between writing an image and its row, a half-written row, a stray temporary file, a lost image
    rows_file.write_text("\n".join(lines[:4] + lines[5:-1]) + "\n" + lines[-1][: len(lines[-1]) // 2])
    (crashed / lost["file"]).with_name(".p9999.png.tmp").write_bytes(b"partial")
    victim = json.loads(lines[7])
    (crashed / victim["file"]).unlink()
    (crashed / "metrics.json").unlink()
    again = run(_options(crashed))
    assert again["generated"] == 1  # only the deleted image is made again
    assert _table(crashed) == _table(reference)
    # the remade image is measured again, its float32 features in another batch: equal to 1e-6
    assert same_numbers(_metrics(crashed), _metrics(reference))
    assert not list(crashed.rglob("*.tmp"))
    assert len((crashed / "rows.jsonl").read_text().splitlines()) == 12


def test_run_rejects_bad_input_with_one_line(tmp_path, evaluator_clip, tiny_registry, capsys):
    with pytest.raises(SystemExit, match="no prompt set"):
        evaluation_main(["run", "--models", "tiny", "--prompts", "nope", "--out", str(tmp_path / "r")])
    with pytest.raises(SystemExit):
        evaluation_main(["run", "--models", "tiny", "--guidance", "nan", "--out", str(tmp_path / "r")])
    assert "guidance scales must be finite" in capsys.readouterr().err
    run(_options(tmp_path / "r"))
    with pytest.raises(SystemExit, match="holds a run on prompts"):
        evaluation_main(["run", "--models", "tiny", "--prompts", "shapes-quick", "--out", str(tmp_path / "r")])


def test_report_command_rebuilds_reports(tmp_path, evaluator_clip, tiny_registry, capsys):
    run(_options(tmp_path / "run"))
    for name in ("report.md", "report.html", "metrics.json"):
        (tmp_path / "run" / name).unlink()
    evaluation_main(["report", str(tmp_path / "run")])
    assert "report.md" in capsys.readouterr().out
    assert (tmp_path / "run" / "report.html").is_file() and (tmp_path / "run" / "metrics.json").is_file()


# ---------------------------------------------------------------- SIGKILL, for real
@pytest.fixture(scope="module")
def tiny_sd(tmp_path_factory):
    from models.tiny_hub import tiny_stable_diffusion
    root = tmp_path_factory.mktemp("hub")
    tiny_stable_diffusion(root / "work").save_pretrained(root / "tiny-sd")
    return root / "tiny-sd"


def _command(out, model) -> list[str]:
    return [sys.executable, "-m", "evaluation", "run", "--models", f"hub:{model}", "--prompts", "shapes-single-4",
            "--guidance", "1,3", "--steps", "2", "--n", "2", "--device", "cpu", "--no-floor", "--out", str(out)]


def test_sigkill_then_rerun_equals_an_uninterrupted_run(tmp_path, tiny_sd, evaluator_clip):
    import blocking_model  # tests/blocking_model.py: the tiny pipeline, which can hold a run until it is killed

    def command(out) -> list[str]:
        command = _command(out, tiny_sd)
        command[command.index("--models") + 1] = "blocking_model:tiny_sd"
        return command

    env = {**os.environ, features.EVALUATOR_CLIP_ENV: str(evaluator_clip), "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(REPO / "tests"), *filter(None, [os.environ.get("PYTHONPATH")])]),
           blocking_model.HUB: str(tiny_sd)}
    subprocess.run(command(tmp_path / "whole"), env=env, check=True, cwd=REPO, capture_output=True)
    killed = tmp_path / "killed"
    # the first batch (8 images: one guidance scale) is written, then the run blocks: it cannot end before the kill
    process = subprocess.Popen(command(killed), env={**env, blocking_model.BLOCK_AFTER: "8"}, cwd=REPO,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 600  # only against a hang: the loop ends on the rows, not on a clock
        rows = killed / "rows.jsonl"
        while process.poll() is None and time.monotonic() < deadline:
            if rows.is_file() and len(rows.read_text().splitlines()) >= 5:
                break
            time.sleep(0.02)
        assert process.poll() is None, f"the run ended (status {process.returncode}) though it blocks after 8 images"
        assert len(rows.read_text().splitlines()) >= 5, "no 5 rows within 10 minutes"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert not (killed / "report.md").exists()
    subprocess.run(command(killed), env=env, check=True, cwd=REPO, capture_output=True)
    assert _table(killed) == _table(tmp_path / "whole")
    assert len(_table(killed)) == 16
    assert _metrics(killed) == _metrics(tmp_path / "whole")
    assert len((killed / "rows.jsonl").read_text().splitlines()) == 16


def test_demo_evaluation_tab_shows_the_latest_run(tmp_path, evaluator_clip, tiny_registry):
    from demo.evaluation_tab import run_dirs, view

    text, pictures = view(tmp_path, None)
    assert "No evaluation runs" in text and pictures == []
    run(_options(tmp_path / "older"))
    run(_options(tmp_path / "newer"))
    os.utime(tmp_path / "older" / "metrics.json", (time.time() - 60, time.time() - 60))
    assert [p.name for p in run_dirs(tmp_path)] == ["newer", "older"]
    text, pictures = view(tmp_path, None)
    assert text.startswith("**newer**") and "| tiny |" in text and "FID (world)" in text
    captions = [caption for _, caption in pictures]
    assert "FID vs CLIP score across guidance" in captions and "images, g3" in captions


def test_two_processes_shard_the_images_and_merge_the_metric_states(tmp_path, tiny_sd, evaluator_clip):
    """torchrun (what `accelerate launch` does too) on CPU with the gloo backend: half the images each, one table,
    and FID from torchmetrics' merged float64 sums equal to a single process's."""
    env = {**os.environ, features.EVALUATOR_CLIP_ENV: str(evaluator_clip), "OMP_NUM_THREADS": "1"}
    subprocess.run(_command(tmp_path / "one", tiny_sd), env=env, check=True, cwd=REPO, capture_output=True)
    command = _command(tmp_path / "two", tiny_sd)
    command[command.index("--n")] = "--samples"  # torchrun's own options would swallow --n
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", *command[1:]],
                   env=env, check=True, cwd=REPO, capture_output=True, timeout=300)
    assert _table(tmp_path / "two") == _table(tmp_path / "one")
    for two, one in zip(_metrics(tmp_path / "two"), _metrics(tmp_path / "one")):
        assert two["fid"]["world"] == pytest.approx(one["fid"]["world"], rel=1e-9)
        assert two["clip_score"] == one["clip_score"] and two["accuracy"] == one["accuracy"]


def test_a_layout_aware_model_runs_both_layout_sources_and_records_its_layouts(tmp_path, evaluator_clip, monkeypatch,
                                                                              tiny_layout_generator):
    import models.registry
    monkeypatch.setattr(models.registry, "load", lambda name, device="cpu": tiny_layout_generator)
    options = dataclasses.replace(_options(tmp_path / "run"), prompts="shapes-pair-2", n=1, guidance=[3.0],
                                  layout=["planner", "none"])
    assert run(options)["generated"] == 4
    rows = list(RunStore(tmp_path / "run").rows().values())
    by_setting = {r["setting"]: r for r in rows if r["prompt_index"] == 0}
    assert set(by_setting) == {"ddim-2steps-g3", "ddim-2steps-g3-nolayout"}
    planned = json.loads(by_setting["ddim-2steps-g3"]["layout"])
    assert len(planned["objects"]) == 2 and planned["relation"] in by_setting["ddim-2steps-g3"]["prompt"]
    assert by_setting["ddim-2steps-g3-nolayout"]["layout"] is None
    assert all(r["planned_caption"] == r["prompt"] for r in rows)  # world captions plan to themselves
    assert run(options)["generated"] == 0


def test_a_model_lacking_the_asked_sampler_runs_its_own_and_stays_in_the_report(tmp_path, evaluator_clip, monkeypatch,
                                                                              tiny_generator, tiny_text_encoder):
    """--samplers ddim and a flow model (euler, heun): the flow takes euler, and its rows are the run's too."""
    import models.registry
    from models.diffusion.flow import FlowSchedule
    from models.diffusion.generator import DiffusionGenerator, diffusion_info
    from models.diffusion.unet import UNET_CONFIGS, build_unet, unet_denoiser

    torch.manual_seed(0)
    unet = build_unet(UNET_CONFIGS["tiny"], cross_attention_dim=tiny_text_encoder.config.text_width).eval()
    flow = DiffusionGenerator(diffusion_info("tiny-flow", "flow", 0, default_steps=2, flow=True), unet_denoiser(unet),
                              tiny_text_encoder, FlowSchedule(), sample_shape=(3, 32, 32))
    generators = {"tiny": tiny_generator, "tiny-flow": flow}
    monkeypatch.setattr(models.registry, "load", lambda name, device="cpu": generators[name])
    options = dataclasses.replace(_options(tmp_path / "run"), models=["tiny", "tiny-flow"], guidance=[3.0], n=1)
    result = run(options)
    assert {(row["model"], row["setting"]) for row in result["rows"].values()} == {
        ("tiny", "ddim-2steps-g3"), ("tiny-flow", "euler-2steps-g3")}
    assert result["images"] == 6 and "| tiny-flow | flow | euler | 2 |" in (tmp_path / "run" / "report.md").read_text()
    again = run(options)
    assert again["generated"] == 0 and again["images"] == 6  # a rerun keeps them too


def test_an_image_replaced_under_its_old_key_is_measured_again(tmp_path, evaluator_clip, tiny_registry):
    """Rows rerun in place (a healed file, a model's rows removed and run again) keep their keys: the metrics and
    the feature cache follow the images' bytes, not their names."""
    from PIL import Image

    options = dataclasses.replace(_options(tmp_path / "run"), guidance=[3.0], n=1)
    run(options)
    before = json.loads((tmp_path / "run" / "metrics.json").read_text())["records"]
    row = next(r for r in RunStore(tmp_path / "run").rows().values() if r["model"] == "tiny")
    Image.new("RGB", (32, 32), "white").save(tmp_path / "run" / row["file"])  # same name, other bytes
    assert run(options)["generated"] == 0
    after = json.loads((tmp_path / "run" / "metrics.json").read_text())["records"]
    fid = {record["model"]: record["fid"]["world"] for record in before}, \
        {record["model"]: record["fid"]["world"] for record in after}
    assert fid[0]["tiny"] != fid[1]["tiny"]
    with np.load(tmp_path / "run" / "features-world.npz") as cached:
        files = [i.rsplit("@", 1)[0] for i in cached["ids"].tolist() if i.startswith("images/")]
    assert len(files) == len(set(files)) == 3  # the replaced image's old features are gone
