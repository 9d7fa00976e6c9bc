"""``bench``'s text report: every section formats itself from its figures, in a fixed order,
and a section that failed or was skipped says so in one line."""

import pytest

from mnist_desktop.bench import format_report
from mnist_desktop.bench_recognition import DIGIT_SETS, NONDIGIT_SETS

HEAD = {"device": "cpu", "cpu": "Test CPU", "cpu_threads": 2, "torch": "2.0", "python": "3.11.7"}


def _stalls(max_ms: float, p99_ms: float, over: int) -> dict:
    return {"max_ms": max_ms, "p99_ms": p99_ms, "over_50ms": over}


def _model(accuracy: float, kilobytes: float) -> dict:
    digits, others = [k for k, _ in DIGIT_SETS], [k for k, _ in NONDIGIT_SETS]
    return {
        "accuracy": dict.fromkeys(digits, accuracy),
        "called_digit": {**dict.fromkeys(digits, 0.99), **dict.fromkeys(others, 0.25)},
        "called_digit_top_probability": {**dict.fromkeys(digits, 0.995), **dict.fromkeys(others, 0.375)},
        "digit_rule": "energy (log-sum-exp of the logits) ≥ 2.896",
        "is_digit_cost": {"is_digit_ms": 0.91, "predict_ms": 0.88, "test_ms": 0.012},
        "corruptions": {"shot_noise": 0.99, "fog": 0.22},
        "ece": {"temperature": 0.6, "own": 0.0026, "t1": 0.0176, "optdigits_t1": 0.1445, "optdigits_own": 0.0306},
        "digit_threshold": 0.5378,
        "latency": {"median_ms": 1.15, "p99_ms": 42.26},
        "kilobytes": kilobytes,
    }


