"""The default recipe on a CUDA GPU: training time once the data is on the device, and test accuracy.

    python scripts/gpu_check.py            # seeds 0, 1, 2 of each variant; prints JSON lines, then a summary

Times ``_sgd`` (the training loop, epoch-end evaluation included) between two
``torch.cuda.synchronize`` calls, through the engine's own ``train()``; the data is loaded
and moved to the device before that clock starts. Downloads nothing.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import replace

sys.path.insert(0, os.getcwd())

import torch  # noqa: E402

import mnist_desktop.model.training as training  # noqa: E402
from mnist_desktop.model import TrainConfig, train  # noqa: E402

VARIANTS = {
    "default": {},
    "batch128-2epochs (the old default)": dict(batch_size=128, lr=0.2, epochs=2),
    "batch256-lr0.3": dict(batch_size=256, lr=0.3),
    "batch512-lr0.4-2epochs": dict(batch_size=512, lr=0.4, epochs=2),
}


def main() -> int:
    if not torch.cuda.is_available():
        print("no CUDA device", file=sys.stderr)
        return 2
    loop_seconds: list[float] = []
    real = training._sgd

    def timed(*args, **kwargs):
        torch.cuda.synchronize()
        t = time.perf_counter()
        out = real(*args, **kwargs)
        torch.cuda.synchronize()
        loop_seconds.append(time.perf_counter() - t)
        return out

    training._sgd = timed
    train(TrainConfig(device="cuda", subset=4096, epochs=1))  # warm-up: CUDA context, cuDNN, allocator
    rows = []
    for name, change in VARIANTS.items():
        for seed in (0, 1, 2):
            config = replace(TrainConfig(device="cuda", seed=seed), **change)
            t = time.perf_counter()
            result = train(config)
            row = {
                "variant": name,
                "seed": seed,
                "train_s": round(loop_seconds[-1], 3),
                "whole_train_call_s": round(time.perf_counter() - t, 3),
                "test_accuracy": result.metrics["valid_accuracy"],
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(json.dumps({"device": torch.cuda.get_device_name(), "torch": torch.__version__, "rows": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
