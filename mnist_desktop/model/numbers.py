"""Read a whole number: a canvas holding digits written left to right → the digits and where each is.

Segmentation by recognition, in four steps:

1. The ink's connected components (8-connected, found on runs of ink, in numpy).
2. Parts of one digit are joined: components that overlap strongly in x (a 4 written in two
   strokes, a 7's crossbar); a component much lower than the number's digits (a 5's flag, a
   stroke broken off) joins the nearest digit within MINOR_REACH digit heights, and is read on
   its own farther away or when it is a flat stroke beside a digit at its middle height (a dash,
   a minus: "not a digit" says so). Specks of noise and faint marks (FAINT_INK) are dropped. Each digit keeps the
   faint edge around its ink, so one digit alone reads as ``to_mnist`` of the canvas does.
3. The parts are read (one ``predict_batch_checked``). A part at least UNSURE_ASPECT digit heights wide
   that a logistic model of "one digit's whole ink" (``_piece_score``) is not SURE of is tried cut:
   cuts start at the notches of its upper and lower contours (where two digits side by side leave
   a dip above or below the point where they touch) and at the columns where its ink is thinnest,
   and each follows the path down the part that crosses the least ink (a seam, within SEAM_REACH of
   its start: it goes round a stroke that leans into the neighbour's box instead of slicing it).
   Every piece between two cuts that could be one digit is read (a second batch), and
   dynamic programming picks the cuts whose pieces score best in sum. A piece's score is the log
   of the logistic model's probability, which reads the classifier's top three probabilities and
   1 - the top one, the piece's width against its label's usual width (a 1 is narrow, a 0 wide;
   and again when it is wider than that: a pair read as one of its digits), its height, the ink
   its cuts cross (a fragment is cut through strokes; two touching digits along a thin bridge) and
   whether it is the whole part, plus PIECE_BONUS per piece.
4. Neighbouring parts at most JOIN_GAP apart are also read as one digit (in the same second batch),
   and a second dynamic programme over the parts keeps them joined when the whole scores better
   than the two apart: a digit written in two strokes side by side.

Every part goes through ``to_mnist``; each digit's ``is_digit`` is the predictor's own judgement,
from the forward pass that read it (``predict_batch_checked``). The constants were fitted on numbers composed from MNIST *training*
digits the bundled model never trained on (the last 5,000 of the 60,000; it trained on the first
55,000) by ``scripts/tune_numbers.py``; ``bench`` measures on numbers composed from MNIST test
digits only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .preprocess import _checked, fit_box, place_by_centre_of_mass, stretch

# Ink for segmentation: pixels at least this fraction of the brightest. Anti-aliased fringes
# below it would join digits that only come near each other; the digit's own image keeps them.
INK_FRACTION = 0.25
# When the pixels at INK_FRACTION of the brightest are fewer than this share of all the lit
# pixels, the brightest is a speck (dust on a scan, a dot of a darker pen) beside fainter writing:
# the fraction is taken of the brightest of the rest, or all the writing falls under it.
BRIGHT_SHARE = 0.05
FRINGE = 12  # pixels of faint edge a digit keeps around its ink
FRINGE_CELLS = 2**22  # the groups' windows are grown together, in stacks of at most about this many pixels
# Two groups are one digit when their x-ranges overlap by this much of the narrower one's width.
JOIN_OVERLAP = 0.5
# A component with less ink than this fraction of the largest one is a speck of noise: dropped.
SPECK_AREA = 0.005
# A component whose brightest pixel is under this fraction of the writing's is a faint mark (a
# smudge, the edge of a neighbouring line caught in a scan or in an MNIST digit's crop): dropped
# too. A canvas's strokes are all equally bright, so it never fires there. Of the 25 tuning
# numbers with gaps read with a digit too many (2,100, seeds 102 and 104), 4 were such a mark read
# as a confident 1 (brightest 75–78 of 255); with it 96.0 % of them read exactly (95.8 before),
# the 140 with gaps 95.0 (94.3), the 280 touching 91.4 (91.1); 0.5 read the same. Bench's numbers
# (MNIST test digits) read the same with it and without (1,355 and 1,224 of 1,400).
FAINT_INK = 0.4
# More separate marks than this (after the specks) is noise or a pattern, not a written number:
# refused with a clear message (grouping them is quadratic: 10,000 dots took 10 s to 2 minutes).
MAX_MARKS = 500
# A component less high than this fraction of a digit's height in the number is part of a digit
# (a 5's flag, a stroke broken off): it joins the nearest group within MINOR_REACH of the height.
MINOR_HEIGHT = 0.4
MINOR_REACH = 0.35
# But a flat one (at least DASH_ASPECT times as wide as high) beside its nearest digit, at least
# DASH_GAP digit heights from it and from every other (no x-overlap), with its middle in the middle
# half of the height of the digit just before or after it, is a dash or a minus ("17-42"), read
# on its own: a 5's flag, a 7's bar, a 1's foot are over or under their digit, at its top or
# bottom. Without DASH_GAP the rule broke two of the 280 touching tuning numbers: a 4 whose bar,
# drawn out to the left, the pen left 0.10 and 0.11 digit heights short of the stem, read "24".
# With it no tuning or bench number reads differently (none has a dash).
DASH_ASPECT = 2.0
DASH_BAND = (0.25, 0.75)
DASH_GAP = 0.15
# Widths are measured in digit heights (the median height of the number's parts, a dash's aside). Everything below
# was fitted on numbers composed from MNIST *training* digits the bundled model never trained on
# (the last 5,000; it trained on the first 55,000), never on the test digits the bench measures with.
UNSURE_ASPECT = 0.5  # a part at least this wide is tried cut (see _segment)
DIGIT_ASPECT = 0.7  # a digit's typical width: how many digits a part may hold
CUTS_PER_DIGIT = 2  # thin columns per digit the part may hold, where cuts start
MAX_CUTS = 24
CUT_SPACING = 0.08  # cuts start at least this far apart
NOTCH_REACH = 0.3  # a notch in the upper or lower contour: lower than the contour this far on both sides
NOTCH_DEPTH = 0.05  # by at least this much
SEAM_REACH = 0.12  # a cut wanders at most this far from the column it starts from
SEAM_STEP = 0.05  # a step sideways costs this much (a pixel of ink crossed costs 1)
SEAM_CELLS = 4_000_000  # at most this many cells in the seams' table (rows × cuts × columns)
MAX_PIECE_ASPECT = 1.4  # a piece wider than this is not tried as one digit (the whole part always is)
PIECE_HEIGHT = 0.4  # each piece is at least this fraction of a digit's height high
PIECE_WIDTH = 0.08  # and this wide (a 1 is narrow)
MIN_PART = 0.06  # cuts start at least this fraction of a digit's height from the part's edges
# DIGIT_WIDTHS and SCORE_WEIGHTS are what `scripts/tune_numbers.py --fit` prints: every part at
# least 0.3 digit heights wide of the 420 tuning numbers cut as above, every candidate piece read.
# How wide each digit is (mean, standard deviation, in digit heights), from the pieces that are one.
DIGIT_WIDTHS = {
    0: (0.899, 0.183),
    1: (0.479, 0.182),
    2: (0.897, 0.199),
    3: (0.799, 0.178),
    4: (0.804, 0.186),
    5: (0.928, 0.216),
    6: (0.755, 0.167),
    7: (0.761, 0.178),
    8: (0.772, 0.166),
    9: (0.666, 0.153),
}
# The logistic model of "this piece is one digit's whole ink" (see _piece_score), fitted by maximum
# likelihood on the 13,418 candidate pieces (5,683 of them a digit: a box over 0.8 IoU with a true
# one). Weights of: 1, log top probability, log second probability, width, ((width - the label's
# mean width) / its deviation)², (height - 1)², height, ink crossed by the piece's cuts (in digit
# heights), whole part, how many of its sides are the part's edges, the same deviation again but
# only when the piece is wider than its label's mean (a pair read as one of its digits is wide),
# log third probability, log (1 - top probability). The last three lifted the touching tuning
# numbers read exactly from 88.2 to 90.7 % (fitted on half of them, measured on the other half,
# both ways; 90.0 % with log (1 - top) alone, 88.9 % with the one-sided width alone). The
# top-probability is_digit rule (under digit_threshold) was tried as a feature too: weight -0.07,
# nothing beyond the log top probability, so it is left out.
SCORE_WEIGHTS = np.array([-3.471, 0.88, -0.01, 1.033, -0.141, -5.082, 1.443, -3.887, 0.956, 0.215, -0.117, -0.201, -0.129])
# Added to each piece's log probability: without it the sum favours fewer pieces (each piece's
# probability is below 1) and two touching digits stay one. Chosen on the tuning numbers' exact
# reads, the weights fitted on one half and measured on the other, both ways (gaps / touching, with
# SURE 0.98, swept before SURE went back to 0.95 for speed: 1.2: 95.0 / 91.4 %; 1.3: 95.0 / 91.8;
# 1.4: 95.0 / 91.8; 1.5: 95.0 / 91.1; 1.6: 95.0 / 90.7).
PIECE_BONUS = 1.3
# A part that the logistic model finds at least this likely to be one digit is not tried cut. It
# saves reading pieces (in a number with gaps about a quarter of the digits are tried) but leaves
# a pair read confidently as one of its digits (01 as 0) uncut. Gaps / touching exact on the tuning
# numbers (weights fitted on all / on one half, measured on the other), and images read for an
# 8-digit one with gaps: 0.9: 95.0 / 88.9 %, 11.5 images; 0.93: 95.0 / 91.1 (90.7) %; 0.95:
# 95.0 / 91.1 (90.7) %, 16.3 images; 0.97: 95.0 / 91.8 (91.8) %, 20.2 images, about a fifth
# slower. The previous weights (bonus 1, 0.95): 95.0 / 88.9 %, 17.4 images.
SURE = 0.95
# Two neighbouring parts at most JOIN_GAP digit heights apart (or overlapping in x, less than
# JOIN_OVERLAP) are also read as one digit, in the second batch, and kept as one when it scores
# better than the two apart (each as cut): a digit in two strokes side by side whose halves read
# badly alone. On numbers composed from the tuning digits (the 420 tuning numbers and 700 + 700 more,
# seeds 102 and 103): 0.2 and 0.3 fix one number with gaps of the 700 more and change nothing else;
# a join bonus of 0.5 changed nothing more. A 6 whose short stem stands apart (tuning number 107,
# read 61) is not joined: its stem reads as a confident 1, and two confident digits outscore one.
# The two together may be MAX_PIECE_ASPECT wide of the digit height or of their own height, the
# larger: a 5 whose flag stands apart above its body is two parts each well under a digit's height,
# which pull the number's median height down (in a 2-digit number to the flag's): measured against
# it alone, 3 such 5s were never tried whole (read "57" as "407"). With the own height, 4 more of the
# 2,100 tuning numbers with gaps read exactly (2,015 → 2,019), no other tuning number changes; the
# bench's numbers read the same (1,355 and 1,224 of 1,400).
JOIN_GAP = 0.2
# Added to a join's score when the two parts' faint edges meet (a stroke thinned apart, the ink
# between them under INK_FRACTION): without it such a digit read as itself plus a thin 1 beside
# it (a 2 read 21), the two pieces' PIECE_BONUS outscoring the one's.
JOIN_BRIDGE = PIECE_BONUS  # the bonus of the piece the join saves: bridged halves compete on their probabilities alone


@dataclass(frozen=True)
class DigitReading:
    """One digit of a number: where it is and what the model reads."""

    box: tuple[int, int, int, int]  # (x0, y0, x1, y1) in image pixels, x1 and y1 exclusive
    label: int  # the top class
    probabilities: np.ndarray = field(compare=False)  # float32 over the predictor's classes
    is_digit: bool
    x28: np.ndarray = field(compare=False, repr=False)  # what the model saw: to_mnist of the part


@dataclass(frozen=True)
class NumberReading:
    """The digits read from a canvas, left to right."""

    text: str  # e.g. "2026": each part's top class, a digit or not
    digits: tuple[DigitReading, ...]

    @property
    def marked(self) -> str:
        """:attr:`text` with "?" where a part is not a digit (``is_digit`` False), as the window
        and the command line show the number."""
        return "".join(str(d.label) if d.is_digit else "?" for d in self.digits)


# --- connected components ---------------------------------------------------------------------


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs of True along each row: ``(row, start, end)`` (end exclusive), in row-major order."""
    h, w = mask.shape
    padded = np.zeros((h, w + 2), bool)
    padded[:, 1:-1] = mask
    flat = padded.reshape(-1)
    # Every row starts and ends off the mask, so its changes alternate: a start, then an end.
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    first, last = change[0::2], change[1::2]
    rows = first // (w + 2)
    return rows, first - rows * (w + 2) - 1, last - rows * (w + 2) - 1


