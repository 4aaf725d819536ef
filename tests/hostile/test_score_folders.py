"""`evaluation score` on GenEval folders: without --prompts each folder's own metadata.jsonl names the set; a
folder whose metadata disagrees with --prompts (or with the run's set) is refused in one line naming it."""
from __future__ import annotations

import json

import pytest

from evaluation.__main__ import main

SET = "shapes-single-3"


def _job(folder, prompts=SET):
    """export-prompts' layout, each sample the world's own render of its prompt."""
    from evaluation.prompts import load_prompts
    from evaluation.runs.image_folders import export_prompts
    from world.references import reference_image

    items = load_prompts(prompts)
    export_prompts(items, folder)
    for index, item in enumerate(items):
        for sample in range(2):
            reference_image(item.prompt, 1000 * index + sample).save(folder / f"{index:05d}" / "samples"
                                                                     / f"{sample:04d}.png")
    return folder


def _score(*argv):
    main(["score", *map(str, argv), "--device", "cpu", "--model-name", "elsewhere"])


def test_score_without_prompts_reads_each_folders_own_metadata(tmp_path, store_tiny, capsys):
    from evaluation.prompts import load_prompts

    job, out = _job(tmp_path / "job"), tmp_path / "run"
    _score(job, "--out", out)
    assert "6 images scored, 6 in the run" in capsys.readouterr().out
    kept = json.loads((out / "run.json").read_text())["prompts"]
    assert kept == str(out / "prompts.jsonl")  # later commands into the run take it as --prompts
    assert [i.prompt for i in load_prompts(kept)] == [i.prompt for i in load_prompts(SET)]
    rows = [json.loads(line) for line in (out / "rows.jsonl").read_text().splitlines()]
    assert {(r["prompt_index"], r["prompt"]) for r in rows} == {(j, i.prompt) for j, i in enumerate(load_prompts(SET))}
    assert all(r["correct"] for r in rows)  # world prompts are judged from the folders' own prompts too
    _score(job, "--out", out)  # again: nothing new
    assert "0 images scored, 6 in the run" in capsys.readouterr().out


def test_score_refuses_a_folder_whose_metadata_disagrees_with_prompts(tmp_path, store_tiny):
    job = _job(tmp_path / "job")
    record = json.loads((job / "00001" / "metadata.jsonl").read_text())
    (job / "00001" / "metadata.jsonl").write_text(json.dumps({**record, "prompt": "a green square"}) + "\n")
    with pytest.raises(SystemExit) as refused:
        _score(job, "--prompts", SET, "--out", tmp_path / "run")
    message = str(refused.value)
    assert message.startswith(f"error: {job / '00001' / 'metadata.jsonl'}: prompt 'a green square', but the prompt "
                              f"set holds ") and message.count("\n") == 0
    assert not (tmp_path / "run" / "rows.jsonl").exists()


def test_score_without_prompts_refuses_a_folder_disagreeing_with_the_runs_set(tmp_path, store_tiny):
    from hostile.run_folders import run_tiny

    out = tmp_path / "run"
    run_tiny(out, prompts="shapes-single-3")
    job = _job(tmp_path / "job", prompts="shapes-pair-2")
    with pytest.raises(SystemExit, match=r"^error: .*00000/metadata.jsonl: prompt .*, but the prompt set holds"):
        _score(job, "--out", out)


@pytest.mark.parametrize("damage, answer", [
    ("gap", r"prompt folders must be numbered 0 to N-1 to name the set themselves \(no folder 00001\); give --prompts"),
    ("flat", r"a flat folder \(images.csv\) names no prompt set of its own; give --prompts")])
def test_score_without_prompts_says_when_the_folder_cannot_name_its_set(tmp_path, store_tiny, damage, answer):
    import shutil

    job = _job(tmp_path / "job")
    if damage == "gap":
        shutil.rmtree(job / "00001")
    else:
        (job / "images.csv").write_text("file,prompt\n00000/samples/0000.png,a red circle\n")
    with pytest.raises(SystemExit, match=f"^error: .*{answer}$"):
        _score(job, "--out", tmp_path / "run")
