"""Agreement on context tags, where each rating is a set of tags.

Input representation: a raters × units array (a 2-D numpy object array, or a list of per-rater lists) whose
entries are ``None`` (this rater did not rate this unit) or a collection of hashable tags (set, frozenset,
list or tuple). An empty collection is a rating that chose no tag — it counts, unlike ``None``. A bare string
is refused (it would read as a set of characters).
"""

from collections.abc import Collection, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from ._alpha_sums import alpha_from_sums
from ._checks import NO_PAIRABLE, check_choice
from ._json import JsonResult

type TagSet = frozenset[Hashable]
type Tags = np.ndarray | Sequence[Sequence[Collection[Hashable] | None]]

SetDistance = Literal["jaccard", "masi"]
"""Distances between two tag sets: Jaccard's, or Passonneau's (2006) MASI."""

DISTANCES: tuple[SetDistance, ...] = get_args(SetDistance)


@dataclass(frozen=True)
class TagAlpha(JsonResult):
    """Krippendorff's α (nominal) for one tag's presence/absence, with how often the tag was used."""

    alpha: float  # nan when the tag never varies (used on all or none of the pairable ratings)
    n_present: int  # pairable ratings that include the tag
    n_ratings: int  # pairable ratings (units rated by two or more raters)


def tag_sets(tags: Tags) -> tuple[np.ndarray, list[list[TagSet | None]]]:
    """Validate the input; return the raters × units mask of present ratings and the ratings as frozensets."""
    if isinstance(tags, np.ndarray) and tags.ndim != 2:
        raise ValueError(f"tags must be a 2-D raters × units array, got shape {tags.shape}")
    rows = [list(r) for r in tags] if isinstance(tags, np.ndarray) else list(tags)
    if len(rows) < 2:
        raise ValueError(f"tags needs at least 2 raters (rows), got {len(rows)}")
    n_units = len(rows[0]) if isinstance(rows[0], list | tuple) else -1
    if n_units < 1 or any(not isinstance(r, list | tuple) or len(r) != n_units for r in rows):
        raise ValueError("tags must be raters × units: one list per rater, all of the same (non-zero) length")
    out: list[list[TagSet | None]] = []
    for row in rows:
        converted: list[TagSet | None] = []
        for cell in row:
            if cell is None:
                converted.append(None)
            elif isinstance(cell, str | bytes) or not isinstance(cell, set | frozenset | list | tuple):
                raise ValueError(f"each rating must be None or a collection of tags, got {cell!r}")
            else:
                converted.append(frozenset(cell))
        out.append(converted)
    mask = np.array([[c is not None for c in row] for row in out], dtype=bool)
    return mask, out


def _pairable_cells(tags: Tags) -> tuple[np.ndarray, list[list[TagSet | None]], np.ndarray]:
    mask, cells = tag_sets(tags)
    m = mask.sum(axis=0)
    keep = m >= 2
    if not keep.any():
        raise ValueError(NO_PAIRABLE)
    return mask[:, keep], [[row[u] for u in np.flatnonzero(keep)] for row in cells], m[keep].astype(float)


def per_tag_alpha(tags: Tags, vocabulary: Iterable[Hashable] | None = None) -> dict[Hashable, TagAlpha]:
    """Krippendorff's α (nominal) of each tag's presence (1) or absence (0) in the raters' tag sets.

    Source: Krippendorff (2011), nominal α on binary data: α_t = 1 − (n − 1)·Σ_u k_u(m_u − k_u)/(m_u − 1) /
    (K(n − K)), k_u = ratings of unit u with the tag, K = Σ k_u, n = pairable ratings. ``vocabulary``
    (default: every tag used, sorted) fixes the tags reported; a tag outside it is an error.

    Krippendorff's (2011) example A, binary data of 2 observers × 10 units (published α = .095), read as
    whether each observer tagged the unit "crowd":

    >>> c = [0, 1, 0, 0, 0, 0, 0, 0, 1, 0]
    >>> k = [1, 1, 1, 0, 0, 1, 0, 0, 0, 0]
    >>> tags = [[{"crowd"} if v else set() for v in row] for row in (c, k)]
    >>> result = per_tag_alpha(tags)
    >>> round(result["crowd"].alpha, 3), result["crowd"].n_present, result["crowd"].n_ratings
    (0.095, 6, 20)
    """
    mask, cells, m = _pairable_cells(tags)
    used = {t for row in cells for c in row if c is not None for t in c}
    vocab = sorted(used, key=repr) if vocabulary is None else list(vocabulary)
    index = {t: i for i, t in enumerate(vocab)}
    unknown = used - index.keys()
    if unknown:
        raise ValueError(f"tags not in the vocabulary: {sorted(unknown, key=repr)}")
    k = np.zeros((m.size, len(vocab)))
    for row in cells:
        for u, cell in enumerate(row):
            if cell:
                k[u, [index[t] for t in cell]] += 1.0
    n = float(m.sum())
    within = (k * (m[:, None] - k) / (m[:, None] - 1.0)).sum(axis=0)
    total = k.sum(axis=0)
    return {
        t: TagAlpha(alpha_from_sums(n, within[i], total[i] * (n - total[i])), int(total[i]), int(n))
        for i, t in enumerate(vocab)
    }


