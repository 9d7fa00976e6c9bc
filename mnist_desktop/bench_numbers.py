"""``bench`` sections for whole numbers and nearest training digits: how often ``read_number`` reads a
composed number exactly (with gaps, per length, and with touching neighbours), how long an 8-digit
canvas takes, and how long ``nearest_training`` takes to build its cache and to answer."""

from __future__ import annotations

import time

import numpy as np

LENGTHS = range(2, 9)


def _iou(a, b) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _rates(predictor, numbers) -> dict:
    """Exact reads, right segmentations (one box per digit, each over 0.8 IoU with the truth), and
    the exact reads the classifier allows: every digit right when each is read from its true box."""
    from .model import to_mnist
    from .model.numbers import read_number

    exact, segmented, oracle = [], [], []
    for c in numbers:
        reading = read_number(c.image, predictor)
        exact.append(reading.text == c.text)
        boxes = [d.box for d in reading.digits]
        segmented.append(len(boxes) == len(c.boxes) and all(_iou(p, q) > 0.8 for p, q in zip(boxes, c.boxes)))
        x28 = np.stack([to_mnist(c.image[y0:y1, x0:x1]) for x0, y0, x1, y1 in c.boxes])
        oracle.append("".join(str(predictor.classes[i]) for i in predictor.predict_batch(x28).argmax(axis=1)) == c.text)
    return {"exact": float(np.mean(exact)), "segmented": float(np.mean(segmented)), "exact_from_true_boxes": float(np.mean(oracle))}


def bench_numbers(per_length: int = 200, seed: int = 0, runs: int = 200) -> dict:
    """Numbers of 2–8 MNIST test digits (``per_length`` of each length) read by the bundled model,
    written with gaps and with touching neighbours; the time to read an 8-digit canvas (one thread)."""
    import torch

    from .model import Predictor, to_mnist
    from .model.drawings import composed_numbers
    from .model.numbers import read_number

    predictor = Predictor.default()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the window reads: on the GUI thread, one thread
    try:
        count = per_length * len(LENGTHS)
        gaps = composed_numbers(count, seed, LENGTHS)
        touching = composed_numbers(count, seed + 1, LENGTHS, touching=True)
        by_length = {n: _rates(predictor, [c for c in gaps if len(c.text) == n]) for n in LENGTHS}
        out = {
            "numbers_per_length": per_length,
            "gaps": {**_rates(predictor, gaps), "by_length": by_length},
            "touching": _rates(predictor, touching),
            "touching_pairs": float(np.mean([t for c in touching for t in c.touching])),
        }
        eights = [c for c in gaps if len(c.text) == 8]
        for c in eights[:5]:
            read_number(c.image, predictor)
        ones = [c for c in composed_numbers(20, seed + 2, [1])]
        times, single = [], []
        for i in range(runs):  # interleaved with one digit read as the window reads it, to compare in the same run
            c = eights[i % len(eights)]
            t = time.perf_counter()
            read_number(c.image, predictor)
            times.append((time.perf_counter() - t) * 1000)
            one = ones[i % len(ones)].image
            t = time.perf_counter()
            predictor.predict(to_mnist(one))
            single.append((time.perf_counter() - t) * 1000)
        a = np.asarray(times)
        out["read_8_digits"] = {
            "median_ms": float(np.median(a)),
            "p99_ms": float(np.percentile(a, 99)),
            "one_digit_predict_median_ms": float(np.median(single)),
            "n": runs,
            "canvas": f"{eights[0].image.shape[1]}×{eights[0].image.shape[0]} (the first; widths vary)",
        }
        return out
    finally:
        torch.set_num_threads(threads)


