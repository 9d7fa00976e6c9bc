"""The default recipe headless, as ``bench``'s GUI section compares the window with it:
``train(TrainConfig())`` in a fresh process, timed from its call to its return.

    python mnist_desktop/probes/headless.py
"""


def main() -> None:
    import json
    import time

    from mnist_desktop.model import TrainConfig, train

    t = time.perf_counter()
    r = train(TrainConfig())
    print(json.dumps({"seconds": time.perf_counter() - t, "test_accuracy": r.metrics["valid_accuracy"]}), flush=True)


if __name__ == "__main__":
    main()
