"""The engine: data, models, training, preprocessing, inference, checkpoints and export. No Qt here."""

from .architectures import ARCHITECTURES, Architecture, build_model
from .checkpoints import load_checkpoint, save_checkpoint
from .data import TASKS, Task, load_mnist, mnist_arrays, task_subset
from .errors import CheckpointError, DataError, DivergedError, EmptyImageError, ExportError, MnistDesktopError, TrainingError
from .evaluation import Evaluation, evaluate
from .export import export_onnx
from .finetune import fine_tune
from .inference import DEFAULT_MODEL, Predictor
from .losses import LOSSES, Loss
from .mydigits import MyDigits, default_digits_folder
from .preprocess import load_digit_image, to_mnist
from .training import (
    BatchInfo,
    EpochInfo,
    TrainConfig,
    TrainResult,
    available_devices,
    continue_config,
    recommended_config,
    resolve_device,
    train,
)

__all__ = [
    "ARCHITECTURES",
    "Architecture",
    "BatchInfo",
    "CheckpointError",
    "DEFAULT_MODEL",
    "DataError",
    "DivergedError",
    "EmptyImageError",
    "EpochInfo",
    "Evaluation",
    "ExportError",
    "LOSSES",
    "Loss",
    "MnistDesktopError",
    "MyDigits",
    "Predictor",
    "TASKS",
    "Task",
    "TrainConfig",
    "TrainResult",
    "TrainingError",
    "available_devices",
    "build_model",
    "continue_config",
    "default_digits_folder",
    "evaluate",
    "export_onnx",
    "fine_tune",
    "load_checkpoint",
    "load_digit_image",
    "load_mnist",
    "mnist_arrays",
    "recommended_config",
    "resolve_device",
    "save_checkpoint",
    "task_subset",
    "to_mnist",
    "train",
]
