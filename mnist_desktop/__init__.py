"""mnist-desktop: draw a digit, train a classifier, look inside the tensors."""

__version__ = "0.1.0"