def full_report() -> dict:
    """A report with every section, as ``run_bench`` returns it (figures made up)."""
    window = {"startup": 0.575, "startup_cpu": 0.3, "open_dock": 0.2, "open_dock_cpu": 0.1, "add_one": 0.1, "add_one_cpu": 0.05}
    return {
        **HEAD,
        "startup": {
            "runs": 5,
            "seconds": {
                "import_torch": 2.0,
                "help": 0.1,
                "shown": 0.9,
                "stroke": 1.0,
                "predict": 2.5,
                "torch_ready": 3.0,
                "drawing_s": 2.0,
                "max_stall_drawing_ms": 40.0,
                "max_stall_ms": 120.0,
            },
            "ratio": {"help": 0.05, "shown": 0.45, "stroke": 0.5, "predict": 1.25, "torch_ready": 1.5},
            "max_stall_drawing_ms_worst": 60.0,
            "max_stall_ms_worst": 150.0,
            "jump": 1.5e-7,
        },
        "data": {"train_seconds": 0.81, "test_seconds": 0.14},
        "latency": {"median_ms": 0.61, "p99_ms": 1.2, "max_ms": 3.4, "n": 1000},
        "throughput": {"cnn": {"samples_per_s": 12345.6, "batch_size": 256}, "pixel-similarity": {"fit_seconds": 0.42}},
        "recipe": {"wall_seconds": 14.2, "test_accuracy": 0.9912, "epochs": ["epoch 1: 98.1 %", "epoch 2: 99.1 %"]},
        "reference": {"seconds_per_step": 0.05, "seconds_per_epoch": 47.0, "seconds_to_99": 235.0, "epochs_to_99": 5},
        "stop": {"chunk": 1000, "stop_to_return_s": 0.12},
        "plot": {"redraw_ms_after_1000": 1.5, "redraw_ms_after_1000000": 2.5, "reports": 1_000_000, "plotted_points": 2000},
        "gui": {
            "headless_before": {"seconds": 3.5},
            "headless_after": {"seconds": 3.4},
            "window": {
                "click_to_done_s": 4.1,
                "test_accuracy": 0.9905,
                "gui_thread_cpu_share": 0.123,
                "click_to_first_batch_s": 0.25,
                "train_samples_per_s": 15000.0,
                "shown_speed_samples_per_s": 14800.0,
                "time_left_error_s": {"min": -0.5, "max": 0.7, "median": 0.1},
            },
            "probed": {
                "probe_interval_ms": 10,
                "click_to_done_s": 4.7,
                "gui_thread_cpu_share": 0.2,
                **{f"stall_{p}": _stalls(30, 12, 0) for p in ("all", "start", "training", "epoch_ends", "finish")},
                "stroke_latency_p50_ms": 8,
                "stroke_latency_p99_ms": 20,
                "strokes": 60,
                "plot_updates_per_s": 11,
            },
            "headless_seconds": 3.45,
            "window_over_headless": 1.19,
        },
        "mydigits": {
            "evaluate_mnist_test_seconds": 1.23,
            "personal_digits": 200,
            "fine_tune_seconds": 20.5,
            "held_out": 5000,
            "style_accuracy_before": 0.62,
            "style_accuracy_after": 0.95,
            "mnist_accuracy_before": 0.9945,
            "mnist_accuracy_after": 0.9921,
        },
        "mydigits-scale": {
            "digits": 10_000,
            "export_mb": 16.5,
            "index_kb": 859,
            "import_seconds": 2.5,
            "imported": 10_000,
            "import_again_seconds": 0.2,
            "import_again_added": 0,
            "export_seconds": 1.3,
            "open_full_seconds": 0.068,
            "open_empty_seconds": 0.002,
            "open_no_cache_seconds": 1.5,
            "window": {"full": {**window, "delete_300": 0.117, "undo_300": 0.187}, "empty": dict(window, startup=0.427)},
            "fine_tune": {"peak_mb": 868.0, "before_mb": 593.0, "personal_per_epoch": 10_000, "seconds": 40.0},
        },
        "preprocess": {"digits": 600, "seed": 0, "mnist_itself": 0.99, "accuracy": {"raw": 0.5, "to_mnist": 0.98}},
        "saliency": {
            "median_ms": 2.1,
            "p99_ms": 5.5,
            "n": 300,
            "window": {
                "on": {
                    "seconds": 5.0,
                    "max_stall_ms": 45.0,
                    "p99_stall_ms": 20.0,
                    "stalls_over_50ms": 0,
                    "saliency_after_prediction_median_ms": 3.3,
                    "saliency_updates": 70,
                    "lab_updates": 65,
                },
                "off": {"error": "no display"},
                "number": {
                    "seconds": 5.0,
                    "max_stall_ms": 30.0,
                    "p99_stall_ms": 12.0,
                    "stalls_over_50ms": 0,
                    "number_readings": 41,
                    "number_lifts": 12,
                    "number_read_after_lift": 11,
                    "number_after_lift_median_ms": 38.4,
                    "number_after_lift_p90_ms": 61.0,
                },
            },
        },
        "lab": {
            "probe_interval_ms": 10,
            "press_every_ms": 150,
            "process_seconds": 42.0,
            "step_config": {"arch": "linear", "task": "3v7", "loss": "mnist_loss", "lr": 1.0, "batch_size": 256},
            "step_phases": {"presses": 30, "seconds": 5.2, **_stalls(40, 20, 0)},
            "step_batches": {"presses": 5, "seconds": 1.1, **_stalls(35, 18, 0)},
            "step_epoch": {
                "first_reached": {"batch": 48, "batches_per_epoch": 48, "epoch": 1},
                "presses": 3,
                "epochs": 2,
                "redraws": 9,
                "walls_s": [0.25, 0.2, 0.05],
                **_stalls(60, 30, 1),
            },
            "nudge_linear": {
                "model": "linear 3v7",
                "gradient": {
                    "parameter": None,
                    "epsilons": 21,
                    "samples": 2038,
                    "seconds": 2.5,
                    "progress_moved": True,
                    **_stalls(30, 15, 0),
                },
                "weight": {
                    "parameter": "fc.weight",
                    "epsilons": 21,
                    "samples": 2038,
                    "seconds": 2.4,
                    "progress_moved": False,
                    **_stalls(31, 16, 0),
                },
            },
            "stall_all": _stalls(60, 25, 1),
        },
        "evaluation": {
            "probe_interval_ms": 10,
            "tab": "Robustness",
            "confusion_shown_s": 6.9,
            "seconds": 38.3,
            "max_ms": 110.1,
            "p99_ms": 5.1,
            "over_50ms": 2,
            "late": [
                {"at_s": 13.93, "late_ms": 110, "ran_ms": 39, "waited_for_cpu_ms": 77},
                {"at_s": 20.24, "late_ms": 58, "ran_ms": 28, "waited_for_cpu_ms": 26},
            ],
            "load_average": 5.14,
        },
        "recognition": {
            "sizes": dict.fromkeys([k for k, _ in NONDIGIT_SETS], 500),
            "old": _model(0.9937, 76.4),
            "new": _model(0.9945, 253.4),
        },
        "numbers": {
            "numbers_per_length": 60,
            "gaps": {
                "exact": 0.9333,
                "segmented": 0.9667,
                "exact_from_true_boxes": 0.9524,
                "by_length": {"2": {"exact": 1.0}, "8": {"exact": 0.8667}},
            },
            "touching": {"exact": 0.1548, "segmented": 0.119, "exact_from_true_boxes": 0.9262},
            "touching_pairs": 0.5649,
            "read_8_digits": {"median_ms": 30.44, "p99_ms": 68.65, "one_digit_predict_median_ms": 0.84, "canvas": "1436×280"},
        },
        "nearest": {
            "build_seconds": 28.6,
            "build_threads": 2,
            "space": "the 512 inputs of 'fc'",
            "features_mb": 132.1,
            "query_median_ms": 16.14,
            "query_p99_ms": 35.81,
            "query_max_ms": 83.99,
            "queries": 290,
            "far_median_ms": 40.5,
            "far_p99_ms": 90.25,
            "far_max_ms": 120.0,
            "far_queries": 100,
        },
    }


