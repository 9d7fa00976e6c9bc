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
import platform
import warnings
import zipfile
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from .architectures import ARCHITECTURES, build_model, check_config, get_architecture
from .checkpoint_files import cannot_save, check_writable, checkpoint_format, checkpoint_path, is_zip  # noqa: F401 (re-exported)
from .data import TASKS
from .errors import CheckpointError, brief
from .files import why_not_replaceable
from .metadata import (  # noqa: F401 (re-exported)
    FORMAT,
    FORMAT_VERSION,
    MAX_CHECKPOINT_BYTES,
    METADATA_KEY,
    _check_metadata,
    _n_out,
    check_running_variances,
    probe_images,
    unanswerable,
)


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
    path = checkpoint_path(path)
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        if path.is_dir():
            raise cannot_save(path, "it is a folder")
        why = why_not_replaceable(path)  # again at the save: it may have changed while training
        if why is not None:
            raise cannot_save(path, why)
        # Opening the temporary file ourselves gives an OSError that says why
        # (safetensors wraps it in its own error type, with its own temporary name).
        # Its mode is an ordinary file's (0o666 less the umask: read without os.umask, which
        # would change the process's umask for a moment, under other threads too).
        with open(tmp, "wb"):
            pass
        mode = os.stat(tmp).st_mode & 0o777
        save_file(tensors, str(tmp), metadata={METADATA_KEY: json.dumps(meta)})
        os.chmod(tmp, mode)  # safetensors writes a private temporary file of its own
        os.replace(tmp, path)
    except OSError as e:
        raise cannot_save(path, e.strerror or str(e)) from None
    except SafetensorError as e:
        raise cannot_save(path, brief(e)) from None
    finally:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass  # the folder is not writable: there is no temporary file either
    return path


def _check_shapes(path: Path, meta: dict, shapes: dict[str, tuple[int, ...]]) -> None:
    """Refuse weights whose names or shapes differ from what the metadata's model has.

    The expected shapes come from the model built on the ``meta`` device: no memory, no
    time, whatever the config says. Runs before a tensor is read or a model is built.
    """
    with torch.device("meta"):
        expected = {
            k: tuple(v.shape)
            for k, v in build_model(meta["architecture"], _n_out(meta), **meta.get("arch_config", {})).state_dict().items()
        }
    missing, extra = sorted(set(expected) - set(shapes)), sorted(set(shapes) - set(expected))
    wrong = [k for k in expected if k in shapes and tuple(shapes[k]) != expected[k]]
    if missing or extra or wrong:
        if wrong:
            detail = f"{wrong[0]} is {tuple(shapes[wrong[0]])}, expected {expected[wrong[0]]}"
        elif missing:
            detail = f"missing {', '.join(missing[:4])}"
        else:
            detail = f"unexpected {', '.join(extra[:4])}"
        raise CheckpointError(
            f"{path}: the weights do not fit architecture {meta['architecture']!r} with {_n_out(meta)} output(s) ({detail})."
        )


# The dtypes a weight may be stored in: converted to the model's float32 on loading. An integer,
# boolean or complex tensor where a weight belongs is a broken file, not a model.
FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
INT_DTYPES = (torch.int8, torch.uint8, torch.int16, torch.int32, torch.int64)


def _check_dtypes(path: Path, meta: dict, tensors: dict[str, torch.Tensor]) -> None:
    with torch.device("meta"):
        expected = build_model(meta["architecture"], _n_out(meta), **meta.get("arch_config", {})).state_dict()
    for name, t in tensors.items():
        floating = expected[name].is_floating_point()
        if t.dtype not in (FLOAT_DTYPES if floating else INT_DTYPES):
            raise CheckpointError(
                f"{path}: weight {name} is stored as {str(t.dtype).removeprefix('torch.')}, "
                f"expected {'floating-point numbers' if floating else 'integers'}; the file is not a model this app can use."
            )


