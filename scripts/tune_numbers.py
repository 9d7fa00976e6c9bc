"""Tune ``read_number`` on numbers composed from MNIST *training* digits the bundled model never
trained on (the last 5,000 of the 60,000; it trained on the first 55,000), never on the test
digits that ``mnist-desktop bench --only numbers`` measures with.

    PYTHONPATH=. python scripts/tune_numbers.py                 # exact reads with the module's constants
    PYTHONPATH=. python scripts/tune_numbers.py PIECE_BONUS=1.0 # ... with constants changed
    PYTHONPATH=. python scripts/tune_numbers.py --fit           # refit DIGIT_WIDTHS and SCORE_WEIGHTS
    PYTHONPATH=. python scripts/tune_numbers.py --cv            # fit on half the numbers, measure on the other half, both ways
    PYTHONPATH=. python scripts/tune_numbers.py --more          # also 2,100 more numbers with gaps (seeds 102 and 104)

The tuning numbers: 140 written with gaps (20 of each length 2–8) and 280 with touching
neighbours (40 of each length), seeds (100, n) and (101, n). ``--fit`` cuts every part at least
FIT_ASPECT digit heights wide (whatever the model's first reading), reads every candidate piece,
calls a piece a digit when its box is over 0.8 IoU with a true digit's, and fits the logistic
model of ``numbers._piece_score`` by Newton's method; it prints the constants to paste into
``mnist_desktop/model/numbers.py``.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch

from mnist_desktop.model import Predictor, mnist_arrays
from mnist_desktop.model import numbers as N
from mnist_desktop.model.drawings import compose_number

FIT_ASPECT = 0.3
LENGTHS = list(range(2, 9))


def tuning_numbers():
    images, labels = mnist_arrays("train")
    images, labels = images[55000:], labels[55000:]
    gaps = [compose_number(LENGTHS[n % 7], (100, n), images=images, labels=labels) for n in range(140)]
    touching = [compose_number(LENGTHS[n % 7], (101, n), touching=True, images=images, labels=labels) for n in range(280)]
    return gaps, touching


def more_numbers():
    """2,100 more numbers written with gaps, of the same digits (seeds (102, n) and (104, n)):
    the 140 tuning ones are too few to see a change of a few tenths of a point."""
    images, labels = mnist_arrays("train")
    images, labels = images[55000:], labels[55000:]
    return [compose_number(LENGTHS[n % 7], (102, n), images=images, labels=labels) for n in range(700)] + [
        compose_number(LENGTHS[n % 7], (104, n), images=images, labels=labels) for n in range(1400)
    ]


def iou(a, b) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def measure(predictor, numbers) -> str:
    exact = segmented = fewer = more = 0
    t = time.perf_counter()
    for c in numbers:
        reading = N.read_number(c.image, predictor)
        boxes = [d.box for d in reading.digits]
        exact += reading.text == c.text
        segmented += len(boxes) == len(c.boxes) and all(iou(p, q) > 0.8 for p, q in zip(boxes, c.boxes))
        fewer += len(boxes) < len(c.boxes)
        more += len(boxes) > len(c.boxes)
    n = len(numbers)
    ms = 1000 * (time.perf_counter() - t) / n
    return f"exact {100 * exact / n:.1f} %, segmented right {100 * segmented / n:.1f} %, too few digits {100 * fewer / n:.1f} %, too many {100 * more / n:.1f} % ({ms:.0f} ms a number)"


def pieces(predictor, numbers):
    """Every candidate piece of every part (and every whole part): (piece, its label if it is a
    digit else None, height, crossed, whole, edges)."""
    out = []
    for c in numbers:
        parts = N._parts(c.image)
        height = float(np.median([p.height for p in parts]))
        tries = [(p, cols) for p in parts if p.width >= FIT_ASPECT * height and (cols := N._cut_candidates(p, height))]
        plans = {id(p): N._candidates(p, seams, height) for (p, _), seams in zip(tries, N._seams(tries, height) if tries else [])}
        N._classify(predictor, parts + [q for _, table in plans.values() for q in table.values()])
        for p in parts:
            crossed, table = plans.get(id(p), (np.zeros(2), {}))
            n = len(crossed) - 1
            table[0, n] = p
            for (i, j), q in table.items():
                match = [iou(q.box, b) for b in c.boxes]
                label = int(c.text[int(np.argmax(match))]) if max(match) > 0.8 else None
                out.append((q, label, height, crossed[i] + crossed[j], (i, j) == (0, n), (i == 0) + (j == n)))
    return out


def fit(predictor, numbers) -> None:
    found = pieces(predictor, numbers)
    widths = {d: [q.width / h for q, label, h, *_ in found if label == d] for d in range(10)}
    N.DIGIT_WIDTHS = {d: (round(float(np.mean(w)), 3), round(float(np.std(w)), 3)) for d, w in widths.items()}
    x = np.array([N._features(q, int(predictor.classes[int(np.argmax(q.probabilities))]), h, *rest) for q, _, h, *rest in found])
    y = np.array([label is not None for _, label, *_ in found], float)
    mean, spread = x.mean(axis=0), x.std(axis=0)
    mean[0], spread[0] = 0.0, 1.0
    xs = (x - mean) / spread
    w = np.zeros(x.shape[1])
    for _ in range(50):  # Newton's method, a little L2 to keep it well posed
        p = 1 / (1 + np.exp(-xs @ w))
        grad = xs.T @ (p - y) / len(y) + 1e-3 * w
        hess = (xs * (p * (1 - p))[:, None]).T @ xs / len(y) + 1e-3 * np.eye(len(w))
        w -= np.linalg.solve(hess, grad)
    weights = w / spread
    weights[0] = w[0] - (w[1:] * mean[1:] / spread[1:]).sum()
    print(f"{len(y)} candidate pieces, {int(y.sum())} of them a digit")
    print("DIGIT_WIDTHS =", N.DIGIT_WIDTHS)
    print("SCORE_WEIGHTS = np.array(", [round(float(v), 3) for v in weights], ")")
    N.SCORE_WEIGHTS = np.round(weights, 3)


def main(argv: list[str]) -> None:
    torch.set_num_threads(1)
    predictor = Predictor.default()
    gaps, touching = tuning_numbers()
    for arg in argv:
        if arg not in ("--fit", "--cv", "--more"):
            name, value = arg.split("=")
            setattr(N, name, type(getattr(N, name))(value))
    if "--cv" in argv:  # even numbers, odd numbers: each half measured with the weights fitted on the other
        for half in (0, 1):
            fit(predictor, gaps[half::2] + touching[half::2])
            print(f"fitted on half {half}, measured on the other:")
            print("  written with gaps:", measure(predictor, gaps[1 - half :: 2]))
            print("  touching:         ", measure(predictor, touching[1 - half :: 2]))
        return
    if "--fit" in argv:
        fit(predictor, gaps + touching)
    print("written with gaps:", measure(predictor, gaps))
    print("touching:         ", measure(predictor, touching))
    if "--more" in argv:
        print("2,100 more with gaps:", measure(predictor, more_numbers()))


if __name__ == "__main__":
    main(sys.argv[1:])
