"""Results as plain JSON: what the agreement report stores and the API returns."""

import dataclasses
import math
from collections.abc import Mapping
from typing import Any, ClassVar, cast

import numpy as np

type Json = None | bool | int | float | str | list[Json] | dict[str, Json]


def json_safe(value: object) -> Json:
    """Plain JSON types for storing a result: numpy scalars and arrays become Python numbers and lists, tuples
    become lists, keys become strings, and an undefined value (nan, ±inf) becomes None (PostgreSQL's jsonb
    and strict JSON have no NaN). Anything else is returned as it is.

    >>> json_safe({"alpha": np.float64("nan"), "n": np.int64(12), 3: (np.array([0.5, np.inf]), True)})
    {'alpha': None, 'n': 12, '3': [[0.5, None], True]}
    """
    if isinstance(value, Mapping):
        return {(k if isinstance(k, str) else str(k)): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return cast(Json, value)  # a str, int, bool, None, finite float, or something json.dumps will judge


class JsonResult:
    """Mixin for the result dataclasses: ``as_dict()`` is the result as plain JSON (see `json_safe`)."""

    __dataclass_fields__: ClassVar[dict[str, Any]]  # (set on the dataclasses that use this mixin)

    def as_dict(self) -> dict[str, Json]:
        return {name: json_safe(value) for name, value in dataclasses.asdict(self).items()}
