"""Export parameters: what a researcher may ask for, checked before anything is written.

    {
      "formats": ["parquet"],            # parquet is always written; "csv" and/or "jsonl" are added on request
      "grid": [5, 5],                    # valence bins x arousal bins of the 2-D histogram over [-1, 1]^2
      "splits": {"train": 0.8, "validation": 0.1, "test": 0.1},   # fractions, each >= 0, summing to 1
      "split_seed": 0,                   # with the fractions, fixes every split assignment
      "include_free_text": false,        # context notes and cannot-judge reasons (off: those columns are null)
      "include_media": false,            # copy clips whose participants consented to sharing into media/
      "stable_salt": false               # false: annotator/participant ids salted per export; true: one salt
                                         # per study, the same across a series of releases
    }

Unknown keys, wrong types and out-of-range values raise ValidationFailed naming each bad field; nothing is
created. `parse_parameters({})` gives the defaults.
"""

from __future__ import annotations

import math
from typing import Any

from labeling.errors import ValidationFailed

FORMATS = ("parquet", "csv", "jsonl")
SPLITS = ("train", "validation", "test")
GRID_MIN, GRID_MAX = 2, 20  # bins per dimension
SEED_MAX = 2**31 - 1

DEFAULTS: dict[str, Any] = {
    "formats": ["parquet"],
    "grid": [5, 5],
    "splits": {"train": 0.8, "validation": 0.1, "test": 0.1},
    "split_seed": 0,
    "include_free_text": False,
    "include_media": False,
    "stable_salt": False,
}


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def parse_parameters(data: Any) -> dict[str, Any]:
    """The normalised parameters (defaults filled in), or ValidationFailed with one message per bad field."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValidationFailed(
            "Export parameters must be a JSON object.", {"parameters": "must be an object"}
        )
    errors: dict[str, str] = {}
    unknown = sorted(str(k) for k in data if k not in DEFAULTS)
    if unknown:
        errors["parameters"] = f"unknown parameters: {', '.join(unknown)} (known: {', '.join(DEFAULTS)})"
    out = {**DEFAULTS, **{k: v for k, v in data.items() if k in DEFAULTS}}

    formats = out["formats"]
    if isinstance(formats, str):
        formats = [f.strip() for f in formats.split(",") if f.strip()]
    if not isinstance(formats, list) or not all(isinstance(f, str) for f in formats):
        errors["formats"] = f"must be a list of formats from {', '.join(FORMATS)}"
    elif bad := sorted(set(formats) - set(FORMATS)):
        errors["formats"] = f"unknown formats: {', '.join(bad)} (known: {', '.join(FORMATS)})"
    else:
        out["formats"] = [f for f in FORMATS if f in {"parquet", *formats}]

    grid = out["grid"]
    if isinstance(grid, int) and not isinstance(grid, bool):
        grid = [grid, grid]
    if (
        not isinstance(grid, list)
        or len(grid) != 2
        or not all(_whole(g) and GRID_MIN <= g <= GRID_MAX for g in grid)
    ):
        errors["grid"] = (
            f"must be [valence bins, arousal bins], each a whole number from {GRID_MIN} to {GRID_MAX} "
            f"(at most {GRID_MAX * GRID_MAX} cells)"
        )
    else:
        out["grid"] = list(grid)

    splits = out["splits"]
    if not isinstance(splits, dict) or set(splits) != set(SPLITS):
        errors["splits"] = "must give a fraction for each of train, validation and test"
    elif not all(_number(splits[s]) and 0 <= splits[s] <= 1 for s in SPLITS):
        errors["splits"] = "each fraction must be a number from 0 to 1"
    elif not math.isclose(sum(splits[s] for s in SPLITS), 1.0, abs_tol=1e-9):
        errors["splits"] = f"the fractions must sum to 1 (they sum to {sum(splits[s] for s in SPLITS):g})"
    else:
        out["splits"] = {s: float(splits[s]) for s in SPLITS}

    if not (_whole(out["split_seed"]) and 0 <= out["split_seed"] <= SEED_MAX):
        errors["split_seed"] = f"must be a whole number from 0 to {SEED_MAX}"
    for key in ("include_free_text", "include_media", "stable_salt"):
        if not isinstance(out[key], bool):
            errors[key] = "must be true or false"
    if errors:
        raise ValidationFailed("The export parameters are not valid: nothing was started.", errors)
    return out
