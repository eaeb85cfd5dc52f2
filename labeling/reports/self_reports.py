"""The self-reports loader: a study's self-reports that count (labeling.selectors.self_reports_for_analysis,
the one rule: never filtered here) read into parallel numpy arrays for the perceived-vs-experienced section."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labeling.models import Study
from labeling.selectors import self_reports_for_analysis


@dataclass
class StudySelfReports:
    """A study's self-reports as parallel arrays, one entry per report in id order."""

    ids: np.ndarray  # N report ids
    clip_ids: np.ndarray  # N: the clip each report is of
    start_s: np.ndarray  # N floats, nan for a whole-clip report
    end_s: np.ndarray
    values: dict[str, np.ndarray]  # dimension -> N floats on [-1, 1], nan where the report left it out
    participant_ids: np.ndarray  # N: the reporting participant
    clip_participant: dict[int, int | None]  # each reported clip's own participant (the filmed person)
    participant_codes: dict[int, str]  # pseudonymous codes of the participants above
    clip_names: dict[int, str]

    @property
    def watermark(self) -> dict[str, int]:
        last = int(self.ids.max()) if self.ids.size else 0
        return {"self_report_count": int(self.ids.size), "last_self_report_id": last}


def load_self_reports(*, study: Study) -> StudySelfReports:
    """Read the study's self-reports that count (one query)."""
    rows = list(
        self_reports_for_analysis(study=study)
        .order_by("id")
        .values_list(
            "id",
            "clip_id",
            "start_s",
            "end_s",
            "valence",
            "arousal",
            "participant_id",
            "participant__code",
            "clip__participant_id",
            "clip__participant__code",
            "clip__original_name",
        )
    )
    cols = list(zip(*rows, strict=True)) if rows else [()] * 11

    def floats(i: int) -> np.ndarray:
        return np.array([np.nan if v is None else v for v in cols[i]], dtype=float)

    codes = {pid: code for pid, code in zip(cols[6], cols[7], strict=True)}
    codes.update({pid: code for pid, code in zip(cols[8], cols[9], strict=True) if pid is not None})
    return StudySelfReports(
        ids=np.array(cols[0], dtype=np.int64),
        clip_ids=np.array(cols[1], dtype=np.int64),
        start_s=floats(2),
        end_s=floats(3),
        values={"valence": floats(4), "arousal": floats(5)},
        participant_ids=np.array(cols[6], dtype=np.int64),
        clip_participant=dict(zip(cols[1], cols[8], strict=True)),
        participant_codes=codes,
        clip_names=dict(zip(cols[1], cols[10], strict=True)),
    )
