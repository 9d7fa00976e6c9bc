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


def test_bench_lab_section_steps_nudges_and_formats():
    """The lab section's plumbing at small sizes, in its own fresh process (figures go to the report)."""
    from mnist_desktop.bench import bench_lab, format_report

    r = bench_lab(phases=6, batches=2, nudge_models=("linear",), valid_steps=3)
    assert "error" not in r and "skipped" not in r, r
    assert r["step_config"]["arch"] == "linear" and r["step_config"]["task"] == "3v7"  # the chapter's setting
    assert r["step_phases"]["presses"] == 6 and r["step_batches"]["presses"] == 2
    ep = r["step_epoch"]
    reached = ep["first_reached"]
    assert reached["epoch"] == 1 and reached["batch"] == reached["batches_per_epoch"]  # the first press: to the end of epoch 1
    assert ep["presses"] == ep["epochs"] + 1 == len(ep["walls_s"])  # one press an epoch, and one that stops the run
    for direction, parameter in (("gradient", None), ("weight", "fc.weight")):
        sw = r["nudge_linear"][direction]
        assert sw["parameter"] == parameter and sw["epsilons"] == 3 and sw["progress_moved"], sw
        assert 0 < sw["samples"] < 10_000  # the 3s and 7s of the validation set
    assert r["nudge_linear"]["model"] == "linear 3v7" and "nudge_cnn" not in r
    for part in ("step_phases", "step_batches", "step_epoch", "stall_all"):
        stalls = r[part]
        assert math.isfinite(stalls["max_ms"]) and 0 <= stalls["p99_ms"] <= stalls["max_ms"], part
        assert isinstance(stalls["over_50ms"], int) and (stalls["over_50ms"] > 0) == (stalls["max_ms"] > 50), part
    text = format_report({"device": "cpu", "cpu": "x", "cpu_threads": 2, "torch": "t", "python": "p", "lab": r})
    assert "6 × Next phase" in text and "To end of epoch" in text and "Accuracy vs loss, linear 3v7, along the gradient" in text
    assert "progress NOT shown" not in text


def test_stalls_count_the_probe_ticks_late_by_more_than_50_ms():
    from mnist_desktop.ui.bench import PROBE_MS, _stalls

    tick = PROBE_MS / 1000
    gaps = [(0.0, tick), (0.1, tick + 0.030), (0.2, tick + 0.060), (0.3, tick + 0.120), (5.0, tick + 1.0)]
    s = _stalls(gaps, 0.0, 1.0)  # the last tick ended after the window: not counted
    assert s["max_ms"] == 120.0 and s["over_50ms"] == 2
    assert _stalls(gaps, 2.0, 3.0)["over_50ms"] == 0
