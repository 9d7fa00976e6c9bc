"""mnist-desktop: draw a digit, train a classifier, look inside the tensors."""

import os

__version__ = "0.1.0"

# numpy's OpenBLAS starts a thread per core at import, and after each matrix product those
# threads spin for a while at the priority of the whole process: a product in a worker (the
# nearest digits' query) kept the second core busy for 30–40 % of the time while the GUI thread
# waited for a core (bench `saliency`, the nearest digits live: 82–142 ms stalls at load 2.4–3.3,
# 13 ms with one thread). The window's own products are small (one drawing), and torch, which does
# the heavy work, has its own threads. Set before numpy is imported; a value given is kept.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
