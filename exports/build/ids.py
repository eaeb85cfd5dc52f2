"""Pseudonymous ids and split assignment.

Salted ids: "a" + 16 hex characters (annotators) and "p" + 16 hex (participants), the first 64 bits of
HMAC-SHA256(salt, "annotator:<user id>") / ("participant:<id>"). The salt is the export's own random secret
(Export.salt, never written anywhere) unless the researcher asks for a stable salt: then it is derived from
settings.SECRET_KEY and the study id, the same for every export of the study.

The trade-off of the stable salt: the same person keeps the same id across a series of releases, so a
model or an analysis can follow an annotator (or a participant) from one version to the next; but anyone
holding two releases can link them, and whoever learns SECRET_KEY can recompute every id of the study by
trying the (small, sequential) database ids. Rotating SECRET_KEY changes the stable ids. The default (a salt
per export) makes ids of different exports unlinkable.

Splits are assigned per filmed participant (per clip when there is none), by a seeded hash of
(seed, group) placed against the cumulative fractions. The group is the database id ("participant:<id>" or
"clip:<id>"), not the salted one, so the assignment depends only on the seed and the fractions: the same
in every version of the study's export, whatever the salt; a participant's clips are all in one split.
"""

from __future__ import annotations

import hashlib
import hmac

import numpy as np
from django.conf import settings

from exports.tables import SPLIT_NAMES


def stable_salt(study_id: int) -> str:
    return hmac.new(
        settings.SECRET_KEY.encode(), f"exports-stable-salt:study:{study_id}".encode(), hashlib.sha256
    ).hexdigest()


def export_salt(*, study_id: int, parameters: dict, salt: str) -> bytes:
    """The salt the export's ids are made with."""
    return (stable_salt(study_id) if parameters.get("stable_salt") else salt).encode()


def salted(salt: bytes, kind: str, pk: int) -> str:
    """'a…' for an annotator, 'p…' for a participant: 1 letter + 16 hex."""
    return kind[0] + hmac.digest(salt, f"{kind}:{pk}".encode(), "sha256")[:8].hex()


class Salted:
    """Salted ids of one kind; with `keep`, each computed once per database id."""

    def __init__(self, salt: bytes, kind: str, *, keep: bool = True):
        self.salt, self.kind = salt, kind
        self.cache: dict[int, str] | None = {} if keep else None

    def __call__(self, pk: int) -> str:
        if self.cache is None:
            return salted(self.salt, self.kind, pk)
        out = self.cache.get(pk)
        if out is None:
            out = self.cache[pk] = salted(self.salt, self.kind, pk)
        return out

    def many(self, pks: np.ndarray) -> list[str]:
        return [self(int(pk)) for pk in pks]


def split_of(group: str, *, seed: int, fractions: dict[str, float]) -> int:
    """Index into SPLIT_NAMES of a split group ("participant:<id>" or "clip:<id>")."""
    digest = hashlib.sha256(f"affect-export-split:{seed}:{group}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2.0**64  # uniform in [0, 1)
    total = 0.0
    for i, name in enumerate(SPLIT_NAMES):
        total += fractions[name]
        if u < total:
            return i
    # float rounding left u above the sum: the last split with a non-zero fraction
    return max(i for i, name in enumerate(SPLIT_NAMES) if fractions[name] > 0)
