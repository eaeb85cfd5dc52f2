"""Agreement report sections that depend on the scheme version each rating was given under: context tags
(a tag only counts where the rating's scheme version offered it) and the scheme versions in use (with a
warning when they use different instruments, and α within each version).

- Per-tag α: the presence/absence of tag t is a missing value (not an absence) for every rating whose
  scheme version did not offer t, so only raters who could choose the tag count.
- Set α (MASI, Jaccard): over the tags common to all scheme versions in use (each rating's set cut down to
  them), so a tag one version lacks cannot make two sets differ. result["tags"]["set_alpha_scope"] says so.
"""

from __future__ import annotations

import numpy as np

from labeling import agreement as stats
from labeling.reports.layout import column_index, slot_matrix
from labeling.reports.ratings import StudyRatings
from labeling.scheme import allowed_tags


def _schemes(r: StudyRatings) -> tuple[np.ndarray, list[dict]]:
    """Each rating's index into the scheme list, and the list ({"version", "spec"}); one unknown version
    when the ratings carry none (arrays built by hand)."""
    if r.scheme is None or not r.schemes:
        return np.zeros(r.ann_ids.size, dtype=np.intp), [{"version": None, "spec": None}]
    return r.scheme, r.schemes


def in_use(r: StudyRatings, mask: np.ndarray | None = None) -> list[int]:
    """Indices of the scheme versions that have ratings (among `mask`), oldest first."""
    scheme, schemes = _schemes(r)
    used = np.unique(scheme if mask is None else scheme[mask])
    return sorted((int(i) for i in used), key=lambda i: schemes[i]["version"] or 0)


def _instrument(spec: dict | None) -> tuple[str | None, int | None]:
    if not spec:
        return None, None
    instrument = spec.get("instrument")
    return instrument, None if instrument == "slider" else spec.get("points")


def scheme_versions(r: StudyRatings) -> tuple[list[dict], str | None]:
    """The scheme versions with ratings ({"version", "instrument", "points", "n_ratings"}; points is null
    for a slider) and a warning when they do not all use the same instrument and points."""
    scheme, schemes = _schemes(r)
    counts = np.bincount(scheme, minlength=len(schemes))
    rows = []
    for i in in_use(r):
        instrument, points = _instrument(schemes[i]["spec"])
        rows.append(
            {
                "version": schemes[i]["version"],
                "instrument": instrument,
                "points": points,
                "n_ratings": int(counts[i]),
            }
        )
    kinds = {(row["instrument"], row["points"]) for row in rows}
    if len(kinds) < 2:
        return rows, None
    listed = ", ".join(
        f"v{row['version']}: {row['instrument']}{f' {row["points"]}-point' if row['points'] else ''}"
        f" ({row['n_ratings']} ratings)"
        for row in rows
    )
    warning = (
        f"Mixed instruments: the ratings come from {len(rows)} scheme versions that measure differently "
        f"({listed}). α and ICC pool them after mapping each instrument linearly to [-1, 1], which assumes "
        "the scales are equivalent; the ordinal α is not interpretable across them. See α within each "
        "version (by_scheme_version)."
    )
    return rows, warning


def by_scheme_version(r: StudyRatings, dim: str) -> list[dict]:
    """Interval α of `dim` within each scheme version in use (no bootstrap); [] with one version."""
    scheme, schemes = _schemes(r)
    versions = in_use(r)
    if len(versions) < 2:
        return []
    v = r.values[dim]
    out = []
    for i in versions:
        use = ~np.isnan(v) & (scheme == i)
        n = np.bincount(r.clip[use], minlength=r.clip_ids.size)
        pairable = n >= 2
        alpha = None
        if pairable.any():
            try:
                alpha = stats.krippendorff_alpha(slot_matrix(r, v, use, column_index(pairable)), "interval")
            except ValueError:
                alpha = None
        out.append(
            {
                "version": schemes[i]["version"],
                "alpha_interval": alpha,
                "n_ratings": int(use.sum()),
                "n_pairable_clips": int(pairable.sum()),
            }
        )
    return out


def _cut(tags: np.ndarray, mask: np.ndarray, keep: frozenset) -> np.ndarray:
    """The tag sets of the masked ratings cut down to `keep` (None elsewhere)."""
    out = np.empty(tags.size, dtype=object)
    cache: dict[frozenset, frozenset] = {}
    for i in np.flatnonzero(mask):
        s = tags[i]
        cut = cache.get(s)
        if cut is None:
            cut = cache[s] = s & keep
        out[i] = cut
    return out


def tags_section(r: StudyRatings) -> dict:
    scheme, schemes = _schemes(r)
    judged = ~r.cannot_judge
    n = np.bincount(r.clip[judged], minlength=r.clip_ids.size)
    versions = in_use(r, judged)
    offered = {i: allowed_tags(schemes[i]["spec"]) if schemes[i]["spec"] else None for i in versions}
    known = set().union(*(s for s in offered.values() if s))

    def offering(tag: str) -> tuple[int, ...]:  # a tag no version lists (or no spec known): offered by all
        return tuple(i for i in versions if offered[i] is None or tag not in known or tag in offered[i])

    patterns: dict[tuple[int, ...], list[str]] = {}
    for tag in r.vocabulary:
        patterns.setdefault(offering(tag), []).append(tag)
    every = tuple(versions)
    common = patterns.get(every, [])
    out = {
        "per_tag": {},
        "set_alpha": {"masi": None, "jaccard": None},
        "set_alpha_scope": {
            "tags": "common to all scheme versions in use" if len(versions) > 1 else "all tags of the scheme",
            "n_tags": len(common),
            "scheme_versions": [schemes[i]["version"] for i in versions],
        },
        "n_pairable_clips": int((n >= 2).sum()),
    }
    if not (n >= 2).any():
        return out
    used = set().union(*(t for t in r.tags[judged] if t))
    per_tag: dict[str, dict] = {}
    for pattern, tags in patterns.items():
        mask = judged & np.isin(scheme, pattern)
        m = np.bincount(r.clip[mask], minlength=r.clip_ids.size) >= 2
        shown = [schemes[i]["version"] for i in pattern]
        if not m.any():
            per_tag.update(
                {t: {"alpha": None, "n_present": 0, "n_ratings": 0, "scheme_versions": shown} for t in tags}
            )
            continue
        keep = frozenset(tags)
        values = r.tags if used <= keep else _cut(r.tags, mask, keep)
        data = slot_matrix(r, values, mask, column_index(m), fill=None)
        for tag, value in stats.per_tag_alpha(data, vocabulary=tags).items():
            per_tag[tag] = {**value.as_dict(), "scheme_versions": shown}
    out["per_tag"] = {tag: per_tag[tag] for tag in r.vocabulary}
    if common:
        keep = frozenset(common)
        values = r.tags if used <= keep else _cut(r.tags, judged, keep)
        data = slot_matrix(r, values, judged, column_index(n >= 2), fill=None)
        out["set_alpha"] = {d: stats.set_alpha(data, distance=d) for d in ("masi", "jaccard")}
    return out
