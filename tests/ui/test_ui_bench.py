"""The GUI benchmark runs end to end (its figures are reported by ``bench``, never asserted)."""

import math

import mnist_desktop.model as engine
from mnist_desktop.ui.bench import measure_click_to_done


def test_measure_click_to_done_reports_every_figure(qapp):
    config = engine.TrainConfig(arch="linear", batch_size=64, epochs=1, lr=0.05, device="cpu")
    r = measure_click_to_done(config, timeout=120)
    assert r["config"]["arch"] == "linear" and r["test_accuracy"] > 0.85
    assert r["click_to_done_s"] > r["click_to_first_batch_s"] > 0
    assert 0 < r["gui_thread_cpu_share"] < 1.5
    for phase in ("all", "start", "training", "finish"):
        assert math.isfinite(r[f"stall_{phase}"]["max_ms"]), phase
    assert r["train_samples_per_s"] > 0 and r["plot_updates_per_s"] > 0


def test_an_unprobed_run_measures_the_time_without_perturbing_it(qapp):
    config = engine.TrainConfig(arch="linear", batch_size=64, epochs=1, lr=0.05, device="cpu")
    r = measure_click_to_done(config, probe=False, timeout=120)
    assert r["probe_interval_ms"] is None and r["strokes"] == 0
    assert r["click_to_done_s"] > 0 and r["plot_updates_per_s"] > 0
    assert math.isfinite(r["time_left_error_s"]["median"])


def test_bench_startup_section_runs_every_step():
    """The start-up section's plumbing (one run; its figures belong in the report, not here)."""
    from mnist_desktop.bench import bench_startup, format_report

    r = bench_startup(runs=1)
    assert "error" not in r, r
    assert r["stroke_class"] == "1" and r["jump"] < 1e-5
    assert set(r["ratio"]) == {"help", "shown", "stroke", "predict", "torch_ready"}
    text = format_report({"device": "cpu", "cpu": "x", "cpu_threads": 2, "torch": "t", "python": "p", "startup": r})
    assert "window shown" in text and "× import torch" in text
