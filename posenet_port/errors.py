"""The project's own error types: every failure a user can cause ends in one of these; and Ctrl-C, remembered."""
from __future__ import annotations

import signal
import sys
import threading
from typing import NoReturn


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


def handle_interrupts() -> None:
    """For the CLIs (main thread): Ctrl-C raises KeyboardInterrupt as usual and is remembered, so that
    `check_interrupted` raises it again if a library swallowed it; Python's "Exception ignored" report of the
    swallowed one (a traceback) is left out."""
    signal.signal(signal.SIGINT, _on_interrupt)
    sys.unraisablehook = _report_unraisable


def _on_interrupt(signum: int, frame: object) -> NoReturn:
    _interrupted.set()
    raise KeyboardInterrupt


def _report_unraisable(unraisable) -> None:
    if not issubclass(unraisable.exc_type, KeyboardInterrupt):  # that one is raised again by check_interrupted
        sys.__unraisablehook__(unraisable)


def interrupt_handled() -> None:
    """A command that ends on Ctrl-C by design (the demo keeps what it recorded) has answered it."""
    _interrupted.clear()


def check_interrupted() -> None:
    """Raise KeyboardInterrupt again if a Ctrl-C came and was swallowed. Python raises it wherever the main thread
    is, and inside a garbage-collector callback (jax, which TensorFlow imports here, registers one) or a __del__
    the exception is printed as "Exception ignored" and dropped: a rebuild then ran on for a minute. Long loops
    call this between steps."""
    if _interrupted.is_set():
        raise KeyboardInterrupt
