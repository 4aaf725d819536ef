"""The Python API, user generators (objects, pipelines, callables, package.module:attribute) and images made
elsewhere scored into a run: what a user outside the project touches."""
from __future__ import annotations

import json
import sys
import textwrap

import pytest
from PIL import Image

import evaluation
from evaluation.__main__ import main
from evaluation.api import flat_record
from evaluation.runs.custom_models import CallableGenerator, adapt, same_seed_runs
from evaluation.runs.image_folders import ImageFolderError, export_prompts, read_folder
from evaluation.prompts import load_prompts
from models.contract import GenerationError, ImageRequest
from world.references import reference_image

SET = "shapes-single-3"  # three single-object world prompts: the judge grades them


def drawn(prompts, seed):
    """A perfect 'model': the world's own rendering of each caption."""
    return [reference_image(prompt, seed + index) for index, prompt in enumerate(prompts)]


def blank(prompts, seed):
    return [Image.new("RGB", (32, 32), "white") for _ in prompts]


def test_api_runs_a_callable_beside_a_builtin_and_returns_the_table(tmp_path):
    results = evaluation.run(models=["gan", drawn], prompts=SET, guidance=[3], n=2, out=tmp_path / "run",
                             device="cpu")
    by_model = {row["model"]: row for row in results.table}
    assert set(by_model) == {"gan", "drawn", "world"}  # world: the noise floor (evaluation/metrics/noise_floor.py)
    assert by_model["drawn"]["accuracy_single"] == 1.0  # the renders are exactly what the captions ask
    assert by_model["drawn"]["family"] == "custom" and by_model["drawn"]["setting"] == "one-pass"
    assert {"accuracy_single_low", "accuracy_single_high", "clip_score", "images_per_s"} <= set(by_model["drawn"])
    assert len(results.rows) == 3 * 3 * 2 and results.report_md.is_file() and results.generated == 18
    frame = results.dataframe()
    assert list(frame["model"]) == [r["model"] for r in results.table]
    again = evaluation.run(models=["gan", drawn], prompts=SET, guidance=[3], n=2, out=tmp_path / "run", device="cpu")
    assert again.generated == 0 and again.table == results.table  # the same resumable store as the CLI


def test_a_callable_keeps_each_images_stream():
    generator = CallableGenerator(drawn, "drawn")
    requests = [ImageRequest("a red circle", 5, 0), ImageRequest("a blue square", 5, 1),
                ImageRequest("a red circle", 9, 3)]
    assert [len(run) for run in same_seed_runs(requests)] == [2, 1]
    images = generator.generate_requests(requests)
    assert images[2].tobytes() == drawn(["a red circle"] * 4, 9)[3].tobytes()  # index 3 of seed 9, as asked
    assert generator.info.guidance_applies is False and "inferred" in generator.info.description


@pytest.mark.parametrize("returned, message", [
    (lambda prompts, seed: blank(prompts, seed)[:-1], "bad returned 1 images for 2 prompts"),
    (lambda prompts, seed: "not images", "bad returned a str, not a list of PIL images"),
    (lambda prompts, seed: [Image.new("L", (32, 32))] * len(prompts), "bad returned a mode 'L' image at position 0"),
    (lambda prompts, seed: [None] * len(prompts), "bad returned a NoneType at position 0, not a PIL image"),
])
def test_a_generator_returning_the_wrong_thing_is_one_line(returned, message):
    with pytest.raises(GenerationError) as caught:
        adapt(returned, "bad").generate(["a red circle", "a blue square"], 0)
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)


def test_a_contract_object_is_checked_too(tiny_generator):
    class Shortchanging:
        info = tiny_generator.info

        def generate(self, prompts, seed, **options):
            return tiny_generator.generate(prompts, seed, **options)[:1]

    with pytest.raises(GenerationError, match="returned 1 images for 2 prompts"):
        adapt(Shortchanging(), "short").generate(["a red circle", "a blue square"], 0)
    wrapped = adapt(tiny_generator, "tiny")
    assert wrapped.info is tiny_generator.info
    assert len(wrapped.generate_requests([ImageRequest("a red circle", 1)], steps=2, guidance_scale=1.0)) == 1


def _module(tmp_path, monkeypatch, name: str, body: str) -> None:
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(body))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))


def test_cli_takes_package_module_attribute(tmp_path, monkeypatch, capsys):
    _module(tmp_path, monkeypatch, "my_models_ok", """
        from world.references import reference_image

        def make(device="cpu"):  # a factory: called once, returns the generate callable
            return lambda prompts, seed: [reference_image(p, seed + i) for i, p in enumerate(prompts)]
        """)
    main(["run", "--models", "my_models_ok:make", "--prompts", SET, "--n", "1", "--out", str(tmp_path / "r"),
          "--device", "cpu"])
    rows = [json.loads(line) for line in (tmp_path / "r" / "rows.jsonl").read_text().splitlines()]
    assert {r["model"] for r in rows} == {"my_models_ok:make", "world"} and all(r["correct"] for r in rows)


@pytest.mark.parametrize("spec, body, message", [
    ("my_models_missing:nope", "x = 1\n", "error: --models my_models_missing:nope: my_models_missing has no "
                                          "attribute 'nope'"),
    ("my_models_absent_module:make", None, "error: --models my_models_absent_module:make: cannot import "
                                           "my_models_absent_module"),
    ("my_models_short:generate", "def generate(prompts, seed):\n    return []\n",
     "error: my_models_short:generate returned 0 images for 1 prompts"),
])
def test_cli_errors_are_one_line(tmp_path, monkeypatch, spec, body, message):
    if body is not None:
        _module(tmp_path, monkeypatch, spec.partition(":")[0], body)
    with pytest.raises(SystemExit) as caught:
        main(["run", "--models", spec, "--prompts", SET, "--n", "1", "--out", str(tmp_path / "r"),
              "--device", "cpu", "--batch-size", "1"])
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)
    sys.modules.pop(spec.partition(":")[0], None)


