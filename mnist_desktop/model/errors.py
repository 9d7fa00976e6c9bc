"""Errors a person can act on. ``str(error)`` is written for a dialog or one CLI line."""


class MnistDesktopError(Exception):
    """Base class of every error the engine raises on purpose."""


class DataError(MnistDesktopError):
    """A dataset or image file is missing, unreadable, corrupt or not what it claims to be."""


class CheckpointError(MnistDesktopError):
    """A checkpoint file is unreadable, unsafe, or does not fit the model it describes."""


class TrainingError(MnistDesktopError):
    """Training could not go on (out of memory, bad settings)."""


class DivergedError(TrainingError):
    """The loss became NaN or infinite: the learning rate is too high."""


class EmptyImageError(MnistDesktopError, ValueError):
    """The image has no ink: there is no digit to classify."""


class ExportError(MnistDesktopError):
    """A model cannot be exported (the export extra is missing, or the file cannot be written)."""


def brief(error: BaseException | str, limit: int = 200) -> str:
    """Outside text (a library's error, a file's own words) fit for a one-line message.

    Library messages can quote the file they failed on, newlines and all (safetensors quotes
    a header's dtype string); every run of whitespace becomes one space, then it is cut.
    """
    text = " ".join(str(error).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
