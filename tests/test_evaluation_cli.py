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


def test_paraphrase_task_with_the_planner_reports_how_many_were_planned():
    result = run("--task", "paraphrase", "--planner", "rules", "--guidance", "3", "--steps", "2", "--n", "3", "--json")
    assert result.returncode == 0, result.stderr[-1500:]
    row = json.loads(result.stdout)
    assert row["planner"] == "rules" and row["planned"] == 1.0 and row["n"] == 3


def test_bad_arguments_are_one_line_errors():
    for args in (["--planner", "oracle"], ["--models", "nope"], ["--guidance", "nan"], ["--n", "0"]):
        result = run(*args, "--n", "1") if "--n" not in args else run(*args)
        assert result.returncode != 0
        assert "Traceback" not in result.stderr and result.stderr.strip(), args
