"""``python -m mnist_desktop``: the GUI with no arguments; ``train``, ``fine-tune``, ``evaluate``, ``predict``,
``read``, ``export``, ``bench`` and ``install-desktop-entry`` headless. Bad input ends with one ``error:`` line and a non-zero exit."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

from . import __version__

PROG = "mnist-desktop"


MAX_EPOCHS = 1000
MAX_SAMPLES = 60000  # MNIST's training set: no batch or subset can be larger
MAX_SEED = 2**63  # torch.manual_seed takes a signed 64-bit integer


def _batch_size(text: str) -> int:
    if text.lower() in ("full", "0"):
        return 0
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer or 'full', not {text!r}") from None
    if not 1 <= value <= MAX_SAMPLES:
        raise argparse.ArgumentTypeError(f"must be an integer from 1 to {MAX_SAMPLES} or 'full', not {text!r}")
    return value


def _int_in(low: int, high: int, what: str = ""):
    """An argparse type: an integer from ``low`` to ``high`` inclusive (argparse names the option)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be an integer from {low} to {high}{what}, not {text!r}")
        return value

    parse.__name__ = "integer"  # argparse's fallback message names the type
    return parse


# What every command that takes a model calls the bundled one (export's argument, evaluate's, --model).
BUNDLED = "default"
MODEL_HELP = f"checkpoint (.safetensors or .pt); '{BUNDLED}' or omitted: the bundled model (./{BUNDLED} for a file of that name)"


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line (and exit status 2), not a usage block and a line."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# bench's sections in the order they run (bench.SECTIONS, which imports torch: named here so that
# the parser stays fast; a test keeps the two lists equal).
BENCH_SECTIONS = (
    "startup",
    "data",
    "latency",
    "throughput",
    "recipe",
    "reference",
    "stop",
    "plot",
    "gui",
    "mydigits",
    "mydigits-scale",
    "preprocess",
    "saliency",
    "lab",
    "evaluation",
    "recognition",
    "memory",
    "numbers",
    "nearest",
)