def set_distance(
    inter: np.ndarray, size_a: np.ndarray, size_b: np.ndarray, distance: SetDistance
) -> np.ndarray:
    """Jaccard distance 1 − |A∩B|/|A∪B|, or MASI 1 − J·M with M = 1 (A = B), 2/3 (one contains the
    other), 1/3 (they overlap), 0 (disjoint) (Passonneau 2006). Two empty sets are equal: distance 0."""
    union = size_a + size_b - inter
    jaccard: np.ndarray = np.divide(
        inter, union, out=np.ones(np.broadcast(inter, union).shape), where=union > 0
    )
    if distance == "jaccard":
        return 1.0 - jaccard
    equal = (inter == size_a) & (inter == size_b)
    subset = (inter == size_a) | (inter == size_b)
    monotonicity = np.where(equal, 1.0, np.where(subset, 2 / 3, np.where(inter > 0, 1 / 3, 0.0)))
    return 1.0 - jaccard * monotonicity


def set_alpha(tags: Tags, distance: SetDistance = "masi") -> float:
    """Krippendorff's α over tag sets with the Jaccard or MASI distance as δ (not squared).

    Sources: Krippendorff (2011) α with any distance; Passonneau (2006) LREC, "Measuring agreement on
    set-valued items (MASI)". Returns nan when all pairable tag sets are identical.

    With one tag per rating, two different sets are at distance 1 under either distance, so this is nominal
    α: Krippendorff's (2011) example B, 2 observers × 12 units (published nominal α = .692):

    >>> c = "a a b b d c c c e d d a".split()
    >>> k = "b a b b b c c c e d d d".split()
    >>> tags = [[{v} for v in row] for row in (c, k)]
    >>> round(set_alpha(tags, "masi"), 3), round(set_alpha(tags, "jaccard"), 3)
    (0.692, 0.692)
    >>> tags[0][0] = {"a", "b"}  # observer c adds "b" to unit 1, where k said "b": partial agreement
    >>> round(set_alpha(tags, "masi"), 3), round(set_alpha(tags, "jaccard"), 3)
    (0.726, 0.742)
    """
    check_choice("distance", distance, DISTANCES)
    mask, cells, m = _pairable_cells(tags)
    distinct = sorted({c for row in cells for c in row if c is not None}, key=lambda s: sorted(map(repr, s)))
    code = {s: i for i, s in enumerate(distinct)}
    vocab = sorted({t for s in distinct for t in s}, key=repr)
    tag_index = {t: i for i, t in enumerate(vocab)}
    members = np.zeros((len(distinct), max(len(vocab), 1)))
    for i, s in enumerate(distinct):
        members[i, [tag_index[t] for t in s]] = 1.0
    sizes = members.sum(axis=1)
    codes = np.array([[code[c] if c is not None else -1 for c in row] for row in cells], dtype=np.intp)
    counts = np.bincount(codes[mask], minlength=len(distinct)).astype(float)

    expected = 0.0
    for lo in range(0, len(distinct), 512):
        block = set_distance(
            members[lo : lo + 512] @ members.T, sizes[lo : lo + 512, None], sizes[None, :], distance
        )
        expected += float(counts[lo : lo + 512] @ block @ counts)
    within = np.zeros(m.size)
    for a in range(codes.shape[0]):
        for b in range(a + 1, codes.shape[0]):
            both = mask[a] & mask[b]
            ca, cb = codes[a, both], codes[b, both]
            inter = (members[ca] * members[cb]).sum(axis=1)
            within[both] += set_distance(inter, sizes[ca], sizes[cb], distance)
    return alpha_from_sums(float(m.sum()), float((within / (m - 1.0)).sum()), expected / 2.0)
