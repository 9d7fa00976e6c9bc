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
class Question:
    """A question to check understanding, and its answer (shown when the learner asks for it)."""

    question: str
    answer: str


@dataclass(frozen=True)
class Stage:
    key: str
    title: str
    explanation: str
    try_this: str
    look_for: str
    config: TrainConfig | None = None  # the training settings the stage sets, None: it trains nothing
    questions: tuple[Question, ...] = ()  # to check understanding, answers revealed on request


Q = Question


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
        questions=(
            Q(
                "How many numbers describe one MNIST digit, and what shape is the tensor that holds them?",
                "784 numbers, one per pixel, in a 28 × 28 tensor (rank 2). A stack of n digits is n × 28 × 28 (rank 3).",
            ),
            Q(
                "Why does the model get 'normalised' values rather than the 0–255 bytes?",
                "Inputs around 0 with a spread of about 1 keep the products with the weights in a range where "
                "training behaves well; the picture is the same, only shifted and scaled.",
            ),
            Q(
                "What would a pixel value of 0 mean in MNIST, and what would 255 mean?",
                "0 is background with no ink at all; 255 (1.0 after dividing by 255) is full ink, the middle of a "
                "stroke. The numbers measure ink, so the large ones trace the stroke: this app draws them light on "
                "dark (MNIST's own description calls 0 the white background and 255 the black foreground).",
            ),
        ),
    ),
    Stage(
        "ideal",
        "The ideal 3 and 7 (pixel similarity)",
        "The chapter's first idea needs no learning at all: average every 3 in the training set into one "
        "'ideal 3', and every 7 into an 'ideal 7'. A new digit is called whichever ideal it is closer to, "
        "pixel by pixel. 'Closer' can be measured two ways: L1, the mean of the absolute differences, or L2, "
        "the square root of the mean of the squared differences. Broadcasting lets one line of code measure "
        "one image or a thousand.",
        "In the Pixel similarity panel, browse a few validation 3s and read both distances to each ideal; then "
        "read how the shapes change when the whole validation set is measured at once, and compare the two "
        "distances' accuracies. Press Train in the Training panel to make pixel similarity the canvas's model, "
        "and draw a 3, a 7 and a sloppy one in between.",
        "With no learning at all, L1 gets about 95 % of the validation 3s and 7s right and L2 about 97 %. But "
        "nothing here can improve with more data or more training.",
        recommended_config("3v7", "pixel-similarity"),
        questions=(
            Q(
                "What is the difference between the L1 and the L2 distance, and which one punishes a few large pixel differences more?",
                "L1 averages the absolute differences; L2 averages the squared differences and takes the square "
                "root. Squaring makes large differences count much more, so L2 punishes a few big mismatches "
                "more than many small ones.",
            ),
            Q(
                "valid_3_tens has shape [1010, 28, 28] and mean3 has shape [28, 28]. What shape has "
                "valid_3_tens − mean3, and is mean3 copied 1010 times?",
                "[1010, 28, 28]. Broadcasting treats mean3 as if it were repeated along the missing first axis, "
                "but no copy is made: the subtraction simply reuses it for every image.",
            ),
            Q(
                "Why does mean((-1, -2)) give one number per image instead of one number in all?",
                "The axes -1 and -2 are the last two, the rows and columns of each image. Averaging only over them "
                "leaves the first axis, one entry per image: shape [1010].",
            ),
            Q(
                "Why is pixel similarity not really machine learning?",
                "Nothing in it is adjusted to do better: there are no weights to change and no loss to lower, so "
                "it cannot improve from its mistakes.",
            ),
        ),
    ),
    Stage(
        "sgd-toy",
        "Stochastic gradient descent on a toy (the roller coaster)",
        "Before MNIST, the chapter shows SGD on something small: the speed of a roller coaster over a hump, "
        "measured for 20 seconds. We guess the speed is a quadratic, a·t² + b·t + c, start a, b and c at "
        "random, and repeat: predict, measure the mean squared error, compute its gradient, and move a, b and "
        "c a little against it, by the learning rate times the gradient.",
        "In the SGD toy panel, with the learning rate 'About right', press Step a few times and watch the curve "
        "bend towards the dots and the loss fall. Then Start over with 'Too small' and with 'Too large', "
        "and step again.",
        "Too small: the curve creeps and the loss falls slowly. About right: the loss drops steeply for a few "
        "steps and then levels off — a settles at once, but the loss is far less steep along b and c, so at "
        "this rate they hardly move (one reason inputs are rescaled in practice). Too large: every step "
        "overshoots, the curve swings wider each time and the loss shoots up; the run stops and says it diverged.",
        questions=(
            Q(
                "What are the seven steps of gradient descent the chapter lists?",
                "Initialise the parameters, predict, compute the loss, compute the gradient, step the parameters "
                "(minus learning rate × gradient), repeat from predict, and stop when the model is good enough or "
                "time is up.",
            ),
            Q(
                "Why does a learning rate that is too large make the loss grow instead of fall?",
                "The step lands on the other side of the minimum, further from it than where it started; the "
                "gradient there is steeper, so the next step overshoots even more, and the loss blows up.",
            ),
            Q(
                "The gradient says which way is downhill. Why not jump straight to the minimum with it?",
                "The gradient only describes the slope where we stand now. It says nothing reliable about how far "
                "the bottom is, so we take small steps and look again.",
            ),
        ),
    ),
    Stage(
        "linear",
        "A linear model, step by step (mnist_loss and SGD)",
        "Now a model that learns: one weight per pixel, multiplied with the pixels and added up (plus a bias). "
        "mnist_loss measures how far sigmoid(output) is from the right answer, and stochastic gradient "
        "descent (SGD) moves every weight a little downhill on that loss, one batch at a time.",
        "The Training panel is in Step mode. Press 'Next phase' to go through one SGD step: initialise, predict, "
        "compute the loss, the gradient, step. Look at the batch, the predictions and the gradient at each phase, "
        "and at 'The batch as tensors': the chapter's code with this batch's shapes. At the loss phase, the "
        "sigmoid plot shows every prediction before and after the sigmoid. "
        "Then press 'Whole batch' a few times, and 'To end of epoch'.",
        "The loss falls step by step. xb is [256, 784]: 256 images, each flattened to a row of 784 pixels; "
        "xb @ w + b makes it [256, 1], one number per image. The sigmoid squeezes those numbers, however large, "
        "between 0 and 1. The weights, shown as a 28 × 28 image, turn into a template: "
        "positive where a 7 has ink, negative where a 3 has it.",
        recommended_config("3v7", "linear"),
        questions=(
            Q(
                "Why is the stack of 28 × 28 images turned into a [n, 784] matrix with view(-1, 28*28)?",
                "A linear layer multiplies each image, as one row of numbers, by a weight column. view keeps the "
                "same 784 numbers per image but lays each image out as a single row; -1 lets PyTorch work out n.",
            ),
            Q(
                "xb is [256, 784] and w is [784, 1]. What shape does xb @ w + b have, and what does each number in it mean?",
                "[256, 1]: one number per image, the weighted sum of its pixels plus the bias. The larger it is, "
                "the more the model leans to the second class (a 7 here).",
            ),
            Q(
                "Why does mnist_loss apply the sigmoid before measuring the distance from the target?",
                "The model's outputs can be any number. The loss compares them with targets 0 and 1, so the "
                "sigmoid first maps them into (0, 1); otherwise a huge output on the right side would count as "
                "a huge error.",
            ),
            Q(
                "Why update the weights after each mini-batch rather than after the whole dataset, or after each single image?",
                "A mini-batch gives a gradient that is accurate enough and cheap to compute (and fast on a GPU); "
                "the whole dataset takes long per step, a single image gives a very noisy gradient.",
            ),
        ),
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
        questions=(
            Q(
                "Why is the gradient of accuracy zero almost everywhere?",
                "Accuracy only changes when a prediction crosses the threshold. A tiny change of a weight almost "
                "never flips a prediction, so the accuracy stays flat and its slope is zero.",
            ),
            Q(
                "What is the difference between a metric and a loss?",
                "A metric is for people: it says how good the model is (accuracy). A loss is for SGD: it must "
                "change smoothly with the weights, so that its gradient points somewhere useful.",
            ),
            Q(
                "If accuracy is what we care about, why can a lower loss still be a better model at equal accuracy?",
                "The loss also counts how sure the model is: a model that is right with more confidence has lower "
                "loss, and its predictions are less likely to flip on new data.",
            ),
        ),
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
        questions=(
            Q(
                "Why would two linear layers without anything between them be no better than one?",
                "A linear function of a linear function is still linear: the two weight matrices multiply into "
                "one. The nonlinearity between them is what adds power.",
            ),
            Q(
                "What does a ReLU do to a number?",
                "It replaces a negative number by zero and leaves a positive one unchanged: max(x, 0).",
            ),
            Q(
                "In the 784-30-1 net, what shapes do the two weight matrices have?",
                "The first is [784, 30] (each of the 30 hidden units has a weight per pixel), the second [30, 1] "
                "(a weight per hidden unit for the one output); PyTorch's nn.Linear stores them transposed.",
            ),
        ),
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
        "the model still confuses (often 4 and 9, 3 and 5, 2 and 7).",
        recommended_config("digits", "cnn"),
        questions=(
            Q(
                "Why does mnist_loss not work for ten classes, and what replaces it?",
                "mnist_loss uses one output and a sigmoid: it can only say 'how much the second class'. Ten "
                "classes need ten outputs; softmax makes them probabilities that add up to 1, and cross-entropy "
                "takes minus the log of the right class's probability.",
            ),
            Q(
                "What do the probabilities after softmax always add up to, and why does that matter?",
                "To 1. Raising one class's probability must lower the others', so the model is pushed to choose.",
            ),
            Q(
                "What does a convolution do that a linear layer on 784 pixels does not?",
                "It applies the same small filter at every position of the image, so a stroke is recognised "
                "wherever it is, with far fewer weights.",
            ),
        ),
    ),
)


def get_stage(key: str) -> Stage:
    for stage in STAGES:
        if stage.key == key:
            return stage
    raise ValueError(f"unknown stage {key!r}; choose one of: {', '.join(s.key for s in STAGES)}")
