"""Checkpoints users can trust: safetensors weights plus JSON metadata that rebuilds the model.

Nothing here unpickles. A PyTorch ``.pt`` state dict is imported only through
``torch.load(weights_only=True)``, which refuses any object that is not a plain tensor or
container; whatever it refuses is reported, never retried with full unpickling. Saves go to
a temporary file first and replace the target atomically, so an interrupted save never
destroys the previous file.
"""

from __future__ import annotations

import datetime
import json
import os
import pickle
import platform
import zipfile
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from .architectures import ARCHITECTURES, build_model, get_architecture
from .data import TASKS
from .errors import CheckpointError

FORMAT = "mnist-desktop-checkpoint"
FORMAT_VERSION = 1
METADATA_KEY = "mnist_desktop"


def make_metadata(arch: str, arch_config: dict, task: str, output: str, normalization, training=None, metrics=None) -> dict:
    from .. import __version__

    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "architecture": arch,
        "arch_config": dict(arch_config),
        "task": task,
        "classes": list(TASKS[task].classes),
        "output": output,  # "softmax": one output per class; "sigmoid": one logit for the second class
        "normalization": {"mean": normalization[0], "std": normalization[1]},
        "training": dict(training or {}),
        "metrics": dict(metrics or {}),
        "versions": {"mnist_desktop": __version__, "torch": torch.__version__, "python": platform.python_version()},
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def save_checkpoint(path: str | os.PathLike, model: torch.nn.Module, meta: dict) -> Path:
    path = Path(path)
    if path.suffix != ".safetensors":
        path = path.with_name(path.name + ".safetensors")
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        save_file(tensors, str(tmp), metadata={METADATA_KEY: json.dumps(meta)})
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # an ordinary file, not the private mode of a temp file
        os.replace(tmp, path)
    except OSError as e:
        raise CheckpointError(f"{path}: cannot save ({e.strerror or e})") from None
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _check_metadata(path: Path, meta: object) -> dict:
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an mnist-desktop checkpoint (no {FORMAT!r} metadata).")
    if meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: checkpoint format version {meta.get('format_version')} is not supported (this version reads {FORMAT_VERSION}).")
    if meta.get("architecture") not in ARCHITECTURES:
        raise CheckpointError(f"{path}: unknown architecture {meta.get('architecture')!r} (known: {', '.join(ARCHITECTURES)}).")
    if meta.get("task") not in TASKS or list(meta.get("classes", [])) != list(TASKS[meta["task"]].classes):
        raise CheckpointError(f"{path}: unknown task or classes ({meta.get('task')!r}, {meta.get('classes')!r}).")
    if meta.get("output") not in ("softmax", "sigmoid"):
        raise CheckpointError(f"{path}: unknown output kind {meta.get('output')!r}.")
    norm = meta.get("normalization")
    if not (isinstance(norm, dict) and all(isinstance(norm.get(k), (int, float)) for k in ("mean", "std")) and norm["std"] > 0):
        raise CheckpointError(f"{path}: bad normalisation {norm!r}.")
    if not isinstance(meta.get("arch_config", {}), dict):
        raise CheckpointError(f"{path}: bad architecture config.")
    return meta


def _build(path: Path, meta: dict, tensors: dict[str, torch.Tensor]) -> torch.nn.Module:
    n_out = 1 if meta["output"] == "sigmoid" else len(meta["classes"])
    config = {k: v for k, v in meta.get("arch_config", {}).items() if isinstance(v, int) and 0 < v <= 4096}
    try:
        model = build_model(meta["architecture"], n_out, **config)
        model.load_state_dict(tensors, strict=True)
    except (RuntimeError, TypeError, ValueError) as e:
        first = str(e).strip().splitlines()
        raise CheckpointError(
            f"{path}: the weights do not fit architecture {meta['architecture']!r} "
            f"with {n_out} output(s) ({first[1].strip() if len(first) > 1 else first[0]})."
        ) from None
    return model.eval()


