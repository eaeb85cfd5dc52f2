"""Input checks shared by the agreement functions: clear ValueErrors, never silent coercion."""

from collections.abc import Collection
from typing import Literal, get_args

import numpy as np
import numpy.typing as npt

Level = Literal["nominal", "ordinal", "interval", "ratio"]
"""Krippendorff's levels of measurement (the metric of differences), as the `krippendorff` package and R's
irr::kripp.alpha name them."""

LEVELS: tuple[Level, ...] = get_args(Level)

NO_PAIRABLE = "no unit has ratings from two or more raters: there are no pairable values to compare"


def as_ratings(data: npt.ArrayLike, *, name: str = "data", min_raters: int = 2) -> np.ndarray:
    """Return `data` as a float raters × units array (nan = missing), or raise a ValueError saying what is wrong."""
    try:
        arr = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{name} must be numeric ratings (use nan or None for a missing rating): {exc}"
        ) from None
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D raters × units array, got shape {arr.shape}")
    if arr.shape[0] < min_raters:
        raise ValueError(f"{name} needs at least {min_raters} raters (rows), got {arr.shape[0]}")
    if arr.shape[1] < 1:
        raise ValueError(f"{name} has no units (columns)")
    if np.isinf(arr).any():
        raise ValueError(f"{name} contains an infinite rating; use nan for a missing rating")
    return arr


def check_choice[T: str](name: str, value: T, choices: Collection[str]) -> T:
    """`value` if it is one of `choices`, else a ValueError naming them (the options are typed as literals,
    but callers without a type checker pass plain strings)."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
    return value


def check_level(level: Level) -> Level:
    return check_choice("level", level, LEVELS)


def check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")


def as_pair(x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Two equally long 1-D float arrays with the positions where either is nan removed."""
    try:
        a = np.asarray(x, dtype=np.float64)
        b = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"x and y must be numeric (nan = missing): {exc}") from None
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"x and y must be 1-D, got shapes {a.shape} and {b.shape}")
    if a.shape != b.shape:
        raise ValueError(f"x and y must have the same length, got {a.size} and {b.size}")
    if np.isinf(a).any() or np.isinf(b).any():
        raise ValueError("x and y must be finite (nan = missing)")
    keep = ~(np.isnan(a) | np.isnan(b))
    return a[keep], b[keep]


def complete_units(arr: np.ndarray, *, what: str) -> tuple[np.ndarray, int]:
    """Listwise deletion: keep the units (columns) rated by every rater; return them and how many were dropped."""
    keep = ~np.isnan(arr).any(axis=0)
    n_complete = int(keep.sum())
    if n_complete < 2:
        raise ValueError(
            f"{what} needs at least 2 units rated by every rater (units with a missing rating are dropped); "
            f"got {n_complete} of {arr.shape[1]}"
        )
    return arr[:, keep], arr.shape[1] - n_complete
