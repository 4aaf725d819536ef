"""Install a trained checkpoint as a shipped model: copy an exported folder into models/checkpoints/NAME.

`python -m models train ... --out RUN` writes RUN/generator.json, the weights and RUN/train_state. This copies
the manifest and the weights (never train_state), re-points the pinned frozen components (text encoder, VAE) at
their shipped folders after checking their sha256, and records in the manifest where the run was trained, so
the manifest's command still says exactly what ran.

    python scripts/install_checkpoint.py /work/runs/dit-v dit
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from models.checkpoints import (CHECKPOINT_ROOT, MANIFEST, CheckpointError, checkpoint_files,  # noqa: E402
                                read_manifest, sha256)
from models.registry import BUILTIN  # noqa: E402


def _repin(run: pathlib.Path, target: pathlib.Path, components: dict) -> None:
    """Each pinned component ({"path", "sha256"}) re-pointed at the shipped folder of the same name
    (models/checkpoints/text-encoder, .../vae), which must hold the very weights the run was trained against:
    a run trained in another checkout must not ship a path into that checkout."""
    for part in components.values():
        pins = [part] + [v for v in part.values() if isinstance(v, dict)] if isinstance(part, dict) else []
        for pin in pins:
            if isinstance(pin.get("path"), str) and isinstance(pin.get("sha256"), str):
                shipped = CHECKPOINT_ROOT / (run / pin["path"]).resolve().name
                pin["path"] = os.path.relpath(shipped.resolve(), target.resolve())
                weights = [f for f in checkpoint_files(shipped) if f.suffix == ".safetensors"] if shipped.is_dir() else []
                if not any(sha256(f) == pin["sha256"] for f in weights):
                    raise CheckpointError(f"{run.name} was trained against a {shipped.name} other than the shipped "
                                          f"{shipped}")


def install(run: pathlib.Path, name: str) -> pathlib.Path:
    manifest = read_manifest(run)  # every weight and config file checked against its sha256
    target = CHECKPOINT_ROOT / name
    if manifest.get("name") != name:
        raise CheckpointError(f"{run} holds {manifest.get('name')!r}, not {name!r}")
    _repin(run, target, manifest["components"])  # before anything is replaced: a bad pin changes nothing
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for item in run.iterdir():
        if item.name not in ("train_state", MANIFEST):
            (shutil.copytree if item.is_dir() else shutil.copy2)(item, target / item.name)
    manifest["training"]["trained_in"] = str(run)
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    if name in BUILTIN:  # it loads from its new place: files and pins checked
        BUILTIN[name][0]("cpu")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=pathlib.Path, help="the folder `python -m models train --out` wrote")
    parser.add_argument("name", help="the shipped model it becomes (models/checkpoints/NAME)")
    args = parser.parse_args()
    try:
        print(f"installed {install(args.run, args.name)}")
    except (CheckpointError, OSError, KeyError) as error:
        raise SystemExit(f"error: {str(error).splitlines()[0]}")


if __name__ == "__main__":
    main()