# One line (or the start of one) of each section, in the order the report gives them.
KEY_LINES = [
    "device cpu (Test CPU, 2 threads), torch 2.0, Python 3.11.7",
    "recognition (old | new; 'new' is the bundled model):",
    "  accuracy, mnist                                   99.37 % |  99.45 %",
    "  called not a digit: top probability (the previous rule) → is_digit (energy)",
    "  called not a digit, letters (500)                62.5 → 75.0 % | 62.5 → 75.0 %",
    "  is_digit / predict (ms), the test alone (µs)     0.91 / 0.88 / 12 µs | 0.91 / 0.88 / 12 µs",
    "  file size                                           76 KB |   253 KB",
    "start-up (median of 5, fresh processes), against python -c 'import torch' 2.00 s:",
    "  window shown: 0.90 s = 0.45× import torch",
    "  event loop from the window shown to torch ready, the user's pause included: longest stall 120 ms (median), worst 150 ms; "
    "bars moved by 1.5e-07 when torch took over",
    "load_mnist (read, gunzip, SHA-256): train 0.81 s, test 0.14 s",
    "drawing → probabilities: median 0.61 ms, p99 1.20 ms, max 3.40 ms (1000 runs)",
    "training cnn: 12,346 samples/s (batch 256)",
    "training pixel-similarity: means computed in 0.42 s",
    "default recipe: 14.2 s wall for the whole command, test accuracy 99.12 %",
    "  epoch 2: 99.1 %",
    "pytorch/examples MNIST recipe: 50 ms a step, 47 s an epoch, ~235 s for the 5 epochs it needs to reach 99 %; "
    "the default recipe's whole command is 16.5× faster",
    "Stop during full-batch CNN training (chunks of 1000): 0.12 s from Stop to the end of train()",
    "loss plot redraw: 1.5 ms after 1,000 reports, 2.5 ms after 1,000,000 (2000 points plotted)",
    "My digits at scale (10,000 digits, 16.5 MB export; index 859 KB):",
    "  import of the export: 2.50 s (10,000 added); again: 0.20 s (0 added); export: 1.30 s",
    "  window start-up (built and shown, the dock read): 0.575 s vs 0.427 s empty (+0.148 s); "
    "the GUI thread's CPU time 0.300 s vs 0.300 s (+0.000 s)",
    "  delete 300 of them: 0.117 s; undo: 0.187 s (median of runs)",
    "  fine-tune on all of them (1 epoch): peak memory 868 MB (593 MB before), 10,000 personal images per epoch, 40 s",
    "evaluate the bundled CNN on MNIST test (10,000 images): 1.23 s",
    "fine-tune on 200 digits of a thick, shifted style: 20.5 s; 5,000 other drawings of that style 62.0 % → 95.0 %, "
    "MNIST test 99.45 % → 99.21 %",
    "the bundled model on 600 MNIST test digits redrawn small and off-centre (seed 0; the same digits as MNIST has them: 99.0 %):",
    "  to_mnist      98.0 %",
    "saliency (gradient × input): median 2.10 ms, p99 5.50 ms (300 runs)",
    "  drawing 5 s with saliency on and the preprocessing lab on screen: longest event-loop stall 45 ms (p99 20 ms, 0 over 50 ms); "
    "the overlay followed each prediction after 3.3 ms (median of 70); 65 lab updates",
    "  drawing with saliency and the lab off (to compare): failed: no display",
    "  drawing 5 s in Number mode (the wide canvas read as you write, the pen up 150 ms between strokes): longest event-loop stall 30 ms "
    "(p99 12 ms, 0 over 50 ms); 41 readings of the number, on screen 38 ms after the pen lifts (median; p90 61 ms; 11 of 12 lifts)",
    "chapter-4 lab in the window (10 ms probe, a press at most every 150 ms; 42 s in all): Step mode, linear 3v7, mnist_loss, lr 1, batch 256:",
    "  30 × Next phase (the first loads the data), 5.2 s: longest event-loop stall 40 ms (p99 20 ms, 0 over 50 ms)",
    "  To end of epoch × 3 until the run stopped (2 epochs, 9 redraws): the first press (to batch 48/48 of epoch 1) 250 ms, "
    "each press 250, 200, 50 ms; longest event-loop stall 60 ms (p99 30 ms, 1 over 50 ms)",
    "  Accuracy vs loss, linear 3v7, one weight of fc.weight, 21 ε on 2,038 validation digits: 2.4 s (progress NOT shown); "
    "longest event-loop stall 31 ms (p99 16 ms, 0 over 50 ms)",
    "  over the whole run: longest event-loop stall 60 ms (p99 25 ms, 1 over 50 ms)",
    "Evaluation dock in the window (10 ms probe, load average 5.14): the bundled CNN evaluated in 38.3 s (confusion matrix "
    "after 6.9 s, then the Robustness tab open): longest event-loop stall 110 ms (p99 5 ms, 2 over 50 ms)",
    "  in the ticks over 50 ms late the GUI thread ran up to 39 ms and waited for a core up to 77 ms",
    "default recipe from the window, click to the new model in use: 4.1 s (test accuracy 99.05 %); headless train(TrainConfig()): "
    "3.5 s before, 3.4 s after; window / headless = 1.19",
    "  predicted end of training minus the real one, after the first 10 %: -0.5 … 0.7 s (median 0.1 s)",
    "  event-loop stalls (epoch_ends): max 30 ms, p99 12 ms, 0 over 50 ms",
    "read_number, 60 numbers of each length 2–8 from MNIST test digits (bundled model):",
    "    by length: 2: 100 %, 8: 87 %",
    "nearest_training (bundled CNN, the 512 inputs of 'fc'): features of 60,000 training digits built in 28.6 s (2 threads, 132 MB); "
    "a query of k=8 16.14 ms median, p99 35.81 ms, max 83.99 ms (one thread, 290 queries of MNIST test digits)",
    "  far from every training digit (100 scribbles and strokes): 40.50 ms median, p99 90.25 ms, max 120.00 ms "
    "(the window queries in a worker thread)",
]


