"""The engine: data, models, training, preprocessing, inference, checkpoints and export. No Qt here.

Names are imported on first use (PEP 562 ``__getattr__``): importing the package, or a
torch-free module in it (``config``, ``errors``, ``preprocess``, ``numpy_forward``), does
not import torch, so the command line's help and the window can answer before PyTorch has
loaded. ``engine.Predictor`` and ``from mnist_desktop.model import train`` work as before.
"""

from __future__ import annotations

import importlib

# Where each public name lives.
_EXPORTS = {
    "ARCHITECTURES": "architectures",
    "Architecture": "architectures",
    "build_model": "architectures",
    "load_checkpoint": "checkpoints",
    "save_checkpoint": "checkpoints",
    "TASKS": "config",
    "Task": "config",
    "TrainConfig": "config",
    "load_mnist": "data",
    "mnist_arrays": "data",
    "DatasetSummary": "data",
    "dataset_summary": "data",
    "task_subset": "data",
    "Dataset": "datasets",
    "MnistDataset": "datasets",
    "MyDigitsDataset": "datasets",
    "MNIST": "datasets",
    "DATASETS": "datasets",
    "CheckpointError": "errors",
    "DataError": "errors",
    "DivergedError": "errors",
    "EmptyImageError": "errors",
    "ExportError": "errors",
    "MnistDesktopError": "errors",
    "TrainingError": "errors",
    "Evaluation": "evaluation",
    "evaluate": "evaluation",
    "export_onnx": "export",
    "fine_tune": "finetune",
    "MyDigits": "mydigits",
    "default_digits_folder": "mydigits",
    "DEFAULT_MODEL": "inference",
    "Predictor": "inference",
    "LOSSES": "losses",
    "Loss": "losses",
    "LayerLevel": "levels",
    "reference_levels": "levels",
    "load_digit_image": "preprocess",
    "to_mnist": "preprocess",
    "PREPROCESS_VARIANTS": "preprocess",  # the chapter-4 lab
    "preprocess_variants": "preprocess",
    "BatchInfo": "training",
    "EpochInfo": "training",
    "TrainResult": "training",
    "available_devices": "training",
    "continue_config": "config",
    "recommended_config": "config",
    "resolve_device": "training",
    "train": "training",
    # SGD one phase at a time
    "StepState": "stepper",
    "Stepper": "stepper",
    # chapter 4 lab: accuracy vs loss, and the chapter as a path
    "Nudge": "nudging",
    "nudge": "nudging",
    "STAGES": "chapter",
    "Stage": "chapter",
    "Question": "chapter",
    "QuadraticSGD": "toy_sgd",
    "ToyState": "toy_sgd",
    "SimilarityLab": "similarity",
    "pixel_similarity_lab": "similarity",
    "ShapeLine": "tensor_shapes",
    "batch_shapes": "tensor_shapes",
    "SigmoidBatch": "sigmoid",
    "sigmoid_batch": "sigmoid",
    # whole numbers, and the training digits nearest a drawing
    "DigitReading": "numbers",
    "NumberReading": "numbers",
    "read_number": "numbers",
    "ComposedNumber": "drawings",
    "compose_number": "drawings",
    "composed_numbers": "drawings",
    "TrainingFeatures": "neighbours",
    "nearest_training": "neighbours",
    "training_features": "neighbours",
    # weights over time
    "WeightHistory": "weights",
    "WeightSnapshot": "weights",
    # reading real handwriting: robustness, "not a digit", calibration
    "CORRUPTIONS": "corruptions",
    "corrupt": "corruptions",
    "corruption_suite": "corruptions",
    "Calibration": "recognition",
    "calibration": "recognition",
    "fit_temperature": "recognition",
    "calibrate_recognizer": "recognition",
    "training_nondigits": "nondigits",
    "pen_augment": "training",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:  # a submodule (``engine.training``) not imported yet, or a wrong name
        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # the next access is a plain lookup
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