def build_parser() -> argparse.ArgumentParser:
    # Torch-free: --help, --version and usage errors answer without importing torch (seconds).
    from .model.config import ARCHITECTURE_SPECS as ARCHITECTURES
    from .model.config import DEVICES, MAX_CHANNELS, MAX_HIDDEN, SCHEDULES, TASKS, TrainConfig
    from .model.config import LOSS_SPECS as LOSSES

    d = TrainConfig()
    parser = _Parser(prog=PROG, description="Draw a digit, train a classifier, look inside. No command: open the app.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    t = sub.add_parser(
        "train", help="train a model and save it", description="Train a model on the bundled MNIST and save it as a checkpoint."
    )
    t.add_argument("--arch", choices=list(ARCHITECTURES), default=d.arch, help=f"architecture (default {d.arch})")
    t.add_argument("--task", choices=list(TASKS), default=d.task, help=f"all ten digits, or 3 vs 7 (default {d.task})")
    t.add_argument("--loss", choices=list(LOSSES), default=d.loss, help=f"loss function (default {d.loss})")
    t.add_argument("--lr", type=float, default=d.lr, help=f"(peak) learning rate (default {d.lr})")
    t.add_argument("--momentum", type=float, default=d.momentum, help=f"SGD momentum (default {d.momentum})")
    t.add_argument("--nesterov", action=argparse.BooleanOptionalAction, default=d.nesterov, help="Nesterov momentum")
    t.add_argument("--weight-decay", type=float, default=d.weight_decay, help=f"(default {d.weight_decay})")
    t.add_argument(
        "--batch-size",
        type=_batch_size,
        default=d.batch_size,
        help=f"samples per step, or 'full' for gradient descent (default {d.batch_size})",
    )
    t.add_argument("--epochs", type=_int_in(1, MAX_EPOCHS), default=d.epochs, help=f"(default {d.epochs})")
    t.add_argument("--schedule", choices=SCHEDULES, default=d.schedule, help=f"learning-rate schedule (default {d.schedule})")
    t.add_argument("--hidden", type=_int_in(1, MAX_HIDDEN), default=None, help=f"hidden width of the mlp (default {d.hidden})")
    t.add_argument("--augment", action="store_true", help="shift each training image by up to 2 pixels and vary its stroke width")
    t.add_argument("--pen-augment", action="store_true", help="distort each training image as a pen would: slant, wobble, width, gaps")
    t.add_argument(
        "--outliers", type=float, default=d.outliers, metavar="W", help="weight of generated non-digits taught as 'unsure' (default 0)"
    )
    t.add_argument("--font-glyphs", action="store_true", help="also learn from digits (and non-digits) written in 20 fonts")
    t.add_argument(
        "--robust-augment",
        type=float,
        default=d.robust_augment,
        metavar="P",
        help="also what scans and photos do (off-centre, grey paper, shading, noise, stray lines), each to this share of a batch",
    )
    t.add_argument(
        "--european-digits",
        type=float,
        default=d.european_digits,
        metavar="P",
        help="redraw this share of the training 1s and 7s as much of the world writes them (a 1 with a flag, a crossed 7)",
    )
    t.add_argument("--outlier-pairs", action="store_true", help="with --outliers: two digits side by side are non-digits too")
    t.add_argument(
        "--channels",
        type=_int_in(1, MAX_CHANNELS),
        nargs=2,
        default=None,
        metavar=("C1", "C2"),
        help=f"cnn widths (default {d.channels1} {d.channels2})",
    )
    t.add_argument("--device", choices=DEVICES, default=d.device, help="auto prefers cuda, then mps, then cpu")
    t.add_argument("--seed", type=_int_in(0, MAX_SEED - 1, " (2**63 - 1)"), default=d.seed, help=f"(default {d.seed})")
    t.add_argument("--subset", type=_int_in(0, MAX_SAMPLES), default=0, metavar="N", help="train on the first N images only (default: all)")
    t.add_argument("--data", type=Path, help="folder with MNIST IDX files (default: the bundled copy)")
    t.add_argument("--out", type=Path, required=True, help="where to save the checkpoint (.safetensors)")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate", help="accuracy, per-class accuracy and confusion matrix of a checkpoint")
    e.add_argument("path", help=f"checkpoint (.safetensors, or a plain .pt state dict); '{BUNDLED}': the bundled model")
    e.add_argument("--data", type=Path, help="folder with MNIST IDX files (default: the bundled copy)")
    e.add_argument(
        "--digits",
        type=Path,
        metavar="FOLDER",
        help="evaluate on your own digits (a My digits folder) instead of the MNIST test set",
    )
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.set_defaults(func=cmd_evaluate)

    f = sub.add_parser(
        "fine-tune",
        help="teach a model your own handwriting (My digits) and save it",
        description="Train a model further on your own digits (a My digits folder, as the app saves them), mixed with "
        "MNIST training images so that it does not forget MNIST.",
    )
    f.add_argument("--digits", type=Path, metavar="FOLDER", help="My digits folder (default: the app's, in your data folder)")
    f.add_argument("--model", help="checkpoint to start from: " + MODEL_HELP)
    f.add_argument("--out", type=Path, required=True, help="where to save the fine-tuned checkpoint (.safetensors)")
    f.add_argument("--epochs", type=_int_in(1, MAX_EPOCHS), help="(default: the measured default of fine_tune)")
    f.add_argument("--replay", type=_int_in(1, MAX_SAMPLES), help="MNIST training images mixed in (default: fine_tune's)")
    f.add_argument("--device", choices=DEVICES, default=d.device, help="auto prefers cuda, then mps, then cpu")
    f.set_defaults(func=cmd_fine_tune)

    p = sub.add_parser("predict", help="classify an image file of a digit")
    p.add_argument("image", type=Path, help="PNG/JPEG/... of one digit, dark on light or light on dark")
    p.add_argument("--model", help=MODEL_HELP)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_predict)

    r = sub.add_parser(
        "read",
        help="read a number written in an image file (several digits, left to right)",
        description="Read the digits written left to right in an image (a photo, a scan or a canvas, dark on light or "
        "light on dark): the number, and for each digit its reading, probability and box in the image's pixels, as "
        "it is read (shrunk to fit 1024 pixels if larger): its first and last column and row, or with --json "
        "[x0, y0, x1, y1] with x1 and y1 exclusive.",
    )
    r.add_argument("image", type=Path, help="PNG/JPEG/... of one or more digits")
    r.add_argument("--model", help=MODEL_HELP)
    r.add_argument("--json", action="store_true", help="print one JSON object")
    r.set_defaults(func=cmd_read)

    x = sub.add_parser(
        "export",
        help="export a model to ONNX (for ONNX Runtime Web and others)",
        description="Export a model to ONNX. Its input is a float32 (N, 1, 28, 28) batch in [0, 1], white ink on black, "
        "as to_mnist returns it; its output the probabilities (N, K) over the classes stored in its metadata. "
        'Needs the export extra: pip install -e ".[export]".',
    )
    x.add_argument("model", nargs="?", default=BUNDLED, help=MODEL_HELP)
    x.add_argument("--onnx", type=Path, required=True, metavar="OUT.onnx", help="where to write the ONNX model (.onnx added if missing)")
    x.set_defaults(func=cmd_export)

    b = sub.add_parser("bench", help="measure latency, training speed and GUI responsiveness")
    b.add_argument("--json", action="store_true", help="print one JSON object")
    chosen = b.add_mutually_exclusive_group()
    chosen.add_argument(
        "--skip", action="append", default=[], choices=BENCH_SECTIONS, metavar="SECTION", help="leave a section out (repeatable)"
    )
    chosen.add_argument(
        "--only", action="append", default=[], choices=BENCH_SECTIONS, metavar="SECTION", help="run only this section (repeatable)"
    )
    b.epilog = "sections: " + ", ".join(BENCH_SECTIONS)
    b.set_defaults(func=cmd_bench)

    i = sub.add_parser(
        "install-desktop-entry",
        help="add the app to the desktop's menu (Linux)",
        description="Write mnist-desktop.desktop to $XDG_DATA_HOME/applications and the icon to "
        "$XDG_DATA_HOME/icons/hicolor ($XDG_DATA_HOME defaults to ~/.local/share). Safe to run again.",
    )
    i.set_defaults(func=cmd_install_desktop_entry)
    return parser


