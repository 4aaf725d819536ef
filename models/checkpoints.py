"""Checkpoint folders: components saved the diffusers way plus a generator.json manifest.

Weights are safetensors only; nothing is pickled.
"""
from __future__ import annotations

import hashlib
import json
import pathlib
import platform
import time

import torch

from models.files import atomic_write
from world import WORLD_VERSION

CHECKPOINT_ROOT = pathlib.Path(__file__).parent / "checkpoints"
MANIFEST = "generator.json"
WEIGHT_SUFFIXES = (".safetensors",)


class CheckpointError(RuntimeError):
    """A checkpoint folder is missing, incomplete or does not match its manifest."""


def sha256(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def weight_files(folder: pathlib.Path) -> list[pathlib.Path]:
    """Every weight file a generator folder ships (training state excluded)."""
    return sorted(p for p in folder.rglob("*") if p.suffix in WEIGHT_SUFFIXES and "train_state" not in p.parts)


def write_manifest(folder: pathlib.Path, *, name: str, family: str, components: dict, command: str,
                   steps: int, wall_time_s: float, data: str, metrics: dict, extra: dict | None = None) -> dict:
    folder = pathlib.Path(folder)
    manifest = {
        "name": name,
        "family": family,
        "world_version": WORLD_VERSION,
        "components": components,
        "training": {
            "command": command,
            "steps": steps,
            "wall_time_s": round(wall_time_s, 1),
            "data": data,
            "host": f"{platform.machine()} CPU x{torch.get_num_threads()} threads, torch {torch.__version__}",
            "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
        "metrics": metrics,
        "sha256": {str(p.relative_to(folder)): sha256(p) for p in weight_files(folder)},
        **(extra or {}),
    }
    atomic_write(folder / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    return manifest


def read_manifest(folder: pathlib.Path, verify: bool = True) -> dict:
    """Load a manifest; with verify, check every weight file against its recorded sha256."""
    folder = pathlib.Path(folder)
    path = folder / MANIFEST
    if not path.is_file():
        raise CheckpointError(f"no {MANIFEST} in {folder}: train it with `python -m models train` first")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{path} is not valid JSON ({error.msg}, line {error.lineno})") from None
    if verify:
        for relative, expected in manifest.get("sha256", {}).items():
            file = folder / relative
            if not file.is_file():
                raise CheckpointError(f"{file} is missing (listed in {path})")
            if sha256(file) != expected:
                raise CheckpointError(f"{file} does not match the sha256 in {path}: the file is corrupt or was replaced")
    return manifest


def pin(folder: pathlib.Path, target: pathlib.Path, weights: str) -> dict:
    """How a checkpoint records a frozen component it was trained against: relative path + sha256."""
    import os
    return {"path": os.path.relpath(pathlib.Path(target).resolve(), pathlib.Path(folder).resolve()),
            "sha256": sha256(pathlib.Path(target) / weights)}


def resolve_pin(folder: pathlib.Path, pinned: dict, weights: str) -> pathlib.Path:
    """The pinned component's folder, after checking its weights are the very ones trained against."""
    target = (pathlib.Path(folder) / pinned["path"]).resolve()
    if not (target / weights).is_file() or sha256(target / weights) != pinned["sha256"]:
        raise CheckpointError(f"{pathlib.Path(folder).name} was trained against another {target.name} than {target}")
    return target
