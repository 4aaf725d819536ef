"""run.json's fields and the types a run gives them: a field of another type (or a prompt set name that names none)
is dropped, not trusted."""
from __future__ import annotations

import json
import numbers
import pathlib

from evaluation.prompts import names_prompt_set
from models.safe_files import FileRefused, read_bytes


def _text(value) -> bool:
    return isinstance(value, str)


def _integer(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _list_of(check):
    return lambda value: isinstance(value, list) and all(check(item) for item in value)


def _optional(check):
    return lambda value: value is None or check(value)


def _dict_of(check):
    return lambda value: isinstance(value, dict) and all(_text(k) and check(v) for k, v in value.items())


def _prompt_set(value) -> bool:  # a name of the right type that names no prompt set was planted, not written by us
    return _text(value) and names_prompt_set(value)


# what `evaluation run` and `evaluation score` write (evaluation.runs.sweep.RunOptions and the records beside it)
FIELD_TYPES = {
    "models": _list_of(_text), "prompts": _prompt_set, "out": _text, "guidance": _list_of(_number),
    "steps": _list_of(_integer), "samplers": _list_of(_text), "n": _integer, "seed": _integer, "device": _text,
    "features": _list_of(_text), "inception_weights": _optional(_text), "clip": _text, "reference": _optional(_text),
    "layout": _list_of(_text), "truncation": _optional(_list_of(_number)), "batch_size": _optional(_integer),
    "precision": _text, "compile": lambda v: isinstance(v, bool), "floor": lambda v: isinstance(v, bool),
    "n_prompts": _integer, "imported": _dict_of(lambda v: isinstance(v, dict)),
}


def sound_settings(path: pathlib.Path) -> tuple[dict | None, list[str]]:
    """(the fields of the right type, the names of the others); (None, [why]) when the file is no run record
    at all: unreadable, not a JSON object, or its checkpoint record is not an object of strings."""
    try:
        settings = json.loads(read_bytes(path, limit=1 << 24).decode("utf-8"))
    except (FileRefused, OSError) as error:
        return None, [str(error).removeprefix(f"{path} ")]
    except (ValueError, RecursionError):  # not UTF-8, not JSON, nested past the recursion limit
        return None, ["not JSON"]
    checkpoints = settings.get("checkpoints", {}) if isinstance(settings, dict) else None
    if not _dict_of(_optional(_text))(checkpoints):
        return None, ["not a run record (a JSON object with a checkpoints object)"]
    bad = sorted(name for name, check in FIELD_TYPES.items() if name in settings and not check(settings[name]))
    return {name: value for name, value in settings.items() if name not in bad}, bad