def cmd_train(args) -> int:
    from .model.config import TrainConfig

    d = TrainConfig()
    channels = args.channels if args.channels is not None else (d.channels1, d.channels2)
    config = TrainConfig(
        task=args.task,
        arch=args.arch,
        loss=args.loss,
        lr=args.lr,
        momentum=args.momentum,
        nesterov=args.nesterov,
        weight_decay=args.weight_decay,
        batch_size=args.batch_size,
        epochs=args.epochs,
        schedule=args.schedule,
        seed=args.seed,
        device=args.device,
        hidden=args.hidden if args.hidden is not None else d.hidden,
        augment=args.augment,
        pen_augment=args.pen_augment,
        outliers=args.outliers,
        font_glyphs=args.font_glyphs,
        robust_augment=args.robust_augment,
        european_digits=args.european_digits,
        outlier_pairs=args.outlier_pairs,
        channels1=channels[0],
        channels2=channels[1],
        subset=args.subset,
    )
    config.validate()
    for note in _ignored_options(config.arch, {"hidden": args.hidden, "channels": args.channels}):
        print(f"{PROG}: note: {note}", file=sys.stderr)
    out = _writable_out(args.out)
    from .model import train  # torch (seconds): after every refusal of the arguments

    result = _with_progress(lambda **callbacks: train(config, data_root=args.data, **callbacks))
    if result is None:
        return INTERRUPTED
    return _save(result, out, f"({result.predictor.describe()}, {result.metrics['seconds']:.1f} s)")


def _ignored_options(arch: str, given: dict) -> list[str]:
    """Options of an architecture's own settings given for one that has no such setting (``--hidden
    256`` with the default CNN changed nothing, and said nothing); ``given``: option → its value,
    None when not given."""
    from .model.config import get_architecture_spec

    settings = get_architecture_spec(arch).settings
    owners = {"hidden": "the mlp's hidden width", "channels": "the cnn's widths"}
    fields = {"hidden": ("hidden",), "channels": ("channels1", "channels2")}
    return [
        f"--{option} sets {owners[option]}; ignored for the {arch} model"
        for option, value in given.items()
        if value is not None and not set(fields[option]) <= set(settings)
    ]