def bench_nearest(queries: int = 300) -> dict:
    """``nearest_training`` on the bundled model: building the training features (a fresh cache,
    all threads, as a worker thread builds them) and queries of MNIST test digits (one thread)."""
    import torch

    from .model import Predictor, mnist_arrays, neighbours

    predictor = Predictor.default()
    neighbours.clear_cache()
    t = time.perf_counter()
    built = neighbours.training_features(predictor)
    build_s = time.perf_counter() - t
    test, _ = mnist_arrays("test")
    # Drawings far from every training digit are the slow case (the bound prunes nothing).
    from .model import evalsets, to_mnist

    scribbles = [to_mnist(x) for x in evalsets.measured_nondigits("scribbles", 50, seed=5)]
    scribbles += [to_mnist(x) for x in evalsets.measured_nondigits("strokes", 50, seed=5)]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        times, far = [], []
        for i in range(queries):
            x28 = test[i].astype(np.float32) / 255
            t = time.perf_counter()
            neighbours.nearest_training(predictor, x28, k=8)
            times.append((time.perf_counter() - t) * 1000)
        for x28 in scribbles:
            t = time.perf_counter()
            neighbours.nearest_training(predictor, x28, k=8)
            far.append((time.perf_counter() - t) * 1000)
    finally:
        torch.set_num_threads(threads)
    a, f = np.asarray(times[10:]), np.asarray(far)
    return {
        "far_median_ms": float(np.median(f)),
        "far_p99_ms": float(np.percentile(f, 99)),
        "far_max_ms": float(f.max()),
        "far_queries": len(f),
        "build_seconds": build_s,
        "build_threads": threads,
        "space": built.space,
        "features_mb": built.nbytes / 2**20,
        "query_median_ms": float(np.median(a)),
        "query_p99_ms": float(np.percentile(a, 99)),
        "query_max_ms": float(a.max()),
        "queries": len(a),
    }


SECTIONS = (("numbers", bench_numbers), ("nearest", bench_nearest))


def format_numbers(n: dict) -> list[str]:
    g, t = n["gaps"], n["touching"]

    def rates(x: dict) -> str:
        return (
            f"exact {100 * x['exact']:.1f} % (segmented right {100 * x['segmented']:.1f} %; "
            f"exact when each digit is read from its true box {100 * x['exact_from_true_boxes']:.1f} %)"
        )

    s = n["read_8_digits"]
    return [
        f"read_number, {n['numbers_per_length']} numbers of each length 2–8 from MNIST test digits (bundled model):",
        f"  written with gaps: {rates(g)}",
        "    by length: " + ", ".join(f"{k}: {100 * v['exact']:.0f} %" for k, v in g["by_length"].items()),
        f"  some neighbours touching ({100 * n['touching_pairs']:.0f} % of pairs): {rates(t)}",
        f"  an 8-digit canvas read in {s['median_ms']:.1f} ms median, p99 {s['p99_ms']:.1f} ms (one thread; {s['canvas']}); "
        f"one digit, to_mnist + predict, {s['one_digit_predict_median_ms']:.2f} ms in the same run",
    ]


def format_nearest(m: dict) -> list[str]:
    return [
        f"nearest_training (bundled CNN, {m['space']}): features of 60,000 training digits built in {m['build_seconds']:.1f} s "
        f"({m['build_threads']} threads, {m['features_mb']:.0f} MB); a query of k=8 {m['query_median_ms']:.2f} ms median, "
        f"p99 {m['query_p99_ms']:.2f} ms, max {m['query_max_ms']:.2f} ms (one thread, {m['queries']} queries of MNIST test digits)"
    ] + (
        [
            f"  far from every training digit ({m['far_queries']} scribbles and strokes): {m['far_median_ms']:.2f} ms median, "
            f"p99 {m['far_p99_ms']:.2f} ms, max {m['far_max_ms']:.2f} ms (the window queries in a worker thread)"
        ]
        if "far_median_ms" in m
        else []
    )


# Each section's formatter, in the order the report prints them (``bench.REPORT``).
REPORT = (("numbers", format_numbers), ("nearest", format_nearest))
