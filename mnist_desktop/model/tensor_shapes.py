"""The batch as the chapter writes it: ``torch.stack``, ``.view(-1, 28*28)``, ``xb @ w + b``.

:func:`batch_shapes` reads a Step-mode :class:`~.stepper.StepState` and gives back the
chapter's lines of code for it with the real shapes of this run and this batch: how many 3s
and 7s were stacked, the batch ``xb`` as the model gets it, the weights ``w`` and bias ``b``,
the predictions and the loss. The app's linear layer is PyTorch's ``nn.Linear``, which keeps
its weight as (outputs, 784) and computes ``xb @ weight.T + bias``; the lines show the
chapter's ``w`` = ``weight.T``. Given the run's settings, the loss line names the loss the run
computes and the step line the update it makes (momentum and weight decay included). No Qt, no
torch: it reads numpy arrays only.
"""

from __future__ import annotations

from dataclasses import dataclass

# The loss each setting computes, as code (the engine's ``losses``).
LOSS_CODE = {"mnist-loss": "mnist_loss", "cross-entropy": "F.cross_entropy", "accuracy": "accuracy_loss"}
NUMBER_NAMES = ("zeros", "ones", "twos", "threes", "fours", "fives", "sixes", "sevens", "eights", "nines")


def shape_text(shape: tuple[int, ...]) -> str:
    """A shape as the chapter prints it, without ``torch.Size``: ``[256, 784]``; ``[]`` for a scalar."""
    return "[" + ", ".join(str(int(n)) for n in shape) + "]"


@dataclass(frozen=True)
class ShapeLine:
    """One line of the chapter's code and the shape its result has here."""

    name: str  # what the line makes: "xb", "w", "preds", ...
    code: str  # the chapter's code for it
    shape: tuple[int, ...] | None  # its shape in this run (None: a line that makes no new tensor)
    note: str = ""  # how the shape came about, or a value

    @property
    def shape_text(self) -> str:
        return "" if self.shape is None else shape_text(self.shape)


def _linear_weights(parameters, prefix: str) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    w, b = parameters.get(f"{prefix}.weight"), parameters.get(f"{prefix}.bias")
    if w is None or w.ndim != 2:
        return None
    return (w.shape[1], w.shape[0]), (tuple(b.shape) if b is not None else (w.shape[0],))


def update_code(momentum: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0) -> str:
    """What one step does to each parameter ``p``, as code: the chapter's ``p -= lr * p.grad``
    for plain SGD, with weight decay and momentum written out as ``training.SGD`` applies them."""
    lines = []
    g = "p.grad"
    if weight_decay:
        lines.append(f"g = p.grad + {weight_decay:g} * p")
        g = "g"
    if not momentum:
        return "; ".join([*lines, f"p.data -= lr * {g}{'.data' if g == 'p.grad' else ''}"])
    lines.append(f"v = {momentum:g} * v + {g}")
    lines.append(f"p.data -= lr * ({g} + {momentum:g} * v)" if nesterov else "p.data -= lr * v")
    return "; ".join(lines)


