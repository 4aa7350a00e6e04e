"""The project's own error types: every failure a user can cause ends in one of these."""


class PosenetPortError(Exception):
    """Base class: the message says what was wrong and, where it can, how to fix it."""


class WeightsError(PosenetPortError):
    """Weights that cannot be read: missing, truncated, corrupt, or not PoseNet."""


class ConfigError(PosenetPortError, ValueError):
    """An invalid setting: multiplier, output stride, input size."""


class ModelFileError(PosenetPortError):
    """A model artifact (.pb, SavedModel, .tflite, model.json) that cannot be read, run, or is not PoseNet."""


def first_line(error: BaseException) -> str:
    """The first line of a library's error message (TensorFlow's run to pages), or the error's type."""
    text = str(error).strip()
    return text.splitlines()[0][:300] if text else type(error).__name__
