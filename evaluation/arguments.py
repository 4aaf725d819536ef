"""Argument types of `python -m evaluation`: each parses one flag's text or exits with a one-line error; `fail`
is that one line for an error a command meets later."""
from __future__ import annotations

import argparse
import math
import sys


def floats(text: str) -> list[float]:
    from models.contract import MAX_GUIDANCE

    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if not values or any(not math.isfinite(v) or not 0 <= v <= MAX_GUIDANCE for v in values):
        raise argparse.ArgumentTypeError(f"guidance scales must be finite numbers from 0 to {MAX_GUIDANCE:g}, "
                                         f"got {text!r}")
    return list(dict.fromkeys(v + 0.0 for v in values))  # 3,3 is one scale; + 0.0 makes -0 plain 0


def step(text: str) -> int:
    """One number of sampling steps, within the request limit of models.contract."""
    values = ints(text)
    if len(values) != 1:
        raise argparse.ArgumentTypeError(f"expected one number of steps, got {text!r}")
    return values[0]


def device(spec: str) -> str:
    """models.devices.resolve_device, or a one-line error with exit status 2."""
    from models.devices import resolve_device

    try:
        return resolve_device(spec)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2)


def batch_size(text: str) -> int:
    from models.contract import GenerationError, check_batch_size

    try:
        return check_batch_size(text)
    except GenerationError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def ints(text: str) -> list[int]:
    from models.contract import MAX_STEPS

    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or any(not 1 <= v <= MAX_STEPS for v in values):
        raise argparse.ArgumentTypeError(f"steps must be integers from 1 to {MAX_STEPS}, got {text!r}")
    return list(dict.fromkeys(values))  # 50,50 is one setting, made once


def seed(text: str) -> int:
    """A seed: plain ASCII digits from 0 to the contract's MAX_SEED (int() also takes '+5', '1_0' and ' ٣')."""
    from models.contract import MAX_SEED

    digits = text.strip()
    if not (digits.isascii() and digits.isdigit()) or len(digits) > len(str(MAX_SEED)) or int(digits) > MAX_SEED:
        raise argparse.ArgumentTypeError(f"a seed is an integer from 0 to {MAX_SEED}, got {text[:40]!r}")
    return int(digits)


def truncations(text: str) -> list[float]:
    """Comma-separated truncation psi, each a finite number from 0 to models.contract.MAX_TRUNCATION (the GAN
    family's accepted range)."""
    from models.contract import MAX_TRUNCATION

    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or not all(0 <= v <= MAX_TRUNCATION for v in values):  # NaN fails the comparison too
        raise argparse.ArgumentTypeError(f"truncation psi must be numbers from 0 to {MAX_TRUNCATION:g}, got {text!r}")
    return sorted(set(values))


def layouts(text: str) -> list[str]:
    values = names(text)
    if any(v not in ("planner", "none") for v in values):
        raise argparse.ArgumentTypeError(f"layout sources are planner and none, got {text!r}")
    return list(dict.fromkeys(values))


def names(text: str) -> list[str]:
    values = [v.strip() for v in text.split(",") if v.strip()]
    if not values:
        raise argparse.ArgumentTypeError("expected at least one name")
    return values


def fail(error: BaseException) -> None:
    raise SystemExit(f"error: {str(error).splitlines()[0] if str(error) else type(error).__name__}")

