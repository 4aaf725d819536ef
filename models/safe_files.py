"""Files inside a folder the project owns: never follow a link out, regular files only, limits before decoding.

Every open here is O_NOFOLLOW (a symlink at the name is refused, never followed) and O_NONBLOCK (a FIFO named
like a file is refused at once instead of blocking), then fstat'ed: only a regular file is read or written.
Images are refused by their header's size before a pixel is decoded. Every refusal is a FileRefused whose
message is one line naming the file.
"""
from __future__ import annotations

import contextlib
import errno
import io
import os
import pathlib
import stat
import sys
import tempfile
import time
import warnings
from typing import Iterator

from PIL import Image

# The largest image read from a folder: 4096 x 4096 (16.8 M pixels, 64 MB decoded as RGBA), far above any
# generator here (32 x 32) or on a hub (1024 x 1024); a 10000 x 10000 PNG bomb is 5 kB on disk and 400 MB decoded.
MAX_IMAGE_PIXELS = 4096 * 4096
MAX_IMAGE_BYTES = 64 * 2**20
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS  # on purpose: PIL's own guard agrees with ours wherever it runs


class FileRefused(ValueError):
    """A file that is a link, not a regular file, too large, or not what it claims; one line naming it."""


def _open(path: pathlib.Path, flags: int, mode: int = 0o644) -> int:
    """A descriptor of the regular file at `path`, never through a symlink at its name, never blocking on a FIFO."""
    try:
        descriptor = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, mode)
    except OSError as error:
        if os.path.islink(path):  # ELOOP (open) or ENXIO/EACCES on a link's target: the link is the reason
            raise FileRefused(f"{path} is a symbolic link: refused, files here are never followed out") from None
        if error.errno == errno.ENXIO:  # a FIFO with no reader, opened for writing
            raise FileRefused(f"{path} is not a regular file (a FIFO): refused") from None
        raise
    kind = os.fstat(descriptor).st_mode
    if not stat.S_ISREG(kind):
        os.close(descriptor)
        raise FileRefused(f"{path} is not a regular file ({_kind_name(kind)}): refused")
    os.set_blocking(descriptor, True)
    return descriptor


def _kind_name(kind: int) -> str:
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a device"),
                       (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket")):
        if test(kind):
            return name
    return "not a plain file"


def open_for_write(path: str | os.PathLike, truncate: bool = True, read_too: bool = False) -> int:
    """A descriptor for writing the regular file at `path` (created if missing); a symlink, FIFO or device there is
    refused, never written through. Truncated only after the checks."""
    descriptor = _open(pathlib.Path(path), (os.O_RDWR if read_too else os.O_WRONLY) | os.O_CREAT)
    if truncate:
        os.ftruncate(descriptor, 0)
    return descriptor


def read_bytes(path: str | os.PathLike, limit: int = MAX_IMAGE_BYTES, inside: str | os.PathLike | None = None) -> bytes:
    """The bytes of the regular file at `path`, at most `limit` of them; with `inside`, a path that resolves
    outside that folder (through a link anywhere on the way) is refused."""
    path = pathlib.Path(path)
    if inside is not None:
        path = resolved_inside(path, inside)
    descriptor = _open(path, os.O_RDONLY)
    with os.fdopen(descriptor, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > limit:
            raise FileRefused(f"{path} is {size:,} bytes, over the {limit:,} allowed")
        return handle.read(limit + 1)[:limit]


def resolved_inside(path: pathlib.Path, folder: str | os.PathLike) -> pathlib.Path:
    """`path` with every link resolved, refused unless it stays inside `folder` (a loop is refused too)."""
    try:
        real, home = pathlib.Path(path).resolve(strict=True), pathlib.Path(folder).resolve(strict=True)
    except (OSError, RuntimeError) as error:  # a loop, a dangling link
        raise FileRefused(f"{path} cannot be resolved ({getattr(error, 'strerror', None) or error})") from None
    if not real.is_relative_to(home):
        raise FileRefused(f"{path} leads outside {folder} (to {real}): refused")
    return real


def open_image(path: str | os.PathLike, inside: str | os.PathLike | None = None,
               max_pixels: int = MAX_IMAGE_PIXELS) -> Image.Image:
    """The image at `path`, decoded (RGB) only after its header's size passed `max_pixels`; a FileRefused
    naming the file for a link out, a non-regular file, a bomb, or bytes that are no image."""
    with _header(path, read_bytes(path, inside=inside), max_pixels) as image:
        try:
            return image.convert("RGB")
        except (OSError, ValueError, SyntaxError, EOFError) as error:  # SyntaxError: PIL's word for a broken chunk
            raise FileRefused(f"{path} is not a readable image ({_first_line(error)})") from None


def image_size(path: str | os.PathLike, inside: str | os.PathLike | None = None,
               max_pixels: int = MAX_IMAGE_PIXELS) -> tuple[int, int]:
    """(width, height) from the header alone, with the same refusals as open_image."""
    with _header(path, read_bytes(path, inside=inside), max_pixels) as image:
        return image.size


@contextlib.contextmanager
def _header(path, data: bytes, max_pixels: int) -> Iterator[Image.Image]:
    """The image opened lazily (header read, no pixel decoded), refused when it declares over `max_pixels`."""
    declared = f"{path} declares more pixels than the {max_pixels:,} allowed: refused before decoding"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise FileRefused(f"{declared} ({type(error).__name__})") from None
    except (OSError, ValueError, SyntaxError, EOFError) as error:
        raise FileRefused(f"{path} is not a readable image ({_first_line(error)})") from None
    with image:
        width, height = image.size
        if width * height > max_pixels:
            raise FileRefused(f"{path} is {width}x{height} pixels, over the {max_pixels:,} allowed: refused before "
                              f"decoding")
        yield image


def _first_line(error: BaseException) -> str:
    return (str(error).splitlines() or [type(error).__name__])[0]


def check_writable(folder: pathlib.Path) -> None:
    """Create and remove a fresh file of a unique name in `folder` (O_EXCL: nothing planted there is touched)."""
    with contextlib.closing(tempfile.NamedTemporaryFile(dir=folder, prefix=".genbench-write-test-")):
        pass


def set_aside(path: pathlib.Path, reason: str, then: str = "rebuilt from the images") -> pathlib.Path:
    """Rename `path` (the entry itself, never a link's target) to `<name>.bad-<time>` and say so in one line."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    target, copy = path.with_name(f"{path.name}.bad-{stamp}"), 1
    while os.path.lexists(target):
        target, copy = path.with_name(f"{path.name}.bad-{stamp}-{copy}"), copy + 1
    os.rename(path, target)
    print(f"warning: {path}: {reason}; set aside as {target.name}, {then}", file=sys.stderr)
    return target
