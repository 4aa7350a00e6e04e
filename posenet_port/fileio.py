"""Atomic outputs: write under a temporary name beside the target, rename when complete.

A run that fails or is killed leaves at most a `.tmp-*` entry, never a file that looks like a finished model.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

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
