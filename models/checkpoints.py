"""Checkpoint folders: components saved the diffusers way plus a generator.json manifest.

Weights are safetensors only; nothing is pickled.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pathlib
import platform
import re
import time

import torch
from safetensors.torch import load_file, save_file

from models.files import atomic_path, atomic_write
from world import WORLD_VERSION

CHECKPOINT_ROOT = pathlib.Path(__file__).parent / "checkpoints"
MANIFEST = "generator.json"
CONFIG = "config.json"  # a component's config and weights, side by side in its folder (the diffusers layout)
COMPONENT_WEIGHTS = "model.safetensors"
WEIGHT_SUFFIXES = (".safetensors",)
CONFIG_SUFFIXES = (".json",)
DIGEST = re.compile(r"[0-9a-f]{64}")
JSON_TYPES = {list: "a list", str: "a string", int: "a number", float: "a number", bool: "a boolean",
              type(None): "null"}


class CheckpointError(RuntimeError):
    """A checkpoint folder is missing, incomplete or does not match its manifest."""


def sha256(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _shipped(folder: pathlib.Path, suffixes: tuple[str, ...]) -> list[pathlib.Path]:
    # parts relative to the folder: a folder that itself sits under some "train_state" still counts
    return sorted(p for p in folder.rglob("*") if p.suffix in suffixes and p.name != MANIFEST
                  and "train_state" not in p.relative_to(folder).parts and p.is_file())


def weight_files(folder: pathlib.Path) -> list[pathlib.Path]:
    """Every weight file a generator folder ships (training state excluded)."""
    return _shipped(pathlib.Path(folder), WEIGHT_SUFFIXES)


def checkpoint_files(folder: pathlib.Path) -> list[pathlib.Path]:
    """Every weight and config file a generator folder ships: what its manifest hashes."""
    return _shipped(pathlib.Path(folder), WEIGHT_SUFFIXES + CONFIG_SUFFIXES)


def write_manifest(folder: pathlib.Path, *, name: str, family: str, components: dict, command: str,
                   steps: int, wall_time_s: float, data: str, metrics: dict, extra: dict | None = None,
                   world_version: int | str = WORLD_VERSION) -> dict:
    folder = pathlib.Path(folder)
    manifest = {
        "name": name,
        "family": family,
        "world_version": str(world_version),  # the world the weights were trained on
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
        "sha256": {p.relative_to(folder).as_posix(): sha256(p) for p in checkpoint_files(folder)},
        **(extra or {}),
    }
    atomic_write(folder / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    return manifest


def read_manifest(folder: pathlib.Path, verify: bool = True) -> dict:
    """Load a manifest (a JSON object); with verify, check every file against its recorded sha256."""
    folder = pathlib.Path(folder)
    path = folder / MANIFEST
    manifest = _load_manifest(path)
    if verify:
        verify_files(folder, manifest, path)
    return manifest


def _load_manifest(path: pathlib.Path) -> dict:
    if not path.is_file():
        raise CheckpointError(f"no {MANIFEST} in {path.parent}: train it with `python -m models train` first")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{path} is not valid JSON ({error.msg}, line {error.lineno})") from None
    except (UnicodeDecodeError, RecursionError):
        raise CheckpointError(f"{path} is not valid JSON (not UTF-8 text, or nested too deeply)") from None
    if not isinstance(manifest, dict):
        raise CheckpointError(f"{path} holds {JSON_TYPES.get(type(manifest), 'a JSON value')}, not a JSON object: "
                              f"retrain or restore the checkpoint")
    return manifest


def verify_files(folder: pathlib.Path, manifest: dict, path: pathlib.Path) -> None:
    """Every weight and config file of the folder is listed, only files inside the folder are listed,
    and each matches its digest."""
    listed = _listed(folder, manifest.get("sha256"), path)
    for file in checkpoint_files(folder):
        if file.resolve() not in listed:
            raise CheckpointError(f"{file} is not listed in the sha256 of {path}: retrain or restore the checkpoint")
    for file, (shown, expected) in listed.items():
        if not file.is_file():
            raise CheckpointError(f"{folder / shown} is missing (listed in {path})")
        if sha256(file) != expected:
            raise CheckpointError(f"{folder / shown} does not match the sha256 in {path}: "
                                  f"the file is corrupt or was replaced")


def _listed(folder: pathlib.Path, hashes, path: pathlib.Path) -> dict[pathlib.Path, tuple[str, str]]:
    """The manifest's sha256 map as {resolved file: (name as listed, digest)}, every entry checked."""
    if not isinstance(hashes, dict) or not hashes:
        raise CheckpointError(f"{path} lists no sha256 of its files, so they cannot be verified: "
                              f"retrain or restore the checkpoint")
    root = folder.resolve()
    listed = {}
    for relative, expected in hashes.items():
        file = (root / relative).resolve()
        # checked before the file is looked at: the answer must not tell whether an outside path exists
        if pathlib.PurePath(relative).is_absolute() or ".." in pathlib.PurePath(relative).parts \
                or not file.is_relative_to(root) or file == root:
            raise CheckpointError(f"{path} lists {relative[:80]!r}, outside the checkpoint folder: "
                                  f"a manifest may name only files inside it")
        if not isinstance(expected, str) or not DIGEST.fullmatch(expected):
            raise CheckpointError(f"{path} records no valid sha256 for {relative[:80]!r} (64 hex digits expected)")
        listed[file] = (relative, expected)
    return listed


