"""Crash-safe writes: a reader sees the old file or the new one, never half of either."""
from __future__ import annotations

import contextlib
import os
import pathlib
from typing import Callable, Iterator, IO


@contextlib.contextmanager
def atomic_path(path: pathlib.Path) -> Iterator[pathlib.Path]:
    """Yield a temporary path beside `path`; on success fsync it, rename it over `path` and fsync the folder."""
    path = pathlib.Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.unlink(missing_ok=True)  # a stale one, or a link planted at the name: removed, never followed
        os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644))
        yield temporary
        with open(temporary, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    sync_folder(path.parent)


def atomic_write(path: pathlib.Path, content: str | bytes | Callable[[IO], None], mode: str = "w") -> None:
    """Write text, bytes, or whatever `content(handle)` writes, atomically to `path`."""
    binary = isinstance(content, bytes) or "b" in mode
    with atomic_path(path) as temporary:
        with open(temporary, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8", "newline": ""})) as handle:
            content(handle) if callable(content) else handle.write(content)


def sync_folder(folder: pathlib.Path) -> None:
    """Make a rename inside `folder` durable (a no-op where folders cannot be opened, e.g. Windows)."""
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
