"""Chapter 4 of fastai's book as a path through the app: its stages, in order, as data.

Each :class:`Stage` says, in plain words for a learner, what the stage is about, what to try
and what to look for, and which training settings it sets up (a :class:`TrainConfig`, or
None where it trains nothing). The window's "Chapter 4" menu (``ui/chapter.py``) reads this
table and sets the window up; nothing here needs Qt or torch.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .config import TrainConfig, recommended_config

# MNIST's training digit 7 is a 3 (the labels start 5 0 4 1 9 2 1 3): the first 3 of the set.
FIRST_THREE = 7


@dataclass(frozen=True)
class Stage:
    key: str
    title: str
    explanation: str
    try_this: str
    look_for: str
    config: TrainConfig | None = None  # the training settings the stage sets, None: it trains nothing


def _accuracy_config() -> TrainConfig:
    # The chapter's linear model for 3 vs 7, with accuracy as the loss: two outputs (accuracy
    # is not a two-class-only loss), plain SGD, one epoch: enough to see that nothing moves.
    return replace(recommended_config("3v7", "linear"), loss="accuracy", epochs=1)


STAGES: tuple[Stage, ...] = (
    Stage(
        "pixels",
        "Pixels as numbers",
        "To a computer an image is a grid of numbers. An MNIST digit is 28 × 28 = 784 of them, one per pixel: "
        "0 is the empty background, 255 (or 1.0) is full ink. Everything a model does, it does with these numbers.",
        "In the Tensor inspector, hover over the 3 to read each pixel's value, and zoom in until the numbers "
        "are printed in the grid. Switch the values between 0–255, 0–1 and 'normalised' (what the model is fed), "
        "and browse a few other digits with the index box.",
        "The ink sits in the middle, the border is all zeros, and the edges of a stroke are in-between greys. "
        "A 3 and a 7 are different patterns of large numbers in the same grid.",
    ),
    Stage(
        "ideal",
        "The ideal 3 and 7 (pixel similarity)",
        "The chapter's first idea needs no learning at all: average every 3 in the training set into one "
        "'ideal 3', and every 7 into an 'ideal 7'. A new digit is called whichever ideal it is closer to, "
        "pixel by pixel.",
        "Press Train in the Training panel: it only computes the two mean images, in a second. "
        "Then draw a 3 and a 7 on the canvas, and a sloppy one in between.",
        "The two blurry mean images in the Training panel, and the accuracy: already about 95 % on 3 vs 7 "
        "with no learning. But nothing here can improve with more data or more training.",
        recommended_config("3v7", "pixel-similarity"),
    ),
    Stage(
        "linear",
        "A linear model, step by step (mnist_loss and SGD)",
        "Now a model that learns: one weight per pixel, multiplied with the pixels and added up (plus a bias). "
        "mnist_loss measures how far sigmoid(output) is from the right answer, and stochastic gradient "
        "descent (SGD) moves every weight a little downhill on that loss, one batch at a time.",
        "The Training panel is in Step mode. Press 'Next phase' to go through one SGD step: initialise, predict, "
        "compute the loss, the gradient, step. Look at the batch, the predictions and the gradient at each phase. "
        "Then press 'Whole batch' a few times, and 'To end of epoch'.",
        "The loss falls step by step. The weights, shown as a 28 × 28 image, turn into a template: "
        "positive where a 7 has ink, negative where a 3 has it.",
        recommended_config("3v7", "linear"),
    ),
    Stage(
        "accuracy",
        "Accuracy as a loss (and why it fails)",
        "Why not simply train to maximise accuracy? Because accuracy only changes when a prediction flips. "
        "Nudge a weight a tiny bit and no prediction flips: the accuracy stays exactly the same, so its "
        "gradient is zero and SGD has nothing to follow. The loss changes a little with every nudge.",
        "In the 'Accuracy vs loss' panel, press Nudge: it moves one weight (click a pixel of the weight image "
        "to choose which) or all weights along the gradient, over a range of ε. Make the range tiny, then large. "
        "Then press 'Train with accuracy as the loss'.",
        "The loss is a smooth curve; the accuracy is a staircase, flat between jumps. Training with accuracy "
        "ends with a note that every gradient was zero: the weights never moved.",
        _accuracy_config(),
    ),
    Stage(
        "neural-net",
        "A neural net (784-30-1)",
        "The chapter's simple_net: a linear layer to 30 numbers, a ReLU (negative numbers become zero), and a "
        "second linear layer to one output. The ReLU between the two is what makes it more than one big "
        "linear model: it can learn shapes a single template cannot.",
        "Press Train (five epochs of plain SGD on 3 vs 7). Open the Activations panel and draw a digit to see "
        "which of the 30 hidden units light up.",
        "About 98 % on 3 vs 7, like the linear model: this task is easy. In the Activations panel, the first "
        "layer's 30 weight images: each hidden unit looks for its own pattern of strokes. The gain of a net "
        "shows on harder tasks, like all ten digits.",
        recommended_config("3v7", "mlp"),
    ),
    Stage(
        "ten-digits",
        "All ten digits: cross-entropy and a CNN",
        "Two classes become ten. The model now gives ten numbers, softmax turns them into probabilities that "
        "add up to 1, and cross-entropy is the loss: minus the log of the right digit's probability. A "
        "convolutional net (CNN) slides small learned filters over the image instead of one weight per pixel.",
        "Press Train (one epoch, a minute or so on a laptop). Then draw every digit on the canvas, and look at "
        "the Evaluation panel's confusion matrix and most confident mistakes.",
        "About 99 % accuracy on 10,000 test digits. The ten probability bars on the right, and which digits "
        "the model still confuses (4 and 9, 3 and 5, 7 and 1).",
        recommended_config("digits", "cnn"),
    ),
)


def get_stage(key: str) -> Stage:
    for stage in STAGES:
        if stage.key == key:
            return stage
    raise ValueError(f"unknown stage {key!r}; choose one of: {', '.join(s.key for s in STAGES)}")
