"""The Hugging Face Space folder: front matter, requirements, and an app that starts from it alone."""
import pathlib
import subprocess
import sys
import tomllib

import gradio

ROOT = pathlib.Path(__file__).parents[1]
CONFIG = ROOT / "spaces_config"


def front_matter() -> dict:
    text = (CONFIG / "README.md").read_text(encoding="utf-8")
    block = text.split("---")[1]
    return {k.strip(): v.strip().strip('"') for k, v in (line.split(":", 1) for line in block.strip().splitlines())}


def test_front_matter_has_what_spaces_need_and_pins_the_tested_gradio():
    meta = front_matter()
    for key in ("title", "emoji", "sdk", "sdk_version", "app_file", "python_version", "suggested_hardware",
                "short_description", "license"):
        assert meta.get(key), key
    assert meta["sdk"] == "gradio" and meta["sdk_version"] == gradio.__version__
    assert (CONFIG / meta["app_file"]).is_file() and len(meta["short_description"]) <= 60


def test_requirements_are_the_project_dependencies_but_gradio():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    listed = [line.strip() for line in (CONFIG / "requirements.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    assert sorted(listed) == sorted(d for d in project if not d.startswith("gradio"))


def test_built_space_folder_starts_the_app_on_its_own(tmp_path):
    out = tmp_path / "space"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "build_space.py"), str(out)], check=True, timeout=120)
    files = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert {"app.py", "README.md", "requirements.txt", "models/checkpoints/ddpm/generator.json"} <= files
    assert not any("train_state" in f or f.startswith("tests") for f in files)
    # the entry point imports and builds the app from the Space folder alone
    result = subprocess.run([sys.executable, "-c", "import app; print(type(app.demo).__name__)"], cwd=out,
                            capture_output=True, text=True, timeout=300,
                            env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "Blocks"


def test_zero_gpu_decorator_wraps_every_function_that_generates():
    from demo.app import build

    decorated = []
    build(["ddpm"], gpu=lambda fn: decorated.append(fn.__name__) or fn)
    assert sorted(decorated) == ["arena_battle", "compare", "generate_one", "sweep"]