def _check_finite(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    for name, t in tensors.items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise CheckpointError(f"{path}: weight {name} holds NaN or infinite values; the model is broken. Retrain it.")


def _check_answers(path: Path, model: torch.nn.Module, meta: dict) -> None:
    """Finite weights can still give NaN answers (a weight of 3e38 overflows): one forward pass
    of :func:`probe_images` at load, so such a file is refused here and not shown as NaN %."""
    with torch.inference_mode():
        out = model(torch.from_numpy(probe_images(meta)))
    if not bool(torch.isfinite(out).all()):
        raise unanswerable(path)


def _build(path: Path, meta: dict, tensors: dict[str, torch.Tensor]) -> torch.nn.Module:
    _check_shapes(path, meta, {k: tuple(v.shape) for k, v in tensors.items()})
    _check_dtypes(path, meta, tensors)
    _check_finite(path, tensors)
    check_running_variances(path, tensors)
    try:
        model = build_model(meta["architecture"], _n_out(meta), **meta.get("arch_config", {}))
        model.load_state_dict(tensors, strict=True)
    except (RuntimeError, TypeError, ValueError) as e:
        first = str(e).strip().splitlines()
        raise CheckpointError(
            f"{path}: the weights do not fit architecture {meta['architecture']!r} "
            f"with {_n_out(meta)} output(s) ({first[1].strip() if len(first) > 1 else first[0]})."
        ) from None
    model.eval()
    _check_answers(path, model, meta)
    return model


def load_checkpoint(path: str | os.PathLike, expect_arch: str | None = None) -> tuple[torch.nn.Module, dict]:
    """Rebuild ``(model, metadata)`` from a ``.safetensors`` checkpoint or a plain ``.pt`` state dict."""
    path = Path(path)
    if checkpoint_format(path) == "torch":
        model, meta = _import_state_dict(path)
    else:
        try:
            with safe_open(str(path), framework="pt", device="cpu") as f:
                raw = (f.metadata() or {}).get(METADATA_KEY)
                if raw is None:
                    raise CheckpointError(
                        f"{path}: a safetensors file without mnist-desktop metadata; the model cannot be rebuilt from it."
                    )
                try:
                    meta = json.loads(raw)
                except (ValueError, RecursionError) as e:  # also: nested too deep, an integer of 5,000 digits
                    raise CheckpointError(f"{path}: its metadata is not valid JSON ({brief(e, 120)}).") from None
                meta = _check_metadata(path, meta)
                # Names and shapes from the header, checked before any tensor is read.
                _check_shapes(path, meta, {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()})
                tensors = {k: f.get_tensor(k) for k in f.keys()}
        except CheckpointError:
            raise
        except Exception as e:  # safetensors raises its own error types for every malformed file
            raise CheckpointError(f"{path}: not a readable safetensors checkpoint ({brief(e)}).") from None
        model = _build(path, meta, tensors)
    if expect_arch is not None and meta["architecture"] != expect_arch:
        raise CheckpointError(
            f"{path}: holds a {get_architecture(meta['architecture']).label} model, not a {get_architecture(expect_arch).label} one."
        )
    return model, meta


def _infer(tensors: dict[str, torch.Tensor]) -> tuple[str, dict, int]:
    """(architecture, config, outputs) of a bare state dict, from its keys and shapes: the first
    architecture whose spec recognises them (``ArchitectureSpec.infer``)."""
    shape = {k: tuple(v.shape) for k, v in tensors.items()}
    # How many dimensions each name has in every architecture that uses it (at one output:
    # the number of dimensions does not depend on the sizes), checked before any size is read.
    ndims = {name: len(s) for spec in ARCHITECTURES.values() for name, s in spec.parameter_shapes(1).items()}
    for name, s in shape.items():
        if name in ndims and len(s) != ndims[name]:
            raise CheckpointError(f"weight {name} has shape {s}, expected {ndims[name]} dimensions")
    for spec in ARCHITECTURES.values():
        found = spec.infer(shape)
        if found is not None:
            config, n_out = found
            return spec.name, config, n_out
    raise CheckpointError(f"the state dict's keys ({', '.join(sorted(shape)[:6])}…) match none of the architectures")


def _unpacked_size(path: Path) -> int | None:
    """What a zip's entries take once decompressed (None: not a readable zip; torch refuses it)."""
    try:
        with zipfile.ZipFile(path) as z:
            return sum(info.file_size for info in z.infolist())
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError):
        return None


def _import_state_dict(path: Path) -> tuple[torch.nn.Module, dict]:
    # torch.save stores its tensors uncompressed, but torch.load reads compressed entries too: a
    # 1 MB file can unpack to 1 GB. The size cap holds for what the file unpacks to.
    unpacked = _unpacked_size(path) if is_zip(path) else None
    if unpacked is not None and unpacked > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(
            f"{path}: unpacks to {unpacked / 2**20:,.0f} MB, more than the {MAX_CHECKPOINT_BYTES / 2**20:,.0f} MB "
            "a checkpoint may take; it is not a model of this app."
        )
    try:
        with warnings.catch_warnings():  # torch's warnings advise unsafe loading: never shown
            warnings.simplefilter("ignore")
            # An open file, not the path: torch.load hands a path ending in .safetensors to
            # safetensors, whatever the bytes are.
            with open(path, "rb") as f:
                obj = torch.load(f, map_location="cpu", weights_only=True)
    except OSError as e:
        raise CheckpointError(f"{path}: cannot be read ({e.strerror or e}).") from None
    except MemoryError:
        raise CheckpointError(f"{path}: too large to load in the memory there is.") from None
    except Exception:  # UnpicklingError, RuntimeError, EOFError, zip errors... whatever the damage
        # torch's own message advises loading with weights_only=False, i.e. running the file's
        # code: it is not repeated here.
        raise CheckpointError(
            f"{path}: refused, not a safe checkpoint: it contains Python objects, which could run code "
            "when loaded (or it is damaged). Only plain state dicts of tensors are imported. If you trust "
            "the file, load it in your own code and save a plain state dict "
            "(torch.save(model.state_dict(), 'weights.pt')), then open that."
        ) from None
    if isinstance(obj, dict) and isinstance(obj.get("state_dict", obj.get("model")), dict):
        obj = obj.get("state_dict", obj.get("model"))
    if not (isinstance(obj, dict) and obj and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())):
        raise CheckpointError(f"{path}: not a state dict (a mapping of names to tensors).")
    try:
        arch, config, n_out = _infer(obj)
        check_config(arch, config)
    except CheckpointError as e:
        raise CheckpointError(f"{path}: {brief(e)}.") from None
    except ValueError as e:
        raise CheckpointError(
            f"{path}: a {get_architecture(arch).label} state dict of a size this app cannot import ({brief(e)})."
        ) from None
    if n_out == 10:
        task, output = "digits", "softmax"
    elif n_out in (1, 2):
        task, output = "3v7", "sigmoid" if n_out == 1 else "softmax"
    else:
        raise CheckpointError(f"{path}: {n_out} outputs fit neither task (10 digits, or 3 vs 7).")
    meta = make_metadata(arch, config, task, output, get_architecture(arch).normalization, training={"imported_from": path.name})
    return _build(path, meta, obj), meta
