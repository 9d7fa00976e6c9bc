"""The batch as the chapter writes it: ``torch.stack``, ``.view(-1, 28*28)``, ``xb @ w + b``.

:func:`batch_shapes` reads a Step-mode :class:`~.stepper.StepState` and gives back the
chapter's lines of code for it with the real shapes of this run and this batch: how many 3s
and 7s were stacked, the batch ``xb`` as the model gets it, the weights ``w`` and bias ``b``,
the predictions and the loss. The app's linear layer is PyTorch's ``nn.Linear``, which keeps
its weight as (outputs, 784) and computes ``xb @ weight.T + bias``; the lines show the
chapter's ``w`` = ``weight.T``. No Qt, no torch: it reads numpy arrays only.
"""

from __future__ import annotations

from dataclasses import dataclass

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


def batch_shapes(state, arch: str) -> list[ShapeLine]:
    """The chapter's tensors for ``state`` (a StepState) of a model of architecture ``arch``:
    the training set stacked and flattened, the parameters (from init on), then the batch,
    the predictions, the loss, the gradients and the step as far as the state has got."""
    lines: list[ShapeLine] = []
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
            target = f"tensor([0]*len({NUMBER_NAMES[classes[0]]}) + [1]*len({NUMBER_NAMES[classes[1]]})).unsqueeze(1)"
            lines.append(ShapeLine("train_y", f"train_y = {target}", (total, 1), f"a {classes[1]} is 1, a {classes[0]} is 0"))
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
    lines.append(ShapeLine("yb", "yb", (n, 1) if len(classes) == 2 else (n,), "the batch's right answers"))
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
        loss_name = "mnist_loss" if state.predictions.shape[1] == 1 else "F.cross_entropy"
        lines.append(ShapeLine("loss", f"loss = {loss_name}(preds, yb)", (), f"one number: {state.loss:.4f}"))
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
        lines.append(ShapeLine("step", "p.data -= lr * p.grad.data", None, f"each parameter keeps its shape; lr {state.lr:g}"))
    return lines