def test_a_full_report_has_each_sections_lines_in_order():
    lines = format_report(full_report()).splitlines()
    at = [lines.index(line) for line in KEY_LINES]  # ValueError names a line that is missing or changed
    assert at == sorted(at)
    assert len(lines) == 101


def test_a_report_holds_only_the_sections_that_ran():
    assert format_report(HEAD) == KEY_LINES[0]
    only = format_report({**HEAD, "data": full_report()["data"]}).splitlines()
    assert only == [KEY_LINES[0], "load_mnist (read, gunzip, SHA-256): train 0.81 s, test 0.14 s"]


@pytest.mark.parametrize(
    ("section", "figures", "line"),
    [
        ("startup", {"error": "boom"}, "start-up failed: boom"),
        ("recipe", {"error": "boom"}, "default recipe failed: boom"),
        ("plot", {"skipped": "no Qt"}, "plot: no Qt"),
        ("lab", {"skipped": "no Qt"}, "lab: no Qt"),
        ("lab", {"error": "boom"}, "lab: failed: boom"),
        ("evaluation", {"skipped": "no Qt"}, "evaluation: no Qt"),
        ("evaluation", {"error": "boom"}, "evaluation: failed: boom"),
        ("gui", {"skipped": "no Qt"}, "GUI: no Qt"),
        ("gui", {"window": {"error": "boom"}}, "GUI: failed: {'window': {'error': 'boom'}}"),
    ],
)
def test_a_section_that_failed_or_was_skipped_says_so_in_one_line(section, figures, line):
    assert format_report({**HEAD, section: figures}).splitlines() == [KEY_LINES[0], line]


def test_the_reference_is_compared_with_the_recipe_only_when_the_recipe_ran():
    text = format_report({**HEAD, "reference": full_report()["reference"]})
    assert text.endswith("~235 s for the 5 epochs it needs to reach 99 %")


def test_a_model_with_a_digit_head_shows_the_two_rules_it_replaced_beside_it():
    from mnist_desktop.bench_recognition import format_recognition

    others = [k for k, _ in NONDIGIT_SETS]
    headed = _model(0.9932, 276.0) | {"digit_rule": "digit head: 1 × energy + weights · features + bias ≥ 2.259"}
    headed["called_digit"] = dict(headed["called_digit"], letters=0.125)
    headed["called_digit_energy"] = {**dict.fromkeys([k for k, _ in DIGIT_SETS], 0.98), **dict.fromkeys(others, 0.25)}
    lines = format_recognition({"sizes": dict.fromkeys(others, 500), "old": _model(0.9937, 76.4), "new": headed})
    assert "  called not a digit: top probability → energy (the previous rules) → is_digit (digit head)" in lines
    assert any(
        line.startswith("  called not a digit, letters (500)") and line.endswith("62.5 → 75.0 % | 62.5 → 75.0 → 87.5 %") for line in lines
    )
    assert any(line.startswith("  called not a digit, mnist") and line.endswith("0.50 → 2.00 → 1.00 %") for line in lines)
