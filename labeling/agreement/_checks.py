"""Input checks shared by the agreement functions: clear ValueErrors, never silent coercion."""

import math

import numpy as np

LEVELS = ("nominal", "ordinal", "interval", "ratio")


def as_ratings(data, *, name: str = "data", min_raters: int = 2) -> np.ndarray:
    """Return `data` as a float raters × units array (nan = missing), or raise a ValueError saying what is wrong."""
    try:
        arr = np.asarray(data, dtype=float)
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


def check_level(level: str) -> str:
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}; got {level!r}")
    return level


def as_pair(x, y) -> tuple[np.ndarray, np.ndarray]:
    """Two equally long 1-D float arrays with the positions where either is nan removed."""
    try:
        a = np.asarray(x, dtype=float)
        b = np.asarray(y, dtype=float)
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


def json_safe(value):
    """Plain JSON types for storing a result: numpy scalars and arrays become floats and lists, and an
    undefined value (nan, ±inf) becomes None (PostgreSQL's jsonb and strict JSON have no NaN)."""
    if isinstance(value, dict):
        return {(k if isinstance(k, str) else str(k)): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
