"""The GUI benchmark runs end to end (its figures are reported by ``bench``, never asserted)."""

import math

from mnist_desktop.ui.bench import measure_gui


def test_measure_gui_reports_every_figure(qapp):
    r = measure_gui(seconds=1.0)
    for key in ("event_loop_stall_max_ms", "event_loop_stall_p99_ms", "stroke_latency_p99_ms", "plot_updates_per_s", "train_samples_per_s"):
        assert isinstance(r[key], float) and math.isfinite(r[key]), key
    assert r["probe_ticks"] > 20 and r["strokes"] > 3
    assert r["train_samples_per_s"] > 0
