"""Shared helpers for the agreement tests: the reference examples and synthetic ratings."""

import json
from pathlib import Path

import numpy as np

# A copy of ../shared/reference/agreement_examples.json lives in tests/reference/ so a clone tests on its own;
# when the shared folder sits beside the repository, the copy must still equal it.
REPO_ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = REPO_ROOT / "tests" / "reference" / "agreement_examples.json"
SHARED_EXAMPLES = REPO_ROOT.parent / "shared" / "reference" / "agreement_examples.json"


def load_examples() -> list[dict]:
    """The published worked examples; a missing file is an error, never a skip."""
    return json.loads(EXAMPLES.read_text())


def as_array(rows) -> np.ndarray:
    return np.array([[np.nan if v is None else v for v in row] for row in rows], dtype=float)


def random_ratings(rng, raters, units, *, values=7, missing=0.25) -> np.ndarray:
    """Integer ratings 1..values with a share of missing ratings (few distinct values: krippendorff's limit)."""
    data = rng.integers(1, values + 1, (raters, units)).astype(float)
    data[rng.random(data.shape) < missing] = np.nan
    return data


def correlated_ratings(rng, raters, units, *, noise=1.0, missing=0.2, levels=None) -> np.ndarray:
    """Ratings that agree to a degree: a true score per unit plus rater bias and noise."""
    truth = rng.normal(size=units)
    data = truth + rng.normal(scale=0.3, size=(raters, 1)) + rng.normal(scale=noise, size=(raters, units))
    if levels is not None:
        data = np.clip(np.round(data * 1.5) + (levels + 1) // 2, 1, levels)
    data[rng.random(data.shape) < missing] = np.nan
    return data