def _outside_the_package(out: Path, option: str = "--out") -> None:
    """An installed app's own files (its bundled model) are never written over: every later
    command would use the new file. A source checkout's maintainers write the bundled model there."""
    from .model.paths import is_inside_package, is_source_checkout

    if is_inside_package(out) and not is_source_checkout():
        raise ValueError(f"{option} {out} is inside the installed app; save it elsewhere (your data folder, for instance)")


def _writable_out(out: Path) -> Path:
    from .model.checkpoint_files import check_writable  # torch-free

    if out.is_dir():
        raise ValueError(f"--out {out} is a folder; give a file name such as {out / 'model.safetensors'}")
    _outside_the_package(out)
    return check_writable(out)  # before training: a model trained for nothing is the worst outcome


def _with_progress(run):
    """``run(on_batch=, on_epoch=, on_note=)`` (a ``train`` or ``fine_tune`` call) with a
    progress bar on stderr; its result, or None after Ctrl-C (said on stderr)."""
    bar, on_batch, on_epoch, report = _progress()
    try:
        return run(on_batch=on_batch, on_epoch=on_epoch, on_note=report)
    except KeyboardInterrupt:
        bar.close()
        print(f"{PROG}: interrupted: nothing saved", file=sys.stderr)
        return None
    finally:
        bar.close()


STDOUT_LOST: list[OSError] = []  # why standard output could not be written, once it could not


def _stdout_to_devnull() -> None:
    """Point standard output at /dev/null (nothing more goes to a closed pipe or a full disk)."""
    fd = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(fd, sys.stdout.fileno())
    finally:
        os.close(fd)


def _progress():
    """A progress bar on stderr and the train callbacks that drive it."""
    from tqdm import tqdm

    bar = tqdm(total=None, unit="step", dynamic_ncols=True, leave=False, file=sys.stderr, disable=None, mininterval=0.25)
    done = [0]

    def on_batch(info) -> None:
        if bar.total is None:
            bar.reset(total=info.total_steps)
        bar.update(info.step - done[0])
        done[0] = info.step
        bar.set_description(f"epoch {info.epoch}/{info.epochs}")
        bar.set_postfix(loss=f"{info.loss:.4f}", samples_s=f"{info.samples_per_s:,.0f}", refresh=False)

    lost = STDOUT_LOST
    lost.clear()  # this command's standard output, not an earlier one's (tests call main again)

    def report(line: str) -> None:
        """A line on standard output. One that cannot be written (`| head` has gone, a full disk)
        never ends the run: the model is still saved (it used to be thrown away)."""
        if lost:
            return
        try:
            bar.write(line)
            sys.stdout.flush()
        except OSError as e:  # BrokenPipeError included
            lost.append(e)
            _stdout_to_devnull()  # nothing more goes there
            print(f"{PROG}: note: standard output cannot be written ({e.strerror or e}); training goes on", file=sys.stderr)

    def on_epoch(info) -> None:
        report(
            f"epoch {info.epoch}/{info.epochs}  train loss {info.train_loss:.4f}  valid loss {info.valid_loss:.4f}  "
            f"valid accuracy {100 * info.valid_accuracy:.2f} %  {info.seconds:.1f} s"
            + (f"  (stopped after {info.batches_done} of {info.batches} batches)" if info.partial else "")
        )

    return bar, on_batch, on_epoch, report


def _save(result, out: Path, what: str) -> int:
    from .model import CheckpointError

    try:
        path = result.predictor.save(out)
    except KeyboardInterrupt:  # the save writes a temporary file and removes it: nothing half-written
        print(
            f"{PROG}: interrupted while saving: nothing saved{', ' + str(out) + ' is unchanged' if out.exists() else ''}", file=sys.stderr
        )
        return INTERRUPTED
    except CheckpointError as e:  # e.g. the disk filled up while training: keep the model somewhere
        import tempfile

        fd, fallback = tempfile.mkstemp(prefix=f"{out.stem}-", suffix=".safetensors")
        os.close(fd)
        try:
            result.predictor.save(fallback)
        except CheckpointError:
            raise e from None
        raise CheckpointError(f"{e} The trained model was saved to {fallback} instead.") from None
    # where the user sees it: standard output, or standard error once that could not be written
    print(f"saved {path}  {what}", file=sys.stderr if STDOUT_LOST else sys.stdout)
    return 0