def batch_shapes(state, arch: str, config=None) -> list[ShapeLine]:
    """The chapter's tensors for ``state`` (a StepState) of a model of architecture ``arch``:
    the training set stacked and flattened, the parameters (from init on), then the batch,
    the predictions, the loss, the gradients and the step as far as the state has got.
    ``config`` (the run's TrainConfig) names the loss and the step's update; without it the
    loss is told from the outputs (one: mnist_loss) and the step is plain SGD."""
    lines: list[ShapeLine] = []
    one_output = _outputs(state) == 1  # mnist_loss: targets 0/1 as a column; else class indices
    counts = tuple(int(n) for n in state.train_counts)
    classes = tuple(state.classes)
    flat = arch in ("linear", "mlp")
    if counts and len(classes) == len(counts):
        if len(classes) <= 3:
            names = []
            for digit, n in zip(classes, counts):
                name = f"stacked_{NUMBER_NAMES[digit]}"
                names.append(name)
                lines.append(ShapeLine(name, f"{name} = torch.stack({NUMBER_NAMES[digit]}).float()/255", (n, 28, 28)))
            joined = f"torch.cat([{', '.join(names)}])"
        else:
            joined = "(torch.stack(all_images).float()/255)"
        total = sum(counts)
        if flat:
            lines.append(ShapeLine("train_x", f"train_x = {joined}.view(-1, 28*28)", (total, 784), "each 28×28 image made one row of 784"))
        else:
            lines.append(ShapeLine("train_x", f"train_x = {joined}.unsqueeze(1)", (total, 1, 28, 28), "a CNN keeps the grid, one channel"))
        if len(classes) == 2:
            target = f"tensor([0]*len({NUMBER_NAMES[classes[0]]}) + [1]*len({NUMBER_NAMES[classes[1]]}))"
            if one_output:
                lines.append(
                    ShapeLine("train_y", f"train_y = {target}.unsqueeze(1)", (total, 1), f"a {classes[1]} is 1, a {classes[0]} is 0")
                )
            else:
                note = f"class indices, a {classes[0]} is 0 and a {classes[1]} is 1: one per image, no column"
                lines.append(ShapeLine("train_y", f"train_y = {target}", (total,), note))
    p = state.parameters
    linear = _linear_weights(p, "fc") if arch == "linear" else None
    mlp = (_linear_weights(p, "fc1"), _linear_weights(p, "fc2")) if arch == "mlp" else (None, None)
    if linear is not None:
        w, b = linear
        lines.append(
            ShapeLine("w", f"w = init_params((28*28, {w[1]}))", w, f"nn.Linear keeps it as weight {shape_text(w[::-1])}: w = weight.T")
        )
        lines.append(ShapeLine("b", f"b = init_params({b[0]})", b))
    elif None not in mlp:
        (w1, b1), (w2, b2) = mlp
        lines.append(ShapeLine("w1", f"w1 = init_params((28*28, {w1[1]}))", w1, f"b1: {shape_text(b1)}"))
        lines.append(ShapeLine("w2", f"w2 = init_params(({w2[0]}, {w2[1]}))", w2, f"b2: {shape_text(b2)}"))
    elif p:
        name, first = next(iter(p.items()))
        lines.append(ShapeLine(name, f"model.{name}", tuple(first.shape), f"the first of {len(p)} parameter tensors"))
    if state.x is None:
        return lines
    n = len(state.x)
    xshape = (n, 784) if flat else tuple(state.x.shape)
    lines.append(ShapeLine("xb", "xb, yb = next(iter(dl))", xshape, f"batch {state.batch}: {n} images"))
    lines.append(ShapeLine("yb", "yb", (n, 1) if len(classes) == 2 and one_output else (n,), "the batch's right answers"))
    preds = tuple(state.predictions.shape) if state.predictions is not None else None
    if linear is not None:
        w, b = linear
        out = (n, w[1])
        lines.append(
            ShapeLine(
                "preds", "preds = xb @ w + b", preds or out, f"{shape_text(xshape)} @ {shape_text(w)} + {shape_text(b)} → {shape_text(out)}"
            )
        )
    elif None not in mlp:
        (w1, b1), (w2, b2) = mlp
        hidden, out = (n, w1[1]), (n, w2[1])
        lines.append(
            ShapeLine(
                "res", "res = xb @ w1 + b1", hidden, f"{shape_text(xshape)} @ {shape_text(w1)} + {shape_text(b1)} → {shape_text(hidden)}"
            )
        )
        lines.append(ShapeLine("res", "res = res.max(tensor(0.0))", hidden, "ReLU: negative numbers become 0, the shape stays"))
        lines.append(
            ShapeLine(
                "preds",
                "preds = res @ w2 + b2",
                preds or out,
                f"{shape_text(hidden)} @ {shape_text(w2)} + {shape_text(b2)} → {shape_text(out)}",
            )
        )
    elif preds is not None:
        lines.append(ShapeLine("preds", "preds = model(xb)", preds))
    if state.predictions is None:
        return lines
    if state.loss is not None:
        loss = getattr(config, "loss", None) or ("mnist-loss" if one_output else "cross-entropy")
        note = f"one number: {state.loss:.4f}" + (" (1 − the batch's accuracy)" if loss == "accuracy" else "")
        lines.append(ShapeLine("loss", f"loss = {LOSS_CODE.get(loss, loss)}(preds, yb)", (), note))
    if state.gradients is not None:
        names = (
            {"fc.weight": "w", "fc.bias": "b", "fc1.weight": "w1", "fc1.bias": "b1", "fc2.weight": "w2", "fc2.bias": "b2"} if flat else {}
        )
        for name, g in state.gradients.items():
            if name in names:
                shape = tuple(g.shape[::-1]) if g.ndim == 2 else tuple(g.shape)
                lines.append(ShapeLine(f"{names[name]}.grad", f"{names[name]}.grad", shape, f"the same shape as {names[name]}"))
        if not names and state.gradients:
            name, g = next(iter(state.gradients.items()))
            lines.append(ShapeLine(f"{name}.grad", f"model.{name}.grad", tuple(g.shape), "the same shape as the parameter"))
    if state.phase == "step":
        update = update_code(getattr(config, "momentum", 0.0), getattr(config, "nesterov", False), getattr(config, "weight_decay", 0.0))
        lines.append(ShapeLine("step", update, None, f"each parameter keeps its shape; lr {state.lr:g}"))
    return lines


def _outputs(state) -> int | None:
    """The model's outputs: the predictions' width, or before predict the size of its last
    parameter (every architecture ends in a linear layer, whose bias has one per output)."""
    if state.predictions is not None:
        return int(state.predictions.shape[1])
    if state.parameters:
        last = list(state.parameters.values())[-1]
        return int(last.shape[0]) if last.ndim >= 1 else None
    return None
