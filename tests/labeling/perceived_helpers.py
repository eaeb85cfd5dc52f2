"""Set-up for the perceived-vs-experienced tests: self-reports written straight to the database (their
import has its own tests), on a 9-point SAM scale unless told otherwise."""

from __future__ import annotations

from django.utils import timezone

from labeling.models import Participant, SelfReport


def participant(study, code: str, **fields) -> Participant:
    return Participant.objects.get_or_create(study=study, code=code, defaults=fields)[0]


def sam_raw(value: float | None, points: int = 9) -> float | None:
    """The raw 1..points value of a canonical value (exact for the scale's own points)."""
    return None if value is None else 1 + (value + 1) / 2 * (points - 1)


def self_report(
    clip, who: Participant, valence: float | None, arousal: float | None = None, *, window=None, **fields
) -> SelfReport:
    """A self-report of `who` on `clip` (canonical values), whole clip or `window` = (start_s, end_s)."""
    start, end = window or (None, None)
    values = {
        "study": clip.study,
        "participant": who,
        "clip": clip,
        "start_s": start,
        "end_s": end,
        "instrument": "sam",
        "scale_points": 9,
        "valence": valence,
        "arousal": arousal,
        "valence_raw": sam_raw(valence),
        "arousal_raw": sam_raw(arousal),
        "reported_at": timezone.now(),
        "source": SelfReport.Source.IMPORTED,
    }
    values.update(fields)
    return SelfReport.objects.create(**values)