def load_checkpoint(path: str | os.PathLike, expect_arch: str | None = None) -> tuple[torch.nn.Module, dict]:
    """Rebuild ``(model, metadata)`` from a ``.safetensors`` checkpoint or a plain ``.pt`` state dict."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError as e:
        raise CheckpointError(f"{path}: cannot open ({e.strerror or e}).") from None
    if zipfile.is_zipfile(path) or head[:1] == b"\x80":
        model, meta = _import_state_dict(path)
    else:
        try:
            with safe_open(str(path), framework="pt", device="cpu") as f:
                raw = (f.metadata() or {}).get(METADATA_KEY)
                tensors = {k: f.get_tensor(k) for k in f.keys()}
        except Exception as e:  # safetensors raises its own error types for every malformed file
            raise CheckpointError(f"{path}: not a readable safetensors checkpoint ({e}).") from None
        if raw is None:
            raise CheckpointError(f"{path}: a safetensors file without mnist-desktop metadata; the model cannot be rebuilt from it.")
        try:
            meta = json.loads(raw)
        except json.JSONDecodeError as e:
            raise CheckpointError(f"{path}: its metadata is not valid JSON ({e}).") from None
        meta = _check_metadata(path, meta)
        model = _build(path, meta, tensors)
    if expect_arch is not None and meta["architecture"] != expect_arch:
        raise CheckpointError(
            f"{path}: holds a {get_architecture(meta['architecture']).label} model, not a {get_architecture(expect_arch).label} one."
        )
    return model, meta


def _infer(tensors: dict[str, torch.Tensor]) -> tuple[str, dict, int]:
    """(architecture, config, outputs) of a bare state dict, from its keys and shapes."""
    keys = set(tensors)
    shape = {k: tuple(v.shape) for k, v in tensors.items()}
    if keys == {"similarity.means"}:
        return "pixel-similarity", {}, shape["similarity.means"][0]
    if keys == {"fc.weight", "fc.bias"}:
        return "linear", {}, shape["fc.weight"][0]
    if keys == {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}:
        return "mlp", {"hidden": shape["fc1.weight"][0]}, shape["fc2.weight"][0]
    if "conv1.weight" in keys and "conv2.weight" in keys and "fc.weight" in keys:
        return "cnn", {"channels1": shape["conv1.weight"][0], "channels2": shape["conv2.weight"][0]}, shape["fc.weight"][0]
    raise CheckpointError(f"the state dict's keys ({', '.join(sorted(keys)[:6])}…) match none of the architectures")


def _import_state_dict(path: Path) -> tuple[torch.nn.Module, dict]:
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, AttributeError, TypeError, ImportError) as e:
        raise CheckpointError(
            f"{path}: refused. It is a pickle that holds more than plain tensors, which could run code when "
            f"loaded, or it is damaged ({str(e).splitlines()[0][:200]}). Only plain state dicts are imported."
        ) from None
    if isinstance(obj, dict) and isinstance(obj.get("state_dict", obj.get("model")), dict):
        obj = obj.get("state_dict", obj.get("model"))
    if not (isinstance(obj, dict) and obj and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())):
        raise CheckpointError(f"{path}: not a state dict (a mapping of names to tensors).")
    try:
        arch, config, n_out = _infer(obj)
    except CheckpointError as e:
        raise CheckpointError(f"{path}: {e}.") from None
    if n_out == 10:
        task, output = "digits", "softmax"
    elif n_out in (1, 2):
        task, output = "3v7", "sigmoid" if n_out == 1 else "softmax"
    else:
        raise CheckpointError(f"{path}: {n_out} outputs fit neither task (10 digits, or 3 vs 7).")
    meta = make_metadata(arch, config, task, output, get_architecture(arch).normalization, training={"imported_from": path.name})
    return _build(path, meta, obj), meta
