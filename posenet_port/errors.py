"""The project's own error types: every failure a user can cause ends in one of these; and stop signals, remembered."""
from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


class PosenetPortError(Exception):
    """Base class: the message says what was wrong and, where it can, how to fix it."""


class WeightsError(PosenetPortError):
    """Weights that cannot be read: missing, truncated, corrupt, or not PoseNet."""


class ConfigError(PosenetPortError, ValueError):
    """An invalid setting: multiplier, output stride, input size."""


class ModelFileError(PosenetPortError):
    """A model artifact (.pb, SavedModel, .tflite, model.json) that cannot be read, run, or is not PoseNet."""


class RuntimeUnavailableError(PosenetPortError):
    """The runtime a format needs is not on this machine (node for TensorFlow.js)."""


class OutputError(PosenetPortError):
    """An output that cannot be written (busy, full, read-only) or that would replace an input or another output."""


def first_line(error: BaseException) -> str:
    """The first line of a library's error message (TensorFlow's run to pages), or the error's type."""
    text = str(error).strip()
    return text.splitlines()[0][:300] if text else type(error).__name__


@contextmanager
def reading(path: str | Path, what: str, error_type: type[PosenetPortError]) -> Iterator[None]:
    """The one door for a reader's failures on a file from outside: whatever a native library (LiteRT, ONNX
    Runtime, OpenVINO, TensorFlow's parsers, OpenCV) or arithmetic on numbers read from the file raises becomes
    `error_type` naming the file, so the next kind of damage a fuzzer finds is already one clean line. Our own
    errors and Ctrl-C pass through unchanged; the library's error stays chained for `--verbose` readers."""
    try:
        yield
    except (PosenetPortError, KeyboardInterrupt):
        raise
    except MemoryError:
        raise error_type(f"{path}: {what}: it asks for more memory than this machine has") from None
    except Exception as error:  # noqa: BLE001 - native readers raise anything (UnicodeDecodeError, map::at, ...)
        raise error_type(f"{path}: {what} ({type(error).__name__}: {first_line(error)})") from error


def raised_by_interrupt(error: BaseException) -> bool:
    """Whether a library wrapped a Ctrl-C in its own error (converters catch everything and re-raise)."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, KeyboardInterrupt) or "KeyboardInterrupt" in str(error):
            return True
        error = error.__cause__ or error.__context__
    return False


_interrupted = threading.Event()
_received: list[int] = []  # the stop signals received, in order
_deferring = 0  # > 0 while the main thread is inside deferred_interrupts()
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
FORCE_AFTER = 3  # the third stop signal ends the process at once, as if there were no handler


def handle_interrupts() -> None:
    """For the CLIs (main thread). Ctrl-C, SIGTERM (a service manager, `kill`) and SIGHUP (the terminal closed) all
    stop a command the same way: the first raises KeyboardInterrupt, so every `finally` discards its temporary
    output and the demo keeps what it recorded; the second is only remembered, so that clean-up is never cut
    short halfway (a temp folder left, a recording lost); the third ends the process at once. The signal is
    remembered too, so `check_interrupted` raises it again if a library swallowed it. Python's "Exception ignored"
    report of a swallowed one (a traceback) is left out."""
    for number in STOP_SIGNALS:
        signal.signal(number, _on_stop_signal)
    sys.unraisablehook = _report_unraisable


def _on_stop_signal(signum: int, frame: object) -> None:
    _interrupted.set()
    _received.append(signum)
    if len(_received) >= FORCE_AFTER:
        signal.signal(signum, signal.SIG_DFL)
        signal.raise_signal(signum)
    if len(_received) == 1 and not _deferring:
        raise KeyboardInterrupt


@contextmanager
def deferred_interrupts() -> Iterator[None]:
    """A stop signal that comes inside is answered (KeyboardInterrupt) as the block ends, not where it lands. Raised
    inside Python's own locking (the demo's queue.put that hands a frame to its encoding thread), it could leave a
    condition's waiters inconsistent: the encoder was never woken again, and the clean-up waited for it forever
    (reproduced: one stop in about ten on a loaded machine)."""
    global _deferring
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
    check_interrupted()


def stop_signal() -> signal.Signals:
    """The signal that stopped the command (Ctrl-C when none was recorded: a KeyboardInterrupt of Python's own)."""
    return signal.Signals(_received[0] if _received else signal.SIGINT)


def _report_unraisable(unraisable) -> None:
    if not issubclass(unraisable.exc_type, KeyboardInterrupt):  # that one is raised again by check_interrupted
        sys.__unraisablehook__(unraisable)


def finishing() -> None:
    """The command's outputs are complete (the demo ended, by a signal or not; rebuild's models passed): from here
    it only publishes and reports, in milliseconds. A stop signal that came is answered, and later ones are
    ignored, so that none can cut the publishing short or make a finished run report itself interrupted. Only
    where the CLI's handler is installed: a library caller's own handlers stay as they are."""
    _interrupted.clear()
    if signal.getsignal(signal.SIGINT) is _on_stop_signal and threading.current_thread() is threading.main_thread():
        for number in STOP_SIGNALS:
            signal.signal(number, signal.SIG_IGN)


def check_interrupted() -> None:
    """Raise KeyboardInterrupt again if a Ctrl-C came and was swallowed. Python raises it wherever the main thread
    is, and inside a garbage-collector callback (jax, which TensorFlow imports here, registers one) or a __del__
    the exception is printed as "Exception ignored" and dropped: a rebuild then ran on for a minute. Long loops
    call this between steps."""
    if _interrupted.is_set():
        raise KeyboardInterrupt
