"""The project's own error types: every failure a user can cause ends in one of these."""


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
