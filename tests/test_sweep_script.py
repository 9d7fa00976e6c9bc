"""The bundled model's sweep (scripts/sweep_bundled_model.py): each candidate on several seeds,
and the table that sums them up. Training and validation themselves are the engine's, tested
elsewhere; what is checked here is that a seeded run trains what its name says."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from mnist_desktop.cli import build_parser

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "sweep_bundled_model.py"


@pytest.fixture(scope="module")
def sweep():
    spec = importlib.util.spec_from_file_location("sweep_bundled_model", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _train_args(sweep, candidate: str, more: str, scale: float = 1.0):
    return build_parser().parse_args(["train", *sweep._args(candidate, scale, more), "--out", "x.safetensors"])


def test_without_seeds_each_candidate_runs_once_as_itself(sweep):
    assert sweep.runs(["robust05-pairs", "european"], None) == {"robust05-pairs": ("robust05-pairs", ""), "european": ("european", "")}


def test_with_seeds_each_candidate_runs_once_per_seed_and_trains_on_that_seed(sweep):
    plan = sweep.runs(["robust05-pairs", "european-s1"], [0, 3])
    assert list(plan) == ["robust05-pairs-seed0", "robust05-pairs-seed3", "european-s1-seed0", "european-s1-seed3"]
    # the seed of the run's name wins over the common options' and the candidate's own (european-s1 has --seed 1)
    for name, (candidate, more) in plan.items():
        args = _train_args(sweep, candidate, more)
        assert args.seed == int(name[-1])
    european = _train_args(sweep, *plan["european-s1-seed3"])
    assert european.european_digits == pytest.approx(0.3) and european.epochs == 30
    assert _train_args(sweep, "robust05-pairs", "--seed 2", scale=0.1).epochs == 3


def test_the_summary_rows_are_each_columns_mean_lowest_and_highest(sweep):
    keys = [key for _, key, _, _ in sweep.COLUMNS]
    a = dict.fromkeys(keys, 0.99)
    b = dict.fromkeys(keys, 0.97)
    cells = lambda row: [float(c) for c in row.split()]  # noqa: E731
    assert cells(sweep._cells([a, b])) == pytest.approx([98.0] * len(keys))
    assert cells(sweep._cells([a, b], min)) == pytest.approx([97.0] * len(keys))
    assert cells(sweep._cells([a])) == pytest.approx([99.0] * len(keys))
