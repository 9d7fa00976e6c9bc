"""Export a model to ONNX, for a web page (ONNX Runtime Web) or any other runtime.

The ONNX model takes exactly what a browser has after drawing and preprocessing the way
``to_mnist`` does: a float32 ``(N, 1, 28, 28)`` batch in [0, 1], white ink on black. The
normalisation and the softmax (or sigmoid) are inside the graph, so its output is the
probabilities ``(N, K)`` over ``predictor.classes``, the same numbers ``predict_batch`` gives.
The class labels, architecture and task are in the model's ``metadata_props``.

Needs the ``export`` extra (onnx, onnxscript, onnxruntime); torch's exporter is imported
only when a model is exported.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

import torch
from torch import nn

from .errors import ExportError
from .files import why_folder_refuses, why_not_replaceable

OPSET = 18  # torch.export-based exporter's own opset; ONNX Runtime Web runs it
INPUT_NAME, OUTPUT_NAME = "image", "probabilities"
INSTALL_HINT = 'pip install -e ".[export]" in a checkout, or pip install "mnist-desktop[export]"'


class _Probabilities(nn.Module):
    """``model`` with the predictor's normalisation in front and its softmax or sigmoid after,
    of the logits divided by the predictor's temperature (as ``Predictor.predict`` does)."""

    def __init__(self, model: nn.Module, mean: float, std: float, sigmoid: bool, temperature: float = 1.0):
        super().__init__()
        self.model, self.mean, self.std, self.sigmoid, self.temperature = model, mean, std, sigmoid, temperature

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model((x - self.mean) / self.std) / self.temperature
        if self.sigmoid:  # one logit for the second class: [1 - p, p], as Predictor does
            p = out.reshape(-1).sigmoid()
            return torch.stack([1 - p, p], dim=1)
        return out.softmax(dim=1)


def onnx_path(path: str | os.PathLike) -> Path:
    """Where :func:`export_onnx` writes ``path``: with the ``.onnx`` suffix added if missing."""
    path = Path(path)
    return path if path.suffix == ".onnx" else path.with_name(path.name + ".onnx")


def _cannot_save(path: Path, reason: str) -> ExportError:
    return ExportError(f"{path}: cannot save ({reason}). Choose a folder you can write to, or another file name.")


def _require_extra() -> None:
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError as e:
        raise ExportError(f"exporting to ONNX needs the export extra ({e}). Install it: {INSTALL_HINT}") from None


def export_onnx(predictor, path: str | os.PathLike) -> Path:
    """Write ``predictor``'s model to ``path`` as ONNX; the path written (``.onnx`` added if missing).

    Written to a temporary file first and moved into place, so a failed export never leaves
    a half-written file nor destroys the previous one.
    """
    from .. import __version__

    if Path(path).is_dir():  # said before the export's seconds, not after (and not "folder.onnx" next to it)
        raise _cannot_save(Path(path), "it is a folder; give a file name such as " + str(Path(path) / "model.onnx"))
    path = onnx_path(path)
    if path.is_dir():
        raise _cannot_save(path, "it is a folder")
    why = why_not_replaceable(path) or why_folder_refuses(path)  # before the export's seconds, as training checks before it trains
    if why is not None:
        raise _cannot_save(path, why)
    _require_extra()
    import onnx

    # A copy: tracing never touches the model the app is using.
    norm = predictor.meta["normalization"]
    model = copy.deepcopy(predictor.model).cpu().eval()
    wrapper = _Probabilities(
        model, float(norm["mean"]), float(norm["std"]), predictor.meta["output"] == "sigmoid", float(predictor.temperature)
    ).eval()
    try:
        program = torch.onnx.export(
            wrapper,
            (torch.zeros(2, 1, 28, 28),),
            dynamo=True,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            opset_version=OPSET,
            dynamic_shapes=({0: torch.export.Dim("batch")},),
            external_data=False,
            verbose=False,
        )
        proto = program.model_proto
        onnx.helper.set_model_props(
            proto,
            {
                "classes": ",".join(str(c) for c in predictor.classes),
                "architecture": predictor.arch,
                "task": predictor.task,
                "input": "float32 (N, 1, 28, 28) in [0, 1], white ink on black, as to_mnist returns it",
                "output": "float32 (N, K) probabilities over classes",
                "mnist_desktop_version": __version__,
            },
        )
        proto.doc_string = f"mnist-desktop {predictor.describe()}: probabilities over classes {predictor.classes}"
        onnx.checker.check_model(proto)
    except ImportError as e:  # a part of the extra that is missing or broken
        raise ExportError(f"exporting to ONNX needs the export extra ({e}). Install it: {INSTALL_HINT}") from None
    except Exception as e:  # noqa: BLE001 — torch.export and onnx raise many types; one line says which file
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        raise ExportError(f"{path}: cannot export the {predictor.arch} model to ONNX ({first}).") from None

    why = why_not_replaceable(path)  # again: it may have changed during the export
    if why is not None:
        raise _cannot_save(path, why)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:  # an ordinary file: mode 0o666 less the umask
            f.write(proto.SerializeToString())
        os.replace(tmp, path)
    except OSError as e:
        raise _cannot_save(path, e.strerror or str(e)) from None
    finally:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
    return path
