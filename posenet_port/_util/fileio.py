"""Atomic outputs (write under a temporary name beside the target, rename when complete) and bounded reads of
files we did not write.

A run that fails or is killed leaves at most a `.tmp-*` entry, never a file that looks like a finished model.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Any, Iterator

from posenet_port.errors import OutputError

TEMP_MARK = ".tmp-"


class AtomicOutput:
    """A temporary path beside `target` that becomes `target` on `commit()` and vanishes on `discard()`;
    for outputs written over time (a video, a log) rather than inside one `with` block."""

    def __init__(self, target: str | Path, directory: bool = False) -> None:
        self.target = Path(target)
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self._holder = Path(tempfile.mkdtemp(prefix=f"{self.target.name}{TEMP_MARK}", dir=self.target.parent))
        self.directory = directory
        self.temp = self._holder if directory else self._holder / self.target.name

    def commit(self) -> Path:
        if self.directory:
            os.chmod(self.temp, 0o777 & ~_umask())  # mkdtemp makes it private; a published folder should not be
        _replace(self.temp, self.target)
        self.discard()
        return self.target

    def discard(self) -> None:
        shutil.rmtree(self._holder, ignore_errors=True)


@contextlib.contextmanager
def atomic_path(target: str | Path, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside `target`; on success it replaces `target` in one rename."""
    output = AtomicOutput(target, directory)
    try:
        yield output.temp
        output.commit()
    finally:
        output.discard()


def _replace(source: Path, target: Path) -> None:
    if source.is_dir() and target.exists():
        # A directory cannot be renamed over a non-empty one: move the old one aside first.
        old = Path(tempfile.mkdtemp(prefix=f"{target.name}{TEMP_MARK}old-", dir=target.parent))
        os.replace(target, old / "previous")
        os.replace(source, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(source, target)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def write_bytes_atomic(target: str | Path, data: bytes) -> Path:
    with atomic_path(target) as temp:
        temp.write_bytes(data)
    return Path(target)


def same_file(a: Path, b: Path) -> bool:
    """The same file: one real path, or (both existing) one inode, as hard links are."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_outputs_distinct(inputs: dict[str, Path | None], outputs: dict[str, Path | None]) -> None:
    """Refuse, before any work, an output that would replace an input or another output."""
    named_outputs = [(name, path) for name, path in outputs.items() if path is not None]
    for index, (name, path) in enumerate(named_outputs):
        clashes = [(other, source) for other, source in inputs.items() if source is not None]
        clashes += named_outputs[index + 1:]
        for other, source in clashes:
            if same_file(path, source):
                raise OutputError(f"{name} {path} is the same file as {other} {source}: it would be overwritten; "
                                  "choose another path")


def unique_name(name: str, taken: set[str]) -> str:
    """`name`, or `name-2`, `name-3` ... if taken; the result is added to `taken`."""
    candidate, number = name, 1
    while candidate in taken:
        number += 1
        candidate = f"{name}-{number}"
    taken.add(candidate)
    return candidate


@contextlib.contextmanager
def exclusive_folder(directory: Path, what: str) -> Iterator[Path]:
    """Hold `directory` for one writer at a time; a second is refused at once, not queued. The lock is the
    folder's own (flock on it, no lock file to leave behind) and dies with its process, even a killed one."""
    import fcntl

    if directory.exists() and not directory.is_dir():
        raise OutputError(f"{directory}: is a file, not a folder for the outputs; choose another path")
    directory.mkdir(parents=True, exist_ok=True)
    handle = os.open(directory, os.O_RDONLY)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutputError(f"{directory}: another {what} is writing into this folder; wait for it to finish or "
                              "choose another folder") from None
        yield directory
    finally:
        os.close(handle)


MAX_JSON_DEPTH = 64  # PoseNet's model.json nests 6 deep; Python's parser recurses and dies near 1,000
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')


def parse_json_bounded(data: bytes, source: str | Path, error_type: type[Exception]) -> Any:
    """json.loads, after checking (strings aside) that arrays and objects nest at most MAX_JSON_DEPTH deep."""
    import numpy as np

    structure = np.frombuffer(_JSON_STRING.sub(b'""', data), np.uint8)
    steps = np.isin(structure, (ord("["), ord("{"))).astype(np.int32) - np.isin(structure, (ord("]"), ord("}")))
    depth = int(np.cumsum(steps).max(initial=0))
    if depth > MAX_JSON_DEPTH:
        raise error_type(f"{source}: JSON nested {depth} levels deep (a model file nests a few); refused")
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise error_type(f"{source}: not valid JSON ({error})") from None


def check_regular_file(path: Path, error_type: type[Exception], what: str = "file") -> None:
    """A FIFO or a device would block or never end a read: only regular files are read."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise error_type(f"{path}: no such {what}") from None
    except OSError as error:
        raise error_type(f"{path}: cannot read ({error.strerror or error})") from None
    if not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file (a FIFO, socket or device)"
        raise error_type(f"{path}: {what} is {kind}")


SPARSE_FROM_BYTES = 64 << 20


def check_not_sparse(path: Path, error_type: type[Exception], what: str = "file") -> None:
    """A large file with most of its length unallocated (holes: an unfinished download, or made to be read for
    ever) is refused: readers that stream, like FFmpeg's, would scan gigabytes of nothing."""
    status = path.stat()
    on_disk = status.st_blocks * 512
    if status.st_size > SPARSE_FROM_BYTES and on_disk < status.st_size // 2:
        raise error_type(f"{path}: {what} claims {human_size(status.st_size)} but only {human_size(on_disk)} are on "
                         "disk (a sparse file: an unfinished download?)")


# No PoseNet model file comes near this (MobileNetV1 1.00 in float32 is 13 MB): a larger one is not read at all.
MAX_MODEL_FILE_BYTES = 256 << 20


def read_bounded(path: Path, error_type: type[Exception], what: str = "file",
                 max_bytes: int = MAX_MODEL_FILE_BYTES) -> bytes:
    """A regular file's bytes, refused before it is read when it is not a regular file (a FIFO would block, a
    link to /dev/zero never ends) or is larger than `max_bytes` (a sparse file of gigabytes would fill memory)."""
    check_regular_file(path, error_type, what)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise error_type(f"{path}: {what} of {size:,} bytes is larger than this tool reads "
                             f"({max_bytes:,} bytes at most)")
        with open(path, "rb") as handle:
            data = handle.read(max_bytes + 1)  # a file that grows while it is read stops here
    except OSError as error:
        raise error_type(f"{path}: cannot read the {what} ({error.strerror or error})") from None
    if len(data) > max_bytes:
        raise error_type(f"{path}: {what} grew past {max_bytes:,} bytes while it was read")
    return data


def path_size(path: Path) -> int:
    """Bytes in a file, or in every file under a directory."""
    if path.is_dir():
        return sum(child.stat().st_size for child in path.rglob("*") if child.is_file())
    return path.stat().st_size


def human_size(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.2f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")
