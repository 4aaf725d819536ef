"""Assemble the Hugging Face Space folder: spaces_config/{app.py,README.md,requirements.txt} at its root,
the packages world/, models/ (shipped weights and manifests, no training state), evaluation/ and demo/ (with
demo/precomputed/, the run the Evaluation tab shows on a first visit).

    python scripts/build_space.py OUT        # then: hf upload YOUR-NAME/genbench OUT . --repo-type space
"""
from __future__ import annotations

import argparse
import pathlib
import shutil

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("world", "models", "evaluation", "demo")
SKIP = shutil.ignore_patterns("train_state", "__pycache__", "*.pyc", "samples_*.png")


def build_space(out: pathlib.Path) -> list[str]:
    out = pathlib.Path(out)
    if out.exists() and any(out.iterdir()):
        raise SystemExit(f"error: {out} is not empty; give a new folder")
    out.mkdir(parents=True, exist_ok=True)
    for name in ("app.py", "README.md", "requirements.txt"):
        shutil.copy2(ROOT / "spaces_config" / name, out / name)
    for package in PACKAGES:
        shutil.copytree(ROOT / package, out / package, ignore=SKIP)
    if not (out / "demo" / "precomputed" / "quick" / "metrics.json").is_file():
        raise SystemExit("error: demo/precomputed/quick is missing: the Space would open on an empty Evaluation tab")
    return sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=pathlib.Path, help="an empty or new folder")
    out = parser.parse_args().out
    files = build_space(out)
    size = sum((out / f).stat().st_size for f in files)
    print(f"wrote {len(files)} files ({size / 1e6:.1f} MB) to {out}")


if __name__ == "__main__":
    main()