def _fill_geneval(folder, prompts, make) -> None:
    for index, item in enumerate(prompts):
        for sample in range(2):
            make([item.prompt], 1000 * index + sample)[0].save(folder / f"{index:05d}" / "samples" / f"{sample:04d}.png")


def test_images_made_elsewhere_score_beside_a_generated_model(tmp_path):
    prompts = load_prompts(SET)
    export_prompts(prompts, tmp_path / "cluster")
    assert len((tmp_path / "cluster" / "evaluation_metadata.jsonl").read_text().splitlines()) == 3
    _fill_geneval(tmp_path / "cluster", prompts, drawn)
    evaluation.run(models=["gan"], prompts=SET, guidance=[3], n=2, out=tmp_path / "run", device="cpu")
    results = evaluation.score(tmp_path / "cluster", SET, tmp_path / "run", model_name="my-cluster-model",
                               device="cpu")
    by_model = {row["model"]: row for row in results.table}
    assert set(by_model) == {"gan", "my-cluster-model", "world"}  # world: the run's noise floor
    assert by_model["my-cluster-model"]["accuracy_single"] == 1.0 and by_model["my-cluster-model"]["n"] == 6
    assert by_model["my-cluster-model"]["images_per_s"] is None  # made elsewhere: no time to report
    assert "my-cluster-model (images from " in results.report_md.read_text()
    # a later generated run into the same folder keeps the scored images in its report
    again = evaluation.run(models=["gan"], prompts=SET, guidance=[3], n=2, out=tmp_path / "run", device="cpu")
    assert {row["model"] for row in again.table} == {"gan", "my-cluster-model", "world"}


def test_flat_folder_with_images_csv(tmp_path):
    prompts = load_prompts(SET)
    lines = ["file,prompt,seed"]
    for index, item in enumerate(prompts):
        blank([item.prompt], 0)[0].save(tmp_path / f"img{index}.png")
        lines.append(f'img{index}.png,"{item.prompt}",{40 + index}')
    (tmp_path / "images.csv").write_text("\n".join(lines) + "\n")
    placed = read_folder(tmp_path, prompts)
    assert [(p.prompt_index, p.sample, p.seed) for p in placed] == [(0, 0, 40), (1, 0, 41), (2, 0, 42)]
    (tmp_path / "images.csv").write_text('file,prompt\nimg0.png,"a purple elephant"\n')
    with pytest.raises(ImageFolderError, match=r"images.csv:2: prompt 'a purple elephant' is not in the prompt set"):
        read_folder(tmp_path, prompts)


def test_score_cli_errors(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit) as caught:
        main(["score", str(tmp_path / "empty"), "--prompts", SET, "--out", str(tmp_path / "r")])
    assert str(caught.value).startswith("error: ") and "neither GenEval's layout" in str(caught.value)
    with pytest.raises(SystemExit, match="ddpm: that is a generator's name"):
        export_prompts(load_prompts(SET), tmp_path / "x")
        main(["score", str(tmp_path / "x"), "--prompts", SET, "--out", str(tmp_path / "r"), "--model-name", "ddpm"])


def test_flat_record_spreads_intervals():
    record = {"model": "m", "accuracy": {"single": [0.5, 0.2, 0.8]}, "kid": {"world": [0.01, 0.002]},
              "fid": {"world": 12.5}, "clip_score": None}
    assert flat_record(record) == {"model": "m", "accuracy_single": 0.5, "accuracy_single_low": 0.2,
                                   "accuracy_single_high": 0.8, "kid_world": 0.01, "kid_world_std": 0.002,
                                   "fid_world": 12.5, "clip_score": None}


def test_export_prompts_cli_refuses_a_folder_in_use(tmp_path, capsys):
    main(["export-prompts", SET, str(tmp_path / "job")])
    assert "3 prompts written" in capsys.readouterr().out
    first = json.loads((tmp_path / "job" / "00001" / "metadata.jsonl").read_text())
    assert first["prompt"] == load_prompts(SET)[1].prompt and first["tag"] == "single"
    with pytest.raises(SystemExit, match="exists and is not empty: choose a new folder"):
        main(["export-prompts", SET, str(tmp_path / "job")])


def test_api_refuses_bad_arguments_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="models must be a non-empty list"):
        evaluation.run(models="ddpm", out=tmp_path / "r")
    with pytest.raises(TypeError, match="unknown option\\(s\\) guidance_scale; known: "):
        evaluation.run(models=[drawn], out=tmp_path / "r", guidance_scale=3)
    assert not (tmp_path / "r").exists()


def test_accuracy_takes_package_module_attribute_too(tmp_path, monkeypatch, capsys):
    _module(tmp_path, monkeypatch, "my_models_acc", """
        from world.references import reference_image

        def make(device="cpu"):
            return lambda prompts, seed: [reference_image(p, seed + i) for i, p in enumerate(prompts)]
        """)
    main(["accuracy", "--models", "my_models_acc:make", "--task", "single-full", "--n", "4", "--guidance", "3"])
    line = capsys.readouterr().out.strip()
    assert line.startswith("my_models_acc:make single-full") and "full 1.000" in line  # renders are always right
    with pytest.raises(SystemExit) as caught:
        main(["accuracy", "--models", "my_models_acc:nope", "--n", "1"])
    assert str(caught.value) == "error: --models my_models_acc:nope: my_models_acc has no attribute 'nope'"
    sys.modules.pop("my_models_acc", None)