def _run_components(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The runs of ``mask`` (see :func:`_runs`) and each run's component, 0-based, numbered in
    order of the components' first runs."""
    h, w = mask.shape
    rows, starts, ends = _runs(mask)
    n = len(rows)
    if n == 0:
        return rows, starts, ends, np.zeros(0, np.int64)
    stride = w + 2
    key_start, key_end = rows * stride + starts, rows * stride + ends
    # Runs of the next row that touch run a: end >= start_a and start <= end_a (8-connected).
    lo = np.searchsorted(key_end, (rows + 1) * stride + starts, "left")
    hi = np.searchsorted(key_start, (rows + 1) * stride + ends, "right")
    count = np.maximum(hi - lo, 0)
    a = np.repeat(np.arange(n), count)
    b = np.repeat(lo, count) + np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    root = np.arange(n)
    while len(a):
        ra, rb = root[a], root[b]  # roots: every run points at its root
        apart = ra != rb
        if not apart.any():
            break
        a, b, ra, rb = a[apart], b[apart], ra[apart], rb[apart]
        # Hook the larger root of each link under the smaller (roots only, so no cycle), then
        # pointer jumping: a component's root ends as its first run, in a few rounds.
        np.minimum.at(root, np.maximum(ra, rb), np.minimum(ra, rb))
        while True:
            jumped = root[root]
            if np.array_equal(jumped, root):
                break
            root = jumped
    _, component = np.unique(root, return_inverse=True)
    return rows, starts, ends, component.reshape(-1)


def _paint(shape: tuple[int, int], rows, starts, ends, values, dtype=np.int32) -> np.ndarray:
    """An image of ``shape`` with ``values`` over the runs (rows, starts, ends), 0 elsewhere."""
    steps = np.zeros((shape[0], shape[1] + 1), dtype)
    steps[rows, starts] = values
    steps[rows, ends] = -values
    return np.cumsum(steps, axis=1, dtype=dtype)[:, : shape[1]]


def label_components(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """8-connected components of a 2-D bool ``mask``: ``(labels int32, count)``, labels 1…count
    in order of each component's first pixel (row-major), 0 off the mask.

    Union-find on runs: two runs in neighbouring rows touch when their column ranges meet or
    are diagonal neighbours; labels are propagated along those links (with pointer jumping)
    until they settle. No Python loop over pixels or runs.
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2:
        raise ValueError(f"expected a 2-D mask, got shape {mask.shape}")
    rows, starts, ends, component = _run_components(mask)
    if not len(rows):
        return np.zeros(mask.shape, np.int32), 0
    return _paint(mask.shape, rows, starts, ends, component.astype(np.int32) + 1), int(component.max()) + 1


# --- grouping ---------------------------------------------------------------------------------


@dataclass
class _Group:
    ids: list[int]
    x0: int
    y0: int
    x1: int
    y1: int
    area: int
    alone: bool = False  # a short component far from every digit (a dash): not one of the digits

    def absorb(self, other: _Group) -> None:
        self.ids += other.ids
        self.x0, self.y0 = min(self.x0, other.x0), min(self.y0, other.y0)
        self.x1, self.y1 = max(self.x1, other.x1), max(self.y1, other.y1)
        self.area += other.area


def _overlap(a: _Group, b: _Group) -> float:
    """How much the x-ranges of ``a`` and ``b`` overlap, as a fraction of the narrower one."""
    return (min(a.x1, b.x1) - max(a.x0, b.x0)) / min(a.x1 - a.x0, b.x1 - b.x0)


def _groups(rows, starts, ends, component, brightest=None, writing: float = 0.0) -> list[_Group]:
    """The components of the runs joined into digits (see the module's docstring), left to right.
    A group's ``ids`` are its components' numbers. ``brightest[i]``: component i's brightest pixel,
    ``writing`` the brightness of the writing: a component under FAINT_INK of it is left out."""
    count = int(component.max()) + 1
    area = np.bincount(component, weights=ends - starts, minlength=count).astype(int)
    x0, y0 = np.full(count, ends.max()), np.full(count, rows.max() + 1)
    x1, y1 = np.zeros(count, int), np.zeros(count, int)
    np.minimum.at(x0, component, starts)
    np.minimum.at(y0, component, rows)
    np.maximum.at(x1, component, ends)
    np.maximum.at(y1, component, rows + 1)
    keep = area >= SPECK_AREA * area.max()
    if brightest is not None:  # never the brightest of the marks kept: some writing always stays
        keep &= brightest >= FAINT_INK * min(writing, brightest[keep].max())
    comps = [_Group([i], int(x0[i]), int(y0[i]), int(x1[i]), int(y1[i]), int(area[i])) for i in np.flatnonzero(keep)]
    if len(comps) > MAX_MARKS:
        raise ValueError(f"{len(comps)} separate marks: too many to read as a number (noise or a pattern?); at most {MAX_MARKS}")
    heights = np.array([c.y1 - c.y0 for c in comps])
    typical = float(np.median(heights[heights >= 0.5 * heights.max()]))  # a digit's height in this number
    major = [c for c in comps if c.y1 - c.y0 >= MINOR_HEIGHT * typical]
    minor = [c for c in comps if c.y1 - c.y0 < MINOR_HEIGHT * typical]
    groups: list[_Group] = []
    for c in sorted(major, key=lambda g: g.x0):
        groups.append(c)
        merged = True
        while merged:  # a join widens the group: it may now reach another
            merged = False
            for i, g in enumerate(groups[:-1]):
                if _overlap(g, groups[-1]) >= JOIN_OVERLAP:
                    g.absorb(groups.pop())
                    groups.append(groups.pop(i))
                    merged = True
                    break
    alone = []
    for m in minor:  # a 5's flag, a stroke broken off: to the nearest digit, overlapping it the most
        if sum(min(g.x1, m.x1) - max(g.x0, m.x0) >= JOIN_OVERLAP * (g.x1 - g.x0) for g in groups) >= 2:
            continue  # across two digits or more (an underline, a strike-through): no digit's, left out
        gap, g = min(((_gap(g, m), g) for g in groups), key=lambda dg: (dg[0], -_overlap(dg[1], m)))
        if gap <= MINOR_REACH * typical and not (gap >= DASH_GAP * typical and _dash_beside(m, groups)):
            g.absorb(m)
        else:  # far from every digit, or a dash beside one: read on its own, not dropped unseen
            m.alone = True
            alone.append(m)
    groups += alone
    return sorted(groups, key=lambda g: (g.x0 + g.x1) / 2)


def _dash_beside(m: _Group, groups: list[_Group]) -> bool:
    """Whether ``m``, a short component overlapping none of the digits ``groups`` in x, is flat
    and at the height of the middle of the digit just before or just after it: a dash or a minus,
    not a part of a digit (see DASH_ASPECT)."""
    if m.x1 - m.x0 < DASH_ASPECT * (m.y1 - m.y0):
        return False
    before = [g for g in groups if g.x1 <= m.x0]
    after = [g for g in groups if g.x0 >= m.x1]
    beside = ([max(before, key=lambda g: g.x1)] if before else []) + ([min(after, key=lambda g: g.x0)] if after else [])
    middle = (m.y0 + m.y1) / 2
    return any(g.y0 + DASH_BAND[0] * (g.y1 - g.y0) <= middle <= g.y0 + DASH_BAND[1] * (g.y1 - g.y0) for g in beside)


def _gap(a: _Group, b: _Group) -> int:
    """The horizontal gap between ``a`` and ``b`` (0 when they overlap in x)."""
    return max(0, max(a.x0, b.x0) - min(a.x1, b.x1))


# --- parts and cuts ---------------------------------------------------------------------------


@dataclass
class _Part:
    box: tuple[int, int, int, int]  # in the image
    pixels: np.ndarray  # uint8, the part's ink only, cropped to box
    x28: np.ndarray | None = None
    probabilities: np.ndarray | None = None
    is_digit: bool = True  # the predictor's own judgement, from the pass that gave the probabilities
    alone: bool = False  # from a group that is no digit's height (see _Group.alone)

    @property
    def height(self) -> int:
        return self.box[3] - self.box[1]

    @property
    def width(self) -> int:
        return self.box[2] - self.box[0]

    @property
    def confidence(self) -> float:
        return float(self.probabilities.max())


def _part(pixels: np.ndarray, left: int, top: int) -> _Part | None:
    """The ink of ``pixels`` (placed at ``left``, ``top`` in the image) cropped to its box; None if none."""
    rows = np.flatnonzero(pixels.any(axis=1))
    if not len(rows):
        return None
    cols = np.flatnonzero(pixels.any(axis=0))
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    box = (left + int(c0), top + int(r0), left + int(c1), top + int(r1))
    return _Part(box, pixels[r0:r1, c0:c1])


def _classify(predictor, parts: list[_Part]) -> None:
    """Fill in each part's ``x28``, ``probabilities`` and ``is_digit`` with one forward pass."""
    todo = [p for p in parts if p.probabilities is None]
    if not todo:
        return
    for p in todo:
        # to_mnist without its checks and crop: a part's pixels are already cropped to their ink
        # (see _part), so this is to_mnist(p.pixels), bit for bit, in less time.
        p.x28 = place_by_centre_of_mass(stretch(fit_box(p.pixels)))
    probs, flags = predictor.predict_batch_checked(np.stack([p.x28 for p in todo]))
    for p, pr, flag in zip(todo, np.asarray(probs), np.asarray(flags)):
        p.probabilities, p.is_digit = pr, bool(flag)


def _thin_columns(ink: np.ndarray, margin: int, spacing: int, wanted: int) -> list[int]:
    """Columns where ``ink`` is thinnest (the smoothed count of ink per column), ``spacing`` apart,
    thinnest first, at most ``wanted``."""
    w = ink.shape[1]
    profile = np.convolve(ink.sum(axis=0).astype(np.float64), np.ones(3) / 3, mode="same")
    inner = np.arange(margin, w - margin)
    order = inner[np.argsort(profile[inner], kind="stable")]
    chosen: list[int] = []
    for c in order:
        if all(abs(int(c) - k) >= spacing for k in chosen):
            chosen.append(int(c))
            if len(chosen) == wanted:
                break
    return chosen


def _notches(ink: np.ndarray, margin: int, height: float) -> list[int]:
    """Columns where the upper contour dips (its top ink is lower than on both sides) or the lower
    contour rises: the notch above or below the point where two digits side by side touch."""
    h, w = ink.shape
    has = ink.any(axis=0)
    top = np.where(has, ink.argmax(axis=0), h).astype(np.float64)
    bottom = np.where(has, h - 1 - ink[::-1].argmax(axis=0), 0).astype(np.float64)
    reach = max(2, round(NOTCH_REACH * height))
    out = []
    for prof in (top, h - 1 - bottom):  # how far the contour is from the edge, per column
        prof = np.convolve(np.pad(prof, 2, mode="edge"), np.ones(5) / 5, mode="valid")
        padded = np.pad(prof, reach, mode="constant", constant_values=np.inf)
        windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * reach + 1)
        left = windows[:, :reach].min(axis=1)
        right = windows[:, reach + 1 :].min(axis=1)
        depth = prof - np.maximum(left, right)  # below the highest contour on both sides
        peak = (prof >= np.maximum(np.roll(prof, 1), np.roll(prof, -1))) & (depth >= NOTCH_DEPTH * height)
        cols = np.flatnonzero(peak)
        out += [int(c) for c in cols if margin <= c < w - margin]
    return out


def _cut_candidates(part: _Part, height: float) -> list[int]:
    """Columns of ``part`` where a cut may start: where its ink is thinnest (about CUTS_PER_DIGIT
    for each digit the part's width could hold) and the notches of its upper and lower contours,
    at least MIN_PART of a digit's height from each side and CUT_SPACING apart."""
    h, w = part.pixels.shape
    margin = max(1, round(MIN_PART * height))
    if w < 2 * margin + 1:
        return []
    ink = part.pixels >= INK_FRACTION * part.pixels.max()
    spacing = max(2, round(CUT_SPACING * height))
    wanted = min(MAX_CUTS, max(CUTS_PER_DIGIT, round(CUTS_PER_DIGIT * w / (DIGIT_ASPECT * height))))
    chosen = _notches(ink, margin, height)
    kept: list[int] = []
    for c in chosen + _thin_columns(ink, margin, spacing, wanted):
        if all(abs(c - k) >= spacing for k in kept):
            kept.append(c)
    return sorted(kept)


def _seams(tries: list[tuple[_Part, list[int]]], height: float) -> list[np.ndarray]:
    """For each part and the columns where its cuts start, the cuts through the part from top to
    bottom that cross the least ink, each within SEAM_REACH of a digit's height of its column and
    at most one pixel sideways per row (each step sideways costing SEAM_STEP): per part a
    ``(len(columns), h)`` int array, per row the first column of the right-hand piece.

    One dynamic programme, row by row, for the cuts of all the parts at once."""
    depth = max(p.pixels.shape[0] for p, _ in tries)
    cuts = sum(len(cols) for _, cols in tries)
    # A very large canvas: narrower seams (straight cuts at worst), to keep the tables in SEAM_CELLS.
    reach = min(round(SEAM_REACH * height), max(0, (SEAM_CELLS // (depth * cuts) - 1) // 2))
    offsets = np.arange(-reach, reach + 1)
    costs, columns = [], []
    for p, cols in tries:
        h, w = p.pixels.shape
        idx = np.asarray(cols, int)[:, None] + offsets  # (k, W): the columns each cut may pass
        ink = (p.pixels >= INK_FRACTION * p.pixels.max()).astype(np.float64)
        c = np.where((idx >= 1) & (idx <= w - 1), ink[:, idx.clip(0, w - 1)], np.inf)
        costs.append(np.pad(c, ((0, depth - h), (0, 0), (0, 0))))  # below the part: free
        columns.append(idx)
    cost = np.concatenate(costs, axis=1)  # (depth, all cuts, W)
    k, width = cost.shape[1:]
    # The least ink from the top to each pixel, with a column of infinity on either side.
    totals = np.full((depth, k, width + 2), np.inf)
    totals[0, :, 1:-1] = cost[0]
    for r in range(1, depth):
        prev, here = totals[r - 1], totals[r, :, 1:-1]
        np.minimum(prev[:, :-2], prev[:, 2:], out=here)
        here += SEAM_STEP
        np.minimum(prev[:, 1:-1], here, out=here)
        here += cost[r]
    # Where each pixel's least path comes from in the row above, for all rows at once: straight
    # down when it costs no more, else from the left when that costs no more than the right.
    left, right = totals[:-1, :, :-2] + SEAM_STEP, totals[:-1, :, 2:] + SEAM_STEP
    rightwards = left > right
    stay = totals[:-1, :, 1:-1] <= np.minimum(left, right, out=left)
    move = np.where(stay, 0, np.where(rightwards, 1, -1)).reshape(depth - 1, k * width)  # (0, k W) for one row
    pos = totals[-1].argmin(axis=1) - 1  # the column in the band, 0-based
    base = np.arange(k) * width
    path = np.empty((depth, k), int)
    path[-1] = pos
    for r in range(depth - 1, 0, -1):
        pos = pos + move[r - 1][base + pos]
        path[r - 1] = pos
    path = path.T
    out, start = [], 0
    for (p, cols), idx in zip(tries, columns):
        n = len(cols)
        out.append(np.take_along_axis(idx, path[start : start + n, : p.pixels.shape[0]], axis=1))
        start += n
    return out


def _features(q: _Part, label: int, height: float, crossed: float, whole: bool, edges: int) -> np.ndarray:
    """What the logistic model of :func:`_piece_score` reads of piece ``q`` (in SCORE_WEIGHTS' order)."""
    p = np.sort(q.probabilities)
    aspect, rise = q.width / height, q.height / height
    mean, spread = DIGIT_WIDTHS.get(label, (DIGIT_ASPECT, 0.2))
    return np.array(
        [
            1.0,
            np.log(max(float(p[-1]), 1e-6)),
            np.log(max(float(p[-2]), 1e-6)) if len(p) > 1 else 0.0,
            aspect,
            ((aspect - mean) / spread) ** 2,
            (rise - 1) ** 2,
            rise,
            crossed,
            float(whole),
            float(edges),
            max(0.0, (aspect - mean) / spread) ** 2,
            np.log(max(float(p[-3]), 1e-6)) if len(p) > 2 else 0.0,
            np.log(max(1.0 - float(p[-1]), 1e-6)),
        ]
    )


def _piece_score(q: _Part, label: int, height: float, crossed: float, whole: bool, edges: int) -> float:
    """How well ``q`` reads as one digit of the number: the log of the probability, by the logistic
    model in SCORE_WEIGHTS, that it is one digit's whole ink, plus PIECE_BONUS.

    The logistic model reads the classifier's top three probabilities and 1 - the top one, the
    piece's width (in digit heights) and how far that is from a ``label``'s usual width (a 1 is
    narrow, a 0 wide), and again when it is wider than that (a pair read as one digit), how far
    its height is from a digit's, how much ink its cuts cross (a fragment is cut through strokes,
    a digit along the thin bridge where it touches its neighbour), whether it is the whole part
    and how many of its sides are the part's edges."""
    z = float(SCORE_WEIGHTS @ _features(q, label, height, crossed, whole, edges))
    return -float(np.logaddexp(0.0, -z)) + PIECE_BONUS


def _candidates(p: _Part, seams: np.ndarray, height: float):
    """The pieces of part ``p`` between its cuts ``seams`` (see :func:`_seams`):
    ``(crossed, table)``, where ``crossed[k]`` is the ink cut k crosses (in digit heights; 0 for
    the part's two edges) and ``table[i, j]`` the piece between cuts i and j (an absent key: no
    piece that could be a digit)."""
    x0, y0, _, _ = p.box
    h, w = p.pixels.shape
    if len(seams):
        seams = seams[np.argsort(seams.mean(axis=1), kind="stable")]
        seams = np.maximum.accumulate(seams, axis=0)  # cuts never cross
        keep = [0]
        for k in range(1, len(seams)):
            if np.abs(seams[k] - seams[keep[-1]]).mean() >= 2:  # the same cut, found twice
                keep.append(k)
        seams = seams[keep]
    bounds = np.concatenate([np.zeros((1, h), int), seams.reshape(-1, h), np.full((1, h), w)])
    ink = p.pixels >= INK_FRACTION * p.pixels.max()
    crossed = np.array([0.0, *(ink[np.arange(h), s.clip(0, w - 1)].sum() / height for s in seams), 0.0])
    colx = np.arange(w)
    table: dict[tuple[int, int], _Part] = {}
    n = len(bounds)
    for i in range(n):
        for j in range(i + 1, n):
            if (i, j) == (0, n - 1):
                continue  # the whole part
            if bounds[j].min() - bounds[i].max() > MAX_PIECE_ASPECT * height:
                break
            c0, c1 = int(bounds[i].min()), int(bounds[j].max())
            cols = colx[c0:c1]
            mask = (cols >= bounds[i][:, None]) & (cols < bounds[j][:, None])
            q = _part(np.where(mask, p.pixels[:, c0:c1], 0).astype(np.uint8), x0 + c0, y0)
            if q is not None and q.height >= PIECE_HEIGHT * height and q.width >= PIECE_WIDTH * height:
                table[i, j] = q
    return crossed, table


def _score(predictor, q: _Part, height: float, crossed: float, whole: bool, edges: int) -> float:
    label = int(predictor.classes[int(np.argmax(q.probabilities))])
    return _piece_score(q, label, height, crossed, whole, edges)


def _segment(predictor, parts: list[_Part]) -> list[_Part]:
    """``parts`` with every part that reads better as several digits replaced by them.

    The parts are read first, in one batch. A part at least UNSURE_ASPECT digit heights wide (the
    median height of the number's digit-high parts) that the model of :func:`_piece_score` does not find
    SURE to be one digit gets candidate cuts (:func:`_cut_candidates`, :func:`_seams`); every
    piece between two of its cuts (its edges included) that could be one digit is read, all in a
    second batch, and dynamic programming picks the cuts whose pieces score best in sum.
    """
    # A digit's height: the parts that are digits' height only (a dash's would halve it, and the
    # one digit beside it would be cut as if it were two digits wide).
    height = float(np.median([p.height for p in parts if not p.alone]))
    _classify(predictor, parts)
    sure = np.log(SURE) + PIECE_BONUS
    tries = []
    for p in parts:
        if p.width >= UNSURE_ASPECT * height and _score(predictor, p, height, 0.0, True, 2) < sure:
            columns = _cut_candidates(p, height)
            if columns:
                tries.append((p, columns))
    plans = {}
    if tries:
        for (p, _), seams in zip(tries, _seams(tries, height)):
            crossed, table = _candidates(p, seams, height)
            if table:
                plans[id(p)] = crossed, table
    joins = _joins(parts, height)
    _classify(predictor, [q for _, table in plans.values() for q in table.values()] + [u for u, _ in joins.values()])
    chains: list[tuple[list[_Part], float | None]] = []  # each part's best reading alone: (its pieces, their score)
    for p in parts:
        if id(p) not in plans:
            chains.append(([p], None))  # scored below, if it may be joined
            continue
        crossed, table = plans[id(p)]
        n = len(crossed) - 1
        table[0, n] = p
        best = np.full(n + 1, -np.inf)
        best[0] = 0.0
        back = np.zeros(n + 1, int)
        for j in range(1, n + 1):
            for i in range(j):
                q = table.get((i, j))
                if q is None or best[i] == -np.inf:
                    continue
                s = best[i] + _score(predictor, q, height, crossed[i] + crossed[j], (i, j) == (0, n), (i == 0) + (j == n))
                if s > best[j]:
                    best[j], back[j] = s, i
        chain, j = [], n
        while j:
            chain.append(table[back[j], j])
            j = back[j]
        chains.append((chain[::-1], float(best[n])))
    if not joins:
        return [q for chain, _ in chains for q in chain]
    # Neighbouring parts that may be one digit in two pieces (a 6 whose stem stands apart): a
    # second dynamic programme over the parts, each alone (as cut above) or joined to the next.
    total = np.full(len(parts) + 1, -np.inf)
    total[0] = 0.0
    back = np.zeros(len(parts) + 1, int)
    for k in range(1, len(parts) + 1):
        alone = chains[k - 1][1]
        if alone is None:  # a part that may not be joined adds the same to every plan: 0
            alone = _score(predictor, parts[k - 1], height, 0.0, True, 2) if {k - 2, k - 1} & joins.keys() else 0.0
        total[k], back[k] = total[k - 1] + alone, k - 1
        if k - 2 in joins:
            u, bridged = joins[k - 2]
            s = total[k - 2] + _score(predictor, u, height, 0.0, True, 2) + JOIN_BRIDGE * bridged
            if s > total[k]:
                total[k], back[k] = s, k - 2
    out: list[_Part] = []
    k = len(parts)
    while k:
        out[:0] = [joins[k - 2][0]] if back[k] == k - 2 else chains[k - 1][0]
        k = back[k]
    return out


def _joins(parts: list[_Part], height: float) -> dict[int, tuple[_Part, bool]]:
    """Neighbouring parts that could be one digit in two pieces: ``{k: (parts k and k + 1 as one
    part, whether their faint edges meet)}`` where the gap between them is at most JOIN_GAP digit
    heights and the two together are at most MAX_PIECE_ASPECT wide (of the digit height or of
    their own height, the larger: see JOIN_GAP)."""
    out = {}
    for k, (a, b) in enumerate(zip(parts, parts[1:])):
        if a.alone or b.alone:  # a dash is no half of a digit
            continue
        gap = max(0, max(a.box[0], b.box[0]) - min(a.box[2], b.box[2])) / height
        x0, y0 = min(a.box[0], b.box[0]), min(a.box[1], b.box[1])
        x1, y1 = max(a.box[2], b.box[2]), max(a.box[3], b.box[3])
        if gap > JOIN_GAP or x1 - x0 > MAX_PIECE_ASPECT * max(height, y1 - y0):
            continue
        pixels = np.zeros((y1 - y0, x1 - x0), np.uint8)
        for p in (a, b):
            region = pixels[p.box[1] - y0 : p.box[3] - y0, p.box[0] - x0 : p.box[2] - x0]
            np.maximum(region, p.pixels, out=region)
        out[k] = _Part((x0, y0, x1, y1), pixels), _edges_meet(a, b)
    return out


def _edges_meet(a: _Part, b: _Part) -> bool:
    """Whether the pixels of ``a`` and ``b`` (their faint edges included) touch, 8-connected, or
    share pixels: one stroke broken where its ink thinned below INK_FRACTION, not two digits
    written apart. Only the boxes' overlap grown by a pixel can hold such a pair of pixels."""
    x0, y0 = max(a.box[0], b.box[0]) - 1, max(a.box[1], b.box[1]) - 1
    x1, y1 = min(a.box[2], b.box[2]) + 1, min(a.box[3], b.box[3]) + 1
    if x1 <= x0 or y1 <= y0:
        return False
    masks = np.zeros((2, y1 - y0 + 2, x1 - x0 + 2), bool)  # the window, a pixel of empty margin
    for p, mask in zip((a, b), masks):
        u0, v0, u1, v1 = max(x0, p.box[0]), max(y0, p.box[1]), min(x1, p.box[2]), min(y1, p.box[3])
        if u1 > u0 and v1 > v0:
            mask[v0 - y0 + 1 : v1 - y0 + 1, u0 - x0 + 1 : u1 - x0 + 1] = (
                p.pixels[v0 - p.box[1] : v1 - p.box[1], u0 - p.box[0] : u1 - p.box[0]] > 0
            )
    near = masks[0].copy()  # grown by a pixel: the margin is empty, so nothing wraps round
    for shift in ((0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (1, -1), (-1, 1), (-1, -1)):
        near |= np.roll(masks[0], shift, axis=(0, 1))
    return bool((near & masks[1]).any())


def _parts(image: np.ndarray) -> list[_Part]:
    """The groups of ``image``'s components (see :func:`_groups`), each with its faint edge."""
    writing = int(image.max())
    ink = image >= max(1, INK_FRACTION * writing)
    if np.count_nonzero(ink) < BRIGHT_SHARE * np.count_nonzero(image):
        writing = int(image[~ink].max())
        ink = image >= max(1, INK_FRACTION * writing)
    rows, starts, ends, component = _run_components(ink)
    brightest = None
    if len(rows):  # each component's brightest pixel, from each run's ([start, end) of the flat image)
        w = image.shape[1]
        bounds = np.stack([rows * w + starts, rows * w + ends], axis=1).reshape(-1)
        run_max = np.maximum.reduceat(np.append(image.reshape(-1), 0), bounds)[::2]
        brightest = np.zeros(int(component.max()) + 1, image.dtype)
        np.maximum.at(brightest, component, run_max)
    groups = _groups(rows, starts, ends, component, brightest, writing)
    owner = np.full(int(component.max()) + 1, -1)
    for k, g in enumerate(groups):
        owner[g.ids] = k
    run_owner = owner[component]
    windows, mines, faints = [], [], []
    for k, g in enumerate(groups):
        # The group's pixels: its components, and the faint edge around them (ink below the
        # segmentation's threshold) reached through faint ink, as far as FRINGE pixels.
        top, left = max(0, g.y0 - FRINGE), max(0, g.x0 - FRINGE)
        window = (slice(top, g.y1 + FRINGE), slice(left, g.x1 + FRINGE))
        shape = ink[window].shape
        own = run_owner == k
        mine = _paint(shape, rows[own] - top, starts[own] - left, ends[own] - left, 1, np.int8) > 0
        windows.append((window, top, left))
        mines.append(mine)
        faints.append((image[window] > 0) & ~ink[window] & ~mine)
    grown, start = [], 0
    for end in range(1, len(mines) + 1):  # in stacks of at most FRINGE_CELLS pixels (or one window)
        more = mines[start : end + 1]
        if end == len(mines) or len(more) * max(m.shape[0] for m in more) * max(m.shape[1] for m in more) > FRINGE_CELLS:
            grown += _with_fringes(mines[start:end], faints[start:end])
            start = end
    parts = []
    for g, (window, top, left), mine in zip(groups, windows, grown):
        part = _part(np.where(mine, image[window], 0).astype(np.uint8), left, top)
        if part is not None:
            part.alone = g.alone
            parts.append(part)
    return parts


def _with_fringes(mines: list[np.ndarray], faints: list[np.ndarray]) -> list[np.ndarray]:
    """Each ``mines[k]`` (a group's ink, in its window) with the pixels of ``faints[k]`` (faint ink,
    not the group's) reached from it through faint pixels, as far as FRINGE pixels (8-connected).

    All the groups at once, their windows stacked and packed 64 pixels to a word, so that each of
    the FRINGE steps of growth is a few operations on a small array."""
    height = max(m.shape[0] for m in mines)
    width = max(m.shape[1] for m in mines)
    words = -(-width // 64)
    stack = np.zeros((2, len(mines), height, 64 * words), bool)
    for k, (m, f) in enumerate(zip(mines, faints)):
        stack[0, k, : m.shape[0], : m.shape[1]] = m
        stack[1, k, : f.shape[0], : f.shape[1]] = f
    # Bit j of word w of a row is the row's pixel 64 w + j (little-endian bytes and bits).
    mine, faint = np.packbits(stack, axis=-1, bitorder="little").view("<u8")
    one, top = np.uint64(1), np.uint64(63)
    for _ in range(FRINGE):
        grown = mine | (mine << one) | (mine >> one)  # a pixel to each side, within a word
        grown[..., 1:] |= mine[..., :-1] >> top  # and across words
        grown[..., :-1] |= mine[..., 1:] << top
        tall = grown.copy()  # a pixel up and down
        tall[:, 1:] |= grown[:, :-1]
        tall[:, :-1] |= grown[:, 1:]
        tall &= faint
        if not tall.any():
            break
        mine |= tall
        faint &= ~tall
    grown = np.unpackbits(mine.view(np.uint8), axis=-1, bitorder="little").astype(bool)
    return [grown[k, : m.shape[0], : m.shape[1]] for k, m in enumerate(mines)]


def read_number(image: np.ndarray, predictor=None) -> NumberReading:
    """The digits in ``image`` (2-D uint8, white ink on black, any size), written left to right.

    ``predictor`` (default: the bundled model) needs ``predict_batch_checked`` (the probabilities
    and ``is_digit`` of a batch from one forward pass) and ``classes``. ValueError for an image that is not 2-D uint8 or that holds more than MAX_MARKS
    separate marks (noise, a pattern), EmptyImageError for one without ink (as :func:`to_mnist`).
    """
    image = _checked(image)
    if predictor is None:
        from .inference import Predictor

        predictor = Predictor.default()
    parts = sorted(_segment(predictor, _parts(image)), key=lambda p: (p.box[0] + p.box[2]) / 2)
    digits = tuple(
        DigitReading(
            box=p.box,
            label=int(predictor.classes[int(np.argmax(p.probabilities))]),
            probabilities=np.asarray(p.probabilities, dtype=np.float32),
            is_digit=p.is_digit,
            x28=p.x28,
        )
        for p in parts
    )
    return NumberReading("".join(str(d.label) for d in digits), digits)
