"""What fine-tuning on My digits does for a writer who crosses their 7s and flags their 1s.

    PYTHONPATH=. python scripts/european_fine_tune.py

The person's digits: 10 or 30 of each of 1 and 7 from MNIST's held-out training digits
55,000–57,499, redrawn the European way (``styles.european_digits``, seed 11), as My digits would
hold them. Fine-tuned with the app's defaults (``fine_tune``), three seeds each. Measured on
digits neither the bundled model nor the fine-tuning saw: the 1s and 7s of 57,500–59,999 redrawn
the same way with another seed (12), those 2,500 digits as written, and MNIST test.
"""

from __future__ import annotations

import numpy as np
import torch

from mnist_desktop.model import Predictor, evaluate, fine_tune, mnist_arrays
from mnist_desktop.model.styles import european_digits


def accuracy(predictor, images, labels) -> float:
    return 100 * evaluate(predictor, images, labels).accuracy


def main() -> None:
    torch.set_num_threads(2)
    x, y = mnist_arrays("train")
    test_x, test_y = mnist_arrays("test")
    bundled = Predictor.default()
    mine_x, where = european_digits(x[55000:57500], y[55000:57500], 1.0, seed=11)
    mine_y = y[55000:57500][where]
    other_x, other_y = x[57500:], y[57500:]
    euro_x, where = european_digits(other_x, other_y, 1.0, seed=12)
    euro_y = other_y[where]

    def report(name, predictor) -> None:
        print(
            f"{name:<26} European 1s and 7s {accuracy(predictor, euro_x, euro_y):6.2f} %   other held-out digits "
            f"{accuracy(predictor, other_x, other_y):6.2f} %   MNIST test {accuracy(predictor, test_x, test_y):6.2f} %",
            flush=True,
        )

    print(f"{len(euro_y)} European 1s and 7s, {len(other_y)} other held-out digits, {len(test_y)} MNIST test digits")
    report("bundled model", bundled)
    for per in (10, 30):
        for seed in (0, 1, 2):
            rng = np.random.default_rng(seed)
            pick = np.concatenate([rng.choice(np.flatnonzero(mine_y == d), per, replace=False) for d in (1, 7)])
            report(f"{per} of each, seed {seed}", fine_tune(bundled, mine_x[pick], mine_y[pick], seed=seed).predictor)


if __name__ == "__main__":
    main()
