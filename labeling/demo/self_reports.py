"""Generated self-reports for the demo study: what some of the filmed "people" said they felt, as if imported
from a file (source "imported"), so the study page and the clip pages show perceived beside experienced
affect.

Each report follows the same stimulus as the simulated observers (labeling.demo.simulate.clip_stimulus)
through the person's own gain, offset and noise, so self-reports correlate with the observers' ratings
without equalling them. Four of the six demo participants report (D-01..D-04): whole clips on the 9-point
SAM, some 1.5-second windows on the slider, one clip with windows only (so its value is the
window-length-weighted mean). Two of them (D-01, D-03) consented to their self-reports being exported.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np

# who reports on which of their clips, and how: "whole" (SAM 9-point) and/or "windows" (slider)
DEMO_SELF_REPORTING: dict[str, list[tuple[str, ...]]] = {
    "D-01": [("whole", "windows"), ("whole",)],
    "D-02": [("whole",), ("whole",)],
    "D-03": [("windows",), ("whole",)],
    "D-04": [("whole",), ()],
}
DEMO_SELF_REPORTS_EXPORT = {"D-01", "D-03"}  # consent_self_reports_export
DEMO_CONSENT_VERSION = "demo-consent-v1"
WINDOWS = ((0.0, 1.5), (1.5, 3.0))
NOTES = ["I was thinking about the call", "felt calm", "a bit on edge", "", "", "enjoyed it"]


@dataclass
class Person:
    gain: float
    offset: np.ndarray  # (valence, arousal) on the canonical scale
    noise: float
    rng: np.random.Generator


def _sam(value: float, points: int = 9) -> tuple[float, float]:
    """(raw scale point, canonical value) of a canonical value on a SAM scale."""
    from labeling.scheme import to_canonical

    raw = float(int(round(1 + (float(np.clip(value, -1, 1)) + 1) / 2 * (points - 1))))
    return raw, to_canonical({"instrument": "sam", "points": points}, raw)


def demo_self_reports(*, study, seed: int = 0) -> int:
    """Add the demo's self-reports (and the reporting participants' consent details) unless there are some
    already. Returns how many were created."""
    from django.db import transaction
    from django.utils import timezone

    from labeling.demo.simulate import clip_stimulus
    from labeling.models import Participant, SelfReport
    from labeling.scheme import allowed_tags

    if SelfReport.objects.filter(study=study).exists():
        return 0
    spec = study.schemes.order_by("-version").first().spec
    tags = sorted(allowed_tags(spec))
    now = timezone.now()
    rows = []
    with transaction.atomic():
        people = {p.code: p for p in Participant.objects.filter(study=study, code__in=DEMO_SELF_REPORTING)}
        for number, (code, plan) in enumerate(sorted(DEMO_SELF_REPORTING.items())):
            who = people.get(code)
            if who is None:
                continue
            rng = np.random.default_rng([seed, study.pk, number])
            person = Person(
                gain=float(rng.uniform(0.6, 1.0)),
                offset=np.array([rng.normal(0.15, 0.15), rng.normal(-0.1, 0.15)]),
                noise=0.2,
                rng=rng,
            )
            clips = list(study.clips.filter(participant=who).order_by("original_name"))
            for clip, kinds in zip(clips, plan, strict=False):
                stimulus = clip_stimulus(clip)
                truth = np.array([stimulus.valence, stimulus.arousal])
                for kind in kinds:
                    spans = [(None, None)] if kind == "whole" else list(WINDOWS)
                    for start, end in spans:
                        felt = np.clip(
                            truth * person.gain + person.offset + rng.normal(0, person.noise, 2), -1, 1
                        )
                        common = {
                            "study": study,
                            "participant": who,
                            "clip": clip,
                            "start_s": start,
                            "end_s": end,
                            "context_tags": [tags[int(rng.integers(len(tags)))]] if tags else [],
                            "context_note": str(rng.choice(NOTES)),
                            "reported_at": now - timedelta(days=30 - number, minutes=int(rng.integers(600))),
                            "source": SelfReport.Source.IMPORTED,
                            "external_id": f"demo-{code}-{clip.original_name}-{kind}-{start}",
                            "valence_confidence": int(rng.integers(3, 6)),
                            "arousal_confidence": int(rng.integers(2, 6)),
                            "confidence_points": 5,
                        }
                        if kind == "whole":
                            (v_raw, v), (a_raw, a) = _sam(felt[0]), _sam(felt[1])
                            rows.append(
                                SelfReport(**common, instrument="sam", scale_points=9, valence=v,
                                           arousal=a, valence_raw=v_raw, arousal_raw=a_raw)
                            )  # fmt: skip
                        else:
                            v, a = round(float(felt[0]), 3), round(float(felt[1]), 3)
                            rows.append(
                                SelfReport(**common, instrument="slider", valence=v, arousal=a,
                                           valence_raw=v, arousal_raw=a)
                            )  # fmt: skip
        SelfReport.objects.bulk_create(rows)
        Participant.objects.filter(study=study).update(
            consent_version=DEMO_CONSENT_VERSION, consent_date=(now - timedelta(days=60)).date()
        )
        Participant.objects.filter(study=study, code__in=DEMO_SELF_REPORTS_EXPORT).update(
            consent_self_reports_export=True
        )
    return len(rows)