def pin(folder: pathlib.Path, target: pathlib.Path, weights: str) -> dict:
    """How a checkpoint records a frozen component it was trained against: relative path + sha256."""
    return {"path": os.path.relpath(pathlib.Path(target).resolve(), pathlib.Path(folder).resolve()),
            "sha256": sha256(pathlib.Path(target) / weights)}


def resolve_pin(folder: pathlib.Path, pinned: dict, weights: str) -> pathlib.Path:
    """The pinned component's folder, after checking its weights are the very ones trained against."""
    if not (isinstance(pinned, dict) and isinstance(pinned.get("path"), str) and isinstance(pinned.get("sha256"), str)):
        raise CheckpointError(f"{pathlib.Path(folder) / MANIFEST} has a malformed pin {str(pinned)[:60]!r}: "
                              f"retrain or restore the checkpoint")
    target = (pathlib.Path(folder) / pinned["path"]).resolve()
    if not (target / weights).is_file() or sha256(target / weights) != pinned["sha256"]:
        raise CheckpointError(f"{pathlib.Path(folder).name} was trained against another {target.name} than {target}")
    return target


def save_config_and_weights(folder: pathlib.Path, config, state_dict: dict[str, torch.Tensor]) -> None:
    """A component folder: config.json (the config dataclass, indented by 2) beside model.safetensors. These bytes
    are what shipped manifests digest, so the format must not change."""
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(folder / CONFIG, json.dumps(dataclasses.asdict(config), indent=2) + "\n")
    with atomic_path(folder / COMPONENT_WEIGHTS) as temporary:
        save_file({k: v.detach().contiguous().cpu() for k, v in state_dict.items()}, temporary)


def load_config_and_weights(folder: pathlib.Path, config_class) -> tuple:
    """(config, state dict) of a component folder; config_class.from_dict reads the JSON where the class has one."""
    folder = pathlib.Path(folder)
    try:
        saved = json.loads((folder / CONFIG).read_text(encoding="utf-8"))
        from_dict = getattr(config_class, "from_dict", None)
        config = from_dict(saved) if from_dict is not None else config_class(**saved)
        return config, load_file(folder / COMPONENT_WEIGHTS)
    except CheckpointError:  # the config's own one line (a retired field, say)
        raise
    except Exception as error:  # a missing file, bad JSON, an unknown field, a safetensors header error
        raise CheckpointError(f"cannot load {folder}: {_first_line(error)}") from None


def load_weights_into(network: torch.nn.Module, state_dict: dict[str, torch.Tensor],
                      folder: pathlib.Path) -> torch.nn.Module:
    """network with state_dict loaded; a missing, unexpected or misshapen tensor is one line naming the folder."""
    try:
        network.load_state_dict(state_dict)
    except RuntimeError as error:
        raise CheckpointError(f"cannot load {folder}: {_first_line(error)}") from None
    return network


def _first_line(error: BaseException) -> str:
    return (str(error).splitlines() or [type(error).__name__])[0]
