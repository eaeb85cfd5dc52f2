"""Layouts for the agreement report (numpy only): a study's ratings as parallel arrays (labeling.reports.ratings.
StudyRatings) arranged into the rater-slot and raters × clips arrays the statistics take."""

from __future__ import annotations

from collections import Counter

import numpy as np

from labeling.reports.ratings import StudyRatings


def ranks_within(group: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """For each masked entry, its position among the masked entries of its group, in array order (-1 elsewhere)."""
    idx = np.flatnonzero(mask)
    g = group[idx]
    order = np.argsort(g, kind="stable")
    sorted_g = g[order]
    rank = np.empty(idx.size, dtype=np.intp)
    rank[order] = np.arange(idx.size) - np.searchsorted(sorted_g, sorted_g, side="left")
    out = np.full(group.size, -1, dtype=np.intp)
    out[idx] = rank
    return out


def spread(r: StudyRatings, dim: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per clip: number of ratings of `dim`, their mean and sample sd (nan where undefined)."""
    v = r.values[dim]
    valid = ~np.isnan(v)
    u = r.clip_ids.size
    c, x = r.clip[valid], v[valid]
    n = np.bincount(c, minlength=u)
    mean = np.divide(np.bincount(c, weights=x, minlength=u), n, out=np.full(u, np.nan), where=n > 0)
    dev = np.bincount(c, weights=(x - mean[c]) ** 2, minlength=u)
    sd = np.sqrt(np.divide(dev, n - 1, out=np.full(u, np.nan), where=n > 1))
    return n, mean, sd


def slot_matrix(r: StudyRatings, values: np.ndarray, use: np.ndarray, columns: np.ndarray, fill=np.nan):
    """Rows = the j-th used rating of a clip in submission order; columns = clips where `columns` >= 0."""
    slot = ranks_within(r.clip, use)
    use = use & (columns[r.clip] >= 0)
    rows = max(int(slot[use].max()) + 1 if use.any() else 0, 2)
    out = np.full((rows, int(columns.max()) + 1), fill, dtype=values.dtype)
    out[slot[use], columns[r.clip[use]]] = values[use]
    return out


def column_index(keep: np.ndarray) -> np.ndarray:
    """Column of each clip kept (in clip order), -1 for the others."""
    return np.where(keep, np.cumsum(keep) - 1, -1)


def crossed_block(r: StudyRatings, dim: str, pairable: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """The most common set of annotators rating a pairable clip together (ties: as np.unique orders their
    presence bits), their ratings on the pairable clips (members × clips, nan = not rated) and how many
    clips all of them rated. Sparse: never builds the raters × clips array."""
    valid = ~np.isnan(r.values[dim])
    use = valid & pairable[r.clip]
    order = np.lexsort((r.rater[use], r.clip[use]))
    c, a = r.clip[use][order], r.rater[use][order]
    groups = np.split(a, np.flatnonzero(np.diff(c)) + 1)
    counts = Counter(g.tobytes() for g in groups)
    top = max(counts.values())

    def bits(key: bytes) -> bytes:
        present = np.zeros(r.rater_ids.size, dtype=bool)
        present[np.frombuffer(key, dtype=a.dtype)] = True
        return np.packbits(present).tobytes()

    best = min((k for k, m in counts.items() if m == top), key=bits)
    members = np.zeros(r.rater_ids.size, dtype=bool)
    members[np.frombuffer(best, dtype=a.dtype)] = True
    mine = use & members[r.rater]
    full = int((np.bincount(r.clip[mine], minlength=r.clip_ids.size)[pairable] == members.sum()).sum())
    data = np.full((int(members.sum()), int(pairable.sum())), np.nan)
    row = np.cumsum(members) - 1
    data[row[r.rater[mine]], column_index(pairable)[r.clip[mine]]] = r.values[dim][mine]
    return members, data, full