def _my_digits(folder: Path | None):
    """The My digits folder named (or the app's), which must exist and hold digits; opened
    read-only (nothing is created or changed in it)."""
    from .model import MyDigits, default_digits_folder

    folder = folder if folder is not None else default_digits_folder()
    if not folder.is_dir():
        raise ValueError(f"--digits {folder}: no such folder; save some digits in the app first, or name a My digits folder")
    digits = MyDigits(folder, read_only=True)
    for note in digits.notes:
        print(f"{PROG}: note: {note}", file=sys.stderr)
    if not len(digits):
        raise ValueError(f"--digits {folder}: there are no digits in this folder; save some in the app first")
    return digits


def _finite(obj):
    """``obj`` with every NaN or infinity replaced by None: JSON has no NaN."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def _json(obj) -> str:
    """Strict JSON (``null`` where a figure is not a number: a bare NaN is not JSON and breaks its readers)."""
    return json.dumps(_finite(obj), allow_nan=False)


def cmd_evaluate(args) -> int:
    import numpy as np

    # My digits before the model (torch-free): a missing folder is said before torch loads.
    if args.digits is not None:
        if args.data is not None:
            print(f"{PROG}: note: --data is not used with --digits (your digits are evaluated, not MNIST's test set)", file=sys.stderr)
        digits = _my_digits(args.digits)
        images, labels = digits.images(), digits.labels()
        where, source = f"digits in {args.digits}", f"of my digits ({args.digits})"
    predictor = _model(args.path)
    from .model import evaluate, load_mnist

    if args.digits is None:
        images, labels = load_mnist("test", args.data)
        where, source = "MNIST test images", "MNIST test images"
    # Only the images of the model's classes count (a 3-vs-7 model is judged on the 3s and 7s):
    # none of them is an accuracy of nothing, refused (evaluate refuses it too; here the message
    # says which images); some left out are said.
    if not len(labels):
        raise ValueError(f"there are no {where} to evaluate: the set is empty")
    if not np.isin(np.asarray(labels), predictor.classes).any():
        raise ValueError(f"none of the {len(labels)} {where} is one of this model's classes ({_classes(predictor)}); nothing to evaluate")
    result = evaluate(predictor, images, labels)
    left_out = len(labels) - len(result.labels)
    report = {
        "model": predictor.describe(),
        "architecture": predictor.arch,
        "task": predictor.task,
        "data": str(args.digits) if args.digits is not None else "mnist-test",
        **result.as_dict(),
        "left_out": left_out,  # images of classes the model does not know, not counted
    }
    if args.json:
        print(_json(report))
        return 0
    classes = report["classes"]
    print(f"{args.path}: {report['model']}")
    print(
        f"{'accuracy' if args.digits is not None else 'test accuracy'} {100 * report['accuracy']:.2f} % on {report['samples']} {source}"
        + (f" (only its classes {_classes(predictor)} count: {left_out} of {len(labels)} left out)" if left_out else "")
    )
    print("per class: " + "  ".join(f"{c}: {'—' if a is None else f'{100 * a:.1f} %'}" for c, a in report["per_class_accuracy"].items()))
    print("confusion matrix (rows: true class, columns: predicted)")
    print("      " + "".join(f"{c:>6}" for c in classes))
    for c, row in zip(classes, report["confusion_matrix"]):
        print(f"{c:>6}" + "".join(f"{v:>6}" for v in row))
    return 0


def _model(spec: str | None, numpy: bool = False):
    """The model a command names, the one resolver of every command that takes one: None (not
    given) or 'default' is the bundled model, anything else a checkpoint file (./default names a
    file called default). With ``numpy``, the bundled model is its numpy twin (the same
    probabilities to 1e-5, without waiting seconds for torch). What the app ignores in the file
    (a stored test accuracy that is no fraction) is said on stderr."""
    if spec is not None and not spec.strip():
        raise ValueError(f"no model named (an empty name): give a checkpoint file, or '{BUNDLED}' for the bundled model")
    bundled = spec is None or spec == BUNDLED
    if bundled and numpy:
        from .model.numpy_forward import NumpyPredictor

        predictor = NumpyPredictor.default()
    else:
        if not bundled:  # no such file, a folder, no checkpoint's format: said before torch loads (seconds)
            from .model.checkpoint_files import check_checkpoint_file

            check_checkpoint_file(Path(spec))
        from .model import Predictor

        predictor = Predictor.default() if bundled else Predictor.load(Path(spec))
    for note in predictor.notes:
        print(f"{PROG}: note: {'the bundled model' if bundled else spec}: {note}", file=sys.stderr)
    return predictor


def _classes(predictor) -> str:
    return ", ".join(map(str, predictor.classes))


def _say_classes(predictor) -> None:
    """A model of fewer classes reads every digit as one of them (a 3-vs-7 model read "1234567890"
    as 3s and 7s, sure of each): said on stderr before its answer."""
    if sorted(predictor.classes) != list(range(10)):
        print(f"{PROG}: note: this model knows only {_classes(predictor)}; it reads every digit as one of them", file=sys.stderr)


def cmd_fine_tune(args) -> int:
    # the digits and --out first (torch-free): a missing folder is said before the model's torch loads
    digits = _my_digits(args.digits)
    images, labels = digits.images(), digits.labels()
    out = _writable_out(args.out)
    predictor = _model(args.model)
    from .model import evaluate, fine_tune

    options = {"replay": args.replay} if args.replay else {}
    result = _with_progress(
        lambda **callbacks: fine_tune(predictor, images, labels, epochs=args.epochs, device=args.device, **options, **callbacks)
    )
    if result is None:
        return INTERRUPTED
    before, after = evaluate(predictor, images, labels), evaluate(result.predictor, images, labels)
    before_mnist = predictor.metrics.get("test_accuracy")
    print(
        f"my digits ({len(before.labels)} of {len(labels)} used): {100 * before.accuracy:.1f} % → {100 * after.accuracy:.1f} %;  "
        f"MNIST test: {f'{100 * before_mnist:.2f} % → ' if isinstance(before_mnist, float) else ''}"
        f"{100 * result.metrics['test_accuracy']:.2f} %"
    )
    # the saved model's own description: its accuracy, not the one it started from
    return _save(
        result, out, f"({result.predictor.describe()}, fine-tuned on {len(before.labels)} digits in {result.metrics['seconds']:.1f} s)"
    )


def cmd_predict(args) -> int:
    from .model.preprocess import load_digit_image, to_mnist

    image = load_digit_image(args.image)  # before the model: a bad file is reported at once
    predictor = _model(args.model, numpy=True)
    _say_classes(predictor)
    probs, is_digit = predictor.predict_checked(to_mnist(image))
    top = sorted(zip(predictor.classes, probs.tolist()), key=lambda cp: -cp[1])[:3]
    if args.json:
        print(_json({"image": str(args.image), "is_digit": is_digit, "top": [{"class": c, "probability": p} for c, p in top]}))
    else:
        for i, (c, p) in enumerate(top):
            # the model's "not a digit", as the window and `read` say it: the best guess still shown
            print(f"{c}  {100 * p:5.1f} %" + ("  (not a digit? the model's best guess)" if i == 0 and not is_digit else ""))
    return 0


def cmd_read(args) -> int:
    from .model import read_number
    from .model.preprocess import load_digit_image

    image = load_digit_image(args.image)  # before torch loads: a bad file is reported at once
    predictor = _model(args.model)
    _say_classes(predictor)
    try:
        reading = read_number(image, predictor)
    except ValueError as e:  # noise or a pattern ("too many separate marks"): which file, as a file's other errors say
        raise ValueError(f"{args.image}: {e}") from None
    digits = [
        {
            "label": d.label,
            "probability": float(d.probabilities.max()),
            "is_digit": d.is_digit,
            "box": list(d.box),
            "probabilities": {str(c): float(p) for c, p in zip(predictor.classes, d.probabilities)},
        }
        for d in reading.digits
    ]
    if args.json:
        print(_json({"image": str(args.image), "size": [image.shape[1], image.shape[0]], "text": reading.text, "digits": digits}))
        return 0
    print(reading.marked)  # "?" where a part is not a digit; each one's best guess below
    for d in digits:
        x0, y0, x1, y1 = d["box"]
        note = "" if d["is_digit"] else "  (not a digit?)"
        # first and last pixel: "x 10–50" read as a range took 50 in, which the box's exclusive end is not
        print(f"{d['label']}  {100 * d['probability']:5.1f} %  box x {x0}–{x1 - 1}, y {y0}–{y1 - 1}{note}")
    return 0


def cmd_export(args) -> int:
    import time

    _outside_the_package(Path(args.onnx), "--onnx")
    predictor = _model(args.model)
    from .model import export_onnx

    start = time.perf_counter()
    path = export_onnx(predictor, args.onnx)
    print(
        f"exported {path}  ({predictor.describe()}; classes {','.join(map(str, predictor.classes))}; "
        f"{path.stat().st_size / 1000:,.0f} KB, {time.perf_counter() - start:.1f} s)"
    )
    return 0


def cmd_bench(args) -> int:
    from .bench import format_report, run_bench

    skip = set(BENCH_SECTIONS) - set(args.only) if args.only else set(args.skip)
    report = run_bench(skip=skip, log=None if args.json else lambda s: print(s, file=sys.stderr, flush=True))
    print(_json(report) if args.json else format_report(report))
    return 0


def cmd_install_desktop_entry(args) -> int:
    from .desktop_entry import install_desktop_entry

    for path, changed in install_desktop_entry():
        print(f"{'wrote' if changed else 'up to date'} {path}")
    return 0


INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a command stopped with Ctrl-C


def main(argv: list[str] | None = None) -> int:
    try:
        code = _main(argv)
        if sys.stdout is not None:
            sys.stdout.flush()  # here, where a closed pipe is caught below, not at exit
        return code
    except KeyboardInterrupt:  # Ctrl-C anywhere (importing torch takes seconds): one line, no traceback
        print(f"{PROG}: interrupted", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:  # `mnist-desktop evaluate … | head`: the reader has gone, which is no error
        # Python flushes stdout at exit, into the closed pipe: point it at /dev/null first.
        _stdout_to_devnull()
        return 0
    except OSError as e:  # stdout on a full disk (`> /dev/full`): the result could not be written
        _stdout_to_devnull()
        print(f"{PROG}: error: cannot write to standard output ({e.strerror or e})", file=sys.stderr)
        return 1


def no_display(environ=os.environ, platform: str = sys.platform) -> str | None:
    """Why the window cannot be shown here, or None. On Linux without a display (an ssh session,
    a server) Qt aborts the process with a plugin dump (exit 134): say it in one line instead."""
    if not platform.startswith("linux") or environ.get("QT_QPA_PLATFORM") or environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"):
        return None
    return (
        "no display to show the window on (DISPLAY and WAYLAND_DISPLAY are not set). "
        f"The subcommands work without one: {PROG} --help lists them"
    )


def _main(argv: list[str] | None) -> int:
    from .model.errors import MnistDesktopError

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is not None and sys.stdout is None:
        # Started with stdout closed: the first file this process opens would get descriptor 1
        # and receive what is printed. Refuse before anything is opened.
        print(f"{PROG}: error: standard output is closed; run {PROG} {args.command} with it open (e.g. > out.txt)", file=sys.stderr)
        return 1
    if args.command is None:
        missing = no_display()
        if missing:
            print(f"{PROG}: error: {missing}", file=sys.stderr)
            return 1
        try:
            from .ui import run
        except ImportError as e:
            print(
                f"{PROG}: error: the desktop app cannot start ({e}). Install the project with its dependencies (see README).",
                file=sys.stderr,
            )
            return 1
        return run()
    try:
        return args.func(args)
    except BrokenPipeError:
        raise  # not the command's failure: see main
    except (MnistDesktopError, ValueError, OSError) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
