"""The study ratings loader: a study's ratings (the labels that count, see
labeling.selectors.annotations_for_analysis) read into parallel numpy arrays, the type every report module takes."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
from django.contrib.auth import get_user_model
from django.db.models import TextField
from django.db.models.functions import Cast

from labeling.models import Clip, SchemeVersion, Study
from labeling.selectors import annotations_for_analysis


@dataclass
class StudyRatings:
    """A study's ratings as parallel arrays, one entry per annotation in submission (id) order."""

    study_id: int
    n_clips: int  # clips in the study, withdrawn participants' left out
    clip_ids: np.ndarray  # the U clips with at least one annotation, ascending id
    clip_names: list[str]
    rater_ids: np.ndarray  # the R annotators, ascending id
    usernames: list[str]
    ann_ids: np.ndarray  # N
    clip: np.ndarray  # N indices into clip_ids
    rater: np.ndarray  # N indices into rater_ids
    values: dict[str, np.ndarray]  # dimension -> N floats, nan for "cannot judge"
    cannot_judge: np.ndarray  # N bools
    tags: np.ndarray  # N objects: frozenset of "group:tag", None for "cannot judge"
    vocabulary: list[str]
    scheme: np.ndarray | None = None  # N indices into schemes (None: unknown, one version)
    schemes: list[dict] | None = None  # the study's scheme versions, oldest first: {"version", "spec"}

    @property
    def watermark(self) -> dict[str, int]:
        last = int(self.ann_ids.max()) if self.ann_ids.size else 0
        return {"annotation_count": int(self.ann_ids.size), "last_annotation_id": last}


def _vocabulary(specs: list[dict], used: set[str]) -> list[str]:
    """Every "group:tag" of the study's scheme versions (newest first, in scheme order), then any other used."""
    vocab: dict[str, None] = {}
    for spec in reversed(specs):
        for group in spec.get("context_groups", []):
            for tag in group.get("tags", []):
                vocab[f"{group['name']}:{tag}"] = None
    return list(vocab) + sorted(used - vocab.keys())


def load_ratings(*, study: Study) -> StudyRatings:
    """Read the study's ratings (one query for the annotations, one for clips, one or two for names)."""
    rows = list(
        annotations_for_analysis(study=study)
        .order_by("id")
        .annotate(tags_json=Cast("context_tags", TextField()))  # decoded once per distinct tag list below
        .values_list(
            "id",
            "clip_id",
            "annotator_id",
            "valence",
            "arousal",
            "cannot_judge",
            "tags_json",
            "scheme_version_id",
        )
    )
    schemes = list(
        SchemeVersion.objects.filter(study=study).order_by("version").values("id", "version", "spec")
    )
    names = dict(
        Clip.objects.filter(study=study, withdrawn_at__isnull=True).values_list("id", "original_name")
    )
    cols = list(zip(*rows, strict=True)) if rows else [()] * 8
    scheme_index = {s.pop("id"): i for i, s in enumerate(schemes)}
    ann_ids = np.array(cols[0], dtype=np.int64)
    clip_ids, clip = np.unique(np.array(cols[1], dtype=np.int64), return_inverse=True)
    rater_ids, rater = np.unique(np.array(cols[2], dtype=np.int64), return_inverse=True)
    cannot_judge = np.array(cols[5], dtype=bool)
    tags = np.empty(len(rows), dtype=object)
    decoded = {text: frozenset(json.loads(text) or ()) for text in set(cols[6]) if text}
    tags[:] = [None if cj else decoded.get(t, frozenset()) for cj, t in zip(cols[5], cols[6], strict=True)]
    used = set().union(*(t for t in tags if t)) if rows else set()
    return StudyRatings(
        study_id=study.pk,
        n_clips=len(names),
        clip_ids=clip_ids,
        clip_names=[names.get(int(c), "") for c in clip_ids],
        rater_ids=rater_ids,
        usernames=_usernames(study, rater_ids),
        ann_ids=ann_ids,
        clip=clip.astype(np.intp),
        rater=rater.astype(np.intp),
        values={
            "valence": np.array(cols[3], dtype=float),
            "arousal": np.array(cols[4], dtype=float),
        },
        cannot_judge=cannot_judge,
        tags=tags,
        vocabulary=_vocabulary([s["spec"] for s in schemes], used),
        scheme=np.array([scheme_index[i] for i in cols[7]], dtype=np.intp),
        schemes=schemes,
    )


def _usernames(study: Study, rater_ids: np.ndarray) -> list[str]:
    users = get_user_model().objects
    names = dict(users.filter(memberships__study=study).values_list("id", "username"))
    missing = [int(i) for i in rater_ids if int(i) not in names]
    if missing:
        names.update(users.filter(pk__in=missing).values_list("id", "username"))
    return [names.get(int(i), "") for i in rater_ids]
