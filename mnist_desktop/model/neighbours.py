"""The MNIST training digits nearest a drawing, as the model sees them: which examples it learned
from look most like yours (and, when it is wrong, why).

"As the model sees them" is the model's last hidden layer: the features the output layer reads
(for the CNN, the values after the last pooling: 1,024 for the bundled one; for the MLP, its hidden units). A model
without a hidden layer (linear, pixel similarity) reads pixels, so its neighbours are found in
pixel space (the pixels normalised as the model reads them). Distances are Euclidean.

The 60,000 training images' features are computed once per model (:func:`training_features`,
seconds; it can run off the GUI thread and reports progress and stops when asked) and kept for
one model (:data:`MAX_CACHED`), keyed by a hash of the model's weights and settings, so a
retrained or different model never meets another's features. They are the largest thing the
window holds, so they are stored as float16 (:data:`HALF_PRECISION`: 117 MB for the bundled
CNN's 1,024 features instead of 234 MB; a model whose features do not fit float16's range keeps
float32), and the window calls :func:`keep_only` when the active model changes, so the previous
model's features go before the new ones are built. A query is exact over the stored values.

A query is exact and fast: distances in a :data:`PROJECTED`-dimensional principal subspace are
lower bounds of the true ones, so only the training digits whose bound beats the k-th best true
distance are compared in full; when that is most of them (a scribble), one matrix product over
all of them is cheaper. Rows are read by torch (at half precision widened by it, vectorised:
numpy's float16 conversion is several times slower), only the candidates, or in a full scan the
whole table in small chunks that stay in the cache, never all of it widened at once.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

MAX_CACHED = 1  # models whose features are kept (117 MB for the bundled CNN: 60,000 × 1,024 float16)
# Store the features as float16: half the memory (117 MB instead of 234 MB for the bundled CNN),
# exact answers over the stored values, and as fast, now that numpy's products run on one thread
# as torch's do in the query worker (one run, queries in turn, load 3.6–4.9, medians: MNIST digits
# 10.79 ms against 10.39 float32 and 10.62 the code before; scribbles, which scan all 60,000,
# 39.2 against 38.8 and 38.5). Widening float16 runs at 2–3 values a nanosecond in torch (numpy's
# and integer tricks are slower), about what reading twice the bytes of float32 costs. 6 of 400
# queries' eight indices differ from float32's (the rounding moves each value by up to 0.05 %).
HALF_PRECISION = True
PROJECTED = 64  # dimensions of the subspace the lower bounds are computed in
FIRST_CANDIDATES = 1024  # training digits compared in full first: the k-th best of them bounds the rest
# When more than this many others' bounds can still beat it (a drawing far from every training
# digit: a scribble, a stroke), one matrix product over all 60,000 is cheaper than comparing them.
FULL_SCAN = 8192
BATCH = 500  # images a forward pass: 2,000 held 290 MB of the bundled CNN's activations at once (500: 75 MB), no faster
SCAN_ROWS = 256  # rows widened at a time in a full scan: 1 MB of float32 for 1,024 features, in the cache
FLOAT16_MAX = 65504.0  # features larger than this in magnitude are kept as float32


@dataclass(frozen=True, eq=False)
class TrainingFeatures:
    """The training images as one model sees them, ready for :func:`nearest_training`."""

    key: str  # hash of the model's weights, architecture, normalisation and classes, and of the data folder
    space: str  # what the features are, in words
    features: np.ndarray = field(repr=False)  # float16 (60000, D) (float32 without HALF_PRECISION or if they do not fit), read-only
    mean: np.ndarray = field(repr=False)  # float64 (D,): the features' mean
    basis: np.ndarray = field(repr=False)  # float64 (D, PROJECTED): orthonormal principal directions
    projected: np.ndarray = field(repr=False)  # float32 (60000, PROJECTED): (features - mean) @ basis
    projected_norms: np.ndarray = field(repr=False)  # float32 (60000,): squared norms of ``projected``
    norms: np.ndarray = field(repr=False)  # float64 (60000,): squared norms of ``features``
    spread: float  # the mean squared distance of a feature vector from the mean: the scale of rounding errors
    seconds: float  # how long computing them took
    table: object = field(repr=False, default=None)  # torch.Tensor sharing ``features``' memory (rows widened by torch)
    # bool (60000,): the training digits of the model's classes, the only ones a query answers
    # with (a 3-vs-7 model learned from 3s and 7s alone); None for a model of all ten digits
    of_classes: np.ndarray | None = field(repr=False, default=None)

    @property
    def nbytes(self) -> int:
        """What the arrays held for queries take (``table`` shares ``features``' memory)."""
        return sum(a.nbytes for a in (self.features, self.mean, self.basis, self.projected, self.projected_norms, self.norms))

    def rows(self, indices: np.ndarray):
        """The stored features of the training digits ``indices``, widened: torch float32 ``(len, D)``."""
        import torch

        return self.table.index_select(0, torch.from_numpy(np.ascontiguousarray(indices, dtype=np.int64))).float()


_cache: OrderedDict[str, TrainingFeatures] = OrderedDict()
_lock = threading.Lock()


def _torch_model(predictor):
    model = getattr(predictor, "model", None)
    if model is None or not hasattr(model, "named_children"):
        raise TypeError(f"nearest_training needs a torch Predictor (inference.Predictor), not {type(predictor).__name__}")
    return model


def model_key(predictor, data_root: str | os.PathLike | None = None) -> str:
    """A hash of everything that decides ``predictor``'s features: its weights (every tensor of the
    state dict, buffers included), architecture, normalisation and classes; and the data folder."""
    model = _torch_model(predictor)
    h = hashlib.blake2b(digest_size=20)
    h.update(repr((predictor.arch, predictor._mean, predictor._std, list(predictor.classes), str(data_root))).encode())
    for name, t in model.state_dict().items():
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _feature_layers(predictor) -> tuple[list, str]:
    """The layers that make the features (none: pixels) and what the features are, in words."""
    from torch import nn

    children = list(_torch_model(predictor).named_children())
    last = max((i for i, (_, m) in enumerate(children) if isinstance(m, nn.Linear)), default=None)
    hidden = last is not None and any(any(True for _ in m.parameters()) for _, m in children[:last])
    if not hidden:
        return [], "pixels (784, normalised as the model reads them; the model has no hidden layer)"
    layers = [m for _, m in children[:last]]
    width = children[last][1].in_features
    return layers, f"the {width} inputs of the output layer {children[last][0]!r} (the last hidden layer)"


def hidden_features(predictor, images) -> np.ndarray:
    """``predictor``'s features (see the module's docstring) of ``images``: uint8 ``(N, 28, 28)``
    or floats in [0, 1]. float32 ``(N, D)``."""
    return _hidden_tensor(predictor, images).numpy()


def _hidden_tensor(predictor, images):
    """:func:`hidden_features` as a torch float32 tensor."""
    import torch

    layers, _ = _feature_layers(predictor)
    x = torch.from_numpy(np.array(images))  # a copy: the training set's array is read-only
    x = x.float().div(255) if x.dtype == torch.uint8 else x.float()
    x = ((x - predictor._mean) / predictor._std).reshape(-1, 1, 28, 28)
    with torch.inference_mode():
        for layer in layers:
            x = layer(x)
    return x.reshape(len(x), -1).float()


def cached_features(predictor, data_root: str | os.PathLike | None = None) -> TrainingFeatures | None:
    """The features of ``predictor`` if they are computed already, else None (never computes)."""
    key = model_key(predictor, data_root)
    with _lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
        return found


def training_features(
    predictor,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    data_root: str | os.PathLike | None = None,
) -> TrainingFeatures | None:
    """The MNIST training images' features for ``predictor``, computed once and cached.

    Safe to call from a worker thread. ``progress(done, total)`` is called after each batch of
    :data:`BATCH` images; when ``should_stop()`` turns true the work ends after the batch and
    None is returned (nothing is cached). The predictor must not be trained while this runs.
    """
    import torch

    from .data import mnist_arrays

    found = cached_features(predictor, data_root)
    if found is not None:
        return found
    key = model_key(predictor, data_root)
    _, space = _feature_layers(predictor)
    images, labels = mnist_arrays("train", data_root)
    of_classes = np.isin(labels, predictor.classes) if set(predictor.classes) != set(np.unique(labels).tolist()) else None
    start = time.perf_counter()
    # Filled batch by batch (a list of batches and their concatenation held the features twice).
    # Everything below is torch: it lets go of the GIL and keeps to this thread's own torch
    # threads and priority, where numpy's product and eigh ran on OpenBLAS's threads (both
    # cores, at the GUI thread's priority).
    table = None
    half = HALF_PRECISION
    with torch.no_grad():
        i = 0
        while i < len(images):
            if should_stop is not None and should_stop():
                return None
            batch = _hidden_tensor(predictor, images[i : i + BATCH])
            if table is None:
                table = torch.empty((len(images), batch.shape[1]), dtype=torch.float16 if half else torch.float32)
            if half and not bool(batch.abs().max() <= FLOAT16_MAX):
                # Too large for float16 (or not finite): this model's features are all kept as
                # float32, the rows already stored included (built again from the start).
                half, table, i = False, None, 0
                continue
            table[i : i + len(batch)] = batch
            del batch
            i += BATCH
            if progress is not None:
                progress(min(i, len(images)), len(images))
        n, width = table.shape
        total = torch.zeros(width, dtype=torch.float64)
        norms = torch.empty(n, dtype=torch.float64)
        for i in range(0, n, BATCH):
            rows = table[i : i + BATCH].double()
            total += rows.sum(0)
            norms[i : i + BATCH] = (rows * rows).sum(1)
        mean = total / n
        # The principal directions of every 10th image: any orthonormal basis gives true lower
        # bounds, a good one tight bounds; 6,000 images find it as well as 60,000 in a tenth of the time.
        sample = table[::10].float() - mean.float()
        _, vectors = torch.linalg.eigh((sample.T @ sample).double())  # ascending eigenvalues
        basis = vectors.flip(1)[:, : min(PROJECTED, width)].contiguous()
        basis32, mean32 = basis.float(), mean.float()
        projected = torch.empty((n, basis32.shape[1]), dtype=torch.float32)
        for i in range(0, n, BATCH):
            torch.mm(table[i : i + BATCH].float() - mean32, basis32, out=projected[i : i + BATCH])
        spread = float(sample.double().pow(2).sum() / len(sample))
        del sample
    features = table.numpy()
    features.flags.writeable = False
    projected_np = projected.numpy()
    result = TrainingFeatures(
        key,
        space,
        features,
        mean.numpy(),
        basis.numpy(),
        projected_np,
        np.einsum("ij,ij->i", projected_np, projected_np),
        norms.numpy(),
        spread,
        time.perf_counter() - start,
        table,
        of_classes,
    )
    with _lock:
        _cache[key] = result
        _cache.move_to_end(key)
        while len(_cache) > MAX_CACHED:
            _cache.popitem(last=False)
    return result


def nearest_training(predictor, x28: np.ndarray, k: int = 8, *, features: TrainingFeatures | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` MNIST training images nearest ``x28`` (a (28, 28) image as ``to_mnist`` returns it)
    in ``predictor``'s last hidden layer: ``(indices int64 (k,), distances float64 (k,))``, nearest
    first (indices into ``mnist_arrays("train")``), of the model's classes only (a 3-vs-7 model's
    among the 3s and 7s it learned from).

    Computes the training features first if they are not cached (seconds: the window calls
    :func:`training_features` off the GUI thread before it asks), unless ``features`` (what
    :func:`cached_features` gave for this predictor) are given: a query in a worker thread then
    never builds them again after the window dropped them. Exact over the stored features (float16
    unless they do not fit it: see :data:`HALF_PRECISION`): the same answer as comparing with all 60,000 of
    them, up to ties.
    """
    import torch

    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= 60000:
        raise ValueError(f"k must be an integer from 1 to 60000, not {k!r}")
    predictor.normalize(x28)  # checks the shape, and NaN or infinity (NaN distances would rank every training digit at random)
    found = features if features is not None else training_features(predictor)
    f = found.features
    allowed = found.of_classes
    k = min(int(k), len(f) if allowed is None else int(allowed.sum()))
    q32 = hidden_features(predictor, np.asarray(x28, dtype=np.float32)[None])[0]
    q = q32.astype(np.float64)
    # Products by torch, in this thread alone: numpy's would wake OpenBLAS's threads, which spin
    # on every core at the GUI thread's priority after each product (see mnist_desktop/__init__).
    qp = torch.mv(torch.from_numpy(found.basis).T, torch.from_numpy(q - found.mean)).float()
    dots = torch.mv(torch.from_numpy(found.projected), qp).numpy()
    qp = qp.numpy()
    bound = found.projected_norms - 2 * dots + float(qp @ qp)  # ≤ the true squared distance (float32: see below)
    if allowed is not None:
        bound = np.where(allowed, bound, np.inf)  # another class's digit is never a candidate
    slack = 1e-4 * found.spread  # bounds and distances in float32 are off by ~1e-6 of the spread
    n = min(max(FIRST_CANDIDATES, k), len(f))
    first = np.argpartition(bound, n - 1)[:n] if n < len(f) else np.arange(len(f))
    if allowed is not None:
        first = first[allowed[first]]
    exact = _squared_distances(found, first, q32)
    kth = np.partition(exact, k - 1)[k - 1]
    # Every training image whose bound is over the k-th best distance so far is farther than it:
    # the rest are the only ones that can be nearer. Few for a digit; nearly all for a scribble.
    rest = np.flatnonzero(bound <= kth + slack)
    if len(rest) > FULL_SCAN:
        return _full_scan(found, q32, k)
    rest = np.setdiff1d(rest, first, assume_unique=True)
    candidates = np.concatenate([first, rest])
    exact = np.concatenate([exact, _squared_distances(found, rest, q32)])
    order = np.argsort(exact, kind="stable")[:k]
    return candidates[order].astype(np.int64), np.sqrt(exact[order])


def _squared_distances(found: TrainingFeatures, rows: np.ndarray, q32: np.ndarray) -> np.ndarray:
    """float64 ``(len(rows),)``: the squared distances of the stored features ``rows`` from ``q32``
    (float32 arithmetic on the rows as stored, widened)."""
    import torch

    if len(rows) == 0:
        return np.zeros(0)
    diff = found.rows(rows).sub_(torch.from_numpy(q32))
    return diff.mul_(diff).sum(1).numpy().astype(np.float64)


def _full_scan(found: TrainingFeatures, q32: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`nearest_training`'s answer from every training digit at once: ``|f|² − 2 f·q + |q|²``
    by one float32 matrix product (memory-bound, a few tens of ms), then the exact distance of the
    few whose estimate can be among the ``k`` best. The estimate's rounding error is far below
    ``tol`` (float32 products of 1,024 terms: about 1e-6 of the norms), so no true neighbour is
    left out. The stored rows are widened :data:`SCAN_ROWS` at a time into one float32 buffer
    that stays in the cache: the whole table widened at once would take as long and twice its memory."""
    import torch

    table = found.table
    qq = float(q32.astype(np.float64) @ q32.astype(np.float64))
    dots = torch.empty(len(table), dtype=torch.float32)
    qt = torch.from_numpy(q32)
    if table.dtype == torch.float32:
        torch.mv(table, qt, out=dots)
    else:
        buffer = torch.empty((SCAN_ROWS, table.shape[1]), dtype=torch.float32)
        for i in range(0, len(table), SCAN_ROWS):
            chunk = table[i : i + SCAN_ROWS]
            widened = buffer[: len(chunk)]
            widened.copy_(chunk)
            torch.mv(widened, qt, out=dots[i : i + len(chunk)])
    estimate = found.norms - 2.0 * dots.numpy().astype(np.float64) + qq
    if found.of_classes is not None:
        estimate[~found.of_classes] = np.inf
    tol = 1e-4 * found.spread + 1e-4 * (float(found.norms.max()) + qq)
    kth = np.partition(estimate, k - 1)[k - 1]
    candidates = np.flatnonzero(estimate <= kth + 2 * tol)
    exact = _squared_distances(found, candidates, q32)
    order = np.argsort(exact, kind="stable")[:k]
    return candidates[order].astype(np.int64), np.sqrt(exact[order])


def clear_cache() -> None:
    """Forget every model's features."""
    with _lock:
        _cache.clear()


def cached_models() -> int:
    """How many models' features are held now."""
    with _lock:
        return len(_cache)


def keep_only(predictor, data_root: str | os.PathLike | None = None) -> int:
    """Forget every model's features but ``predictor``'s (all of them for None or a model that is
    not a torch Predictor); returns how many models' features were dropped. The window calls it
    when the active model changes: the features of a model no longer in use are the largest
    thing it would hold."""
    try:
        key = model_key(predictor, data_root) if predictor is not None else None
    except TypeError:  # not a torch model (the numpy copy the window uses before PyTorch has loaded)
        key = None
    with _lock:
        dropped = [k for k in _cache if k != key]
        for k in dropped:
            del _cache[k]
    return len(dropped)
