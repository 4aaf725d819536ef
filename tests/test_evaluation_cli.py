"""`python -m evaluation accuracy` as a script runs it: rows per model and guidance, tasks, planner, errors."""
import json
import subprocess
import sys


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evaluation", "accuracy", *args], capture_output=True, text=True,
                          timeout=300, env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})


def test_rows_for_each_guidance_with_the_attributes_of_the_task():
    result = run("--models", "ddpm", "--task", "pair", "--guidance", "1,3", "--steps", "2", "--n", "2", "--json")
    assert result.returncode == 0, result.stderr[-1500:]
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["task"], r["guidance"], r["n"]) for r in rows] == [("pair", 1.0, 2), ("pair", 3.0, 2)]
    assert all({"color_shape", "relation", "full"} <= set(r) for r in rows)


def test_the_script_turns_a_bad_argument_into_one_line():
    result = run("--planner", "oracle", "--n", "1")
    assert result.returncode != 0 and "Traceback" not in result.stderr and result.stderr.strip()


# --- in-process (no interpreter start-up; the registry loads each model once): the parser, the device and limit
# checks, perf ---

import pytest  # noqa: E402

from evaluation.__main__ import build_parser, main  # noqa: E402
from models.contract import MAX_GUIDANCE, MAX_STEPS  # noqa: E402


def exit_code(capsys, argv: list[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    return exit_.value.code, capsys.readouterr().err.strip()


def test_paraphrase_task_with_the_planner_reports_how_many_were_planned(capsys):
    capsys.readouterr()
    main(["accuracy", "--task", "paraphrase", "--planner", "rules", "--guidance", "3", "--steps", "2", "--n", "3",
          "--json"])
    row = json.loads(capsys.readouterr().out)
    assert row["planner"] == "rules" and row["planned"] == 1.0 and row["n"] == 3


@pytest.mark.parametrize("args", [["--planner", "oracle"], ["--models", "nope"], ["--guidance", "nan"], ["--n", "0"]])
def test_bad_arguments_are_one_line_errors(capsys, args):
    code, err = exit_code(capsys, ["accuracy", *args] if "--n" in args else ["accuracy", *args, "--n", "1"])
    said = err or str(code)  # fail() hands its line to SystemExit, which the interpreter prints on stderr
    assert code not in (0, None) and said.strip() and "Traceback" not in said, args


def test_every_subcommand_has_a_handler():
    parser = build_parser()
    for argv in (["run", "--models", "ddpm", "--out", "x"], ["report", "x"], ["fid", "a", "b"], ["stats", "a", "b"],
                 ["perf"], ["accuracy"]):
        assert callable(parser.parse_args(argv).run), argv


def test_guidance_and_steps_follow_the_contract_limits(capsys):
    args = build_parser().parse_args(["accuracy", "--guidance", f"0,{MAX_GUIDANCE:g}", "--steps", str(MAX_STEPS)])
    assert args.guidance == [0.0, MAX_GUIDANCE] and args.steps == MAX_STEPS
    for argv in (["accuracy", "--guidance", f"{MAX_GUIDANCE + 1:g}"], ["accuracy", "--steps", str(MAX_STEPS + 1)],
                 ["accuracy", "--steps", "2,3"], ["run", "--models", "ddpm", "--out", "x", "--steps", "0"]):
        code, err = exit_code(capsys, argv)
        assert code == 2 and "error:" in err, argv


def test_a_bad_device_is_one_line_and_status_2(capsys, tmp_path):
    for argv in (["accuracy", "--device", "gpu"], ["perf", "--device", "cuda:x"],
                 ["run", "--models", "ddpm", "--out", str(tmp_path / "run"), "--device", "tpu"]):
        code, err = exit_code(capsys, argv)
        assert code == 2 and err.startswith("error: unknown device") and "\n" not in err, argv
    assert not (tmp_path / "run").exists()


def test_perf_times_a_generator_and_points_to_the_demo_for_the_compare_latency(capsys):
    code, err = exit_code(capsys, ["perf", "--demo"])
    assert code == 2 and "python -m demo --time-compare" in err and "\n" not in err
    main(["perf", "--models", "gan", "--repeats", "1", "--sections", "models", "--json"])
    report = json.loads(capsys.readouterr().out)
    batching = report["batching"][0]
    assert batching["model"] == "gan" and batching["batched_images_per_s"] > 0
