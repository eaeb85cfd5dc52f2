"""Set-up for agreement report tests: ratings written straight to the database (the submit path has its
own tests), in bulk, with clips' counters kept consistent with what the services would leave."""

from __future__ import annotations

import uuid
from collections import Counter

import numpy as np
from django.utils import timezone

from labeling.models import Annotation, Assignment, Clip, Role, SchemeVersion, Study
from tests.factories import ClipFactory, MembershipFactory, StudyFactory

# Three annotators (rows) by five clips, one rating missing: 14 ratings, the study the agreement-run tests share.
SMALL_STUDY = [[0.5, -0.5, 0.0, 1.0, -1.0], [0.25, -0.5, 0.25, 0.75, -0.75], [0.5, -0.25, 0.0, 1.0, np.nan]]


def rate_many(study: Study, rows: list[tuple], *, when=None, batch_size=None) -> list[Annotation]:
    """rows: (clip, user, valence, arousal, tags) with valence/arousal on -1..1, None for "cannot judge".

    Written in the order given (that is the submission order); clip counters move as submissions would.
    """
    scheme = SchemeVersion.objects.filter(study=study).order_by("-version").first()
    now = when or timezone.now()
    assignments = Assignment.objects.bulk_create(
        [
            Assignment(
                study=study,
                clip=clip,
                annotator=user,
                scheme_version=scheme,
                status=Assignment.Status.SUBMITTED,
                lease_expires_at=now,
                submitted_at=now,
            )
            for clip, user, *_ in rows
        ],
        batch_size=batch_size,
    )
    annotations = Annotation.objects.bulk_create(
        [
            Annotation(
                assignment=a,
                study=study,
                clip=clip,
                annotator=user,
                scheme_version=scheme,
                submission_id=uuid.uuid4(),
                valence=None if v is None else float(v),
                arousal=None if ar is None else float(ar),
                cannot_judge=v is None,
                cannot_judge_reason="too dark" if v is None else "",
                context_tags=sorted(tags or []),
                time_on_task_ms=1000,
                watched_fraction=1.0,
                created_at=now,
            )
            for a, (clip, user, v, ar, *rest) in zip(assignments, rows, strict=True)
            for tags in [rest[0] if rest else []]
        ],
        batch_size=batch_size,
    )
    per_clip = Counter(clip.pk for clip, *_ in rows)
    clips = list({clip.pk: clip for clip, *_ in rows}.values())
    for clip in clips:
        n = per_clip[clip.pk]
        clip.target_k = max(clip.target_k, clip.n_assigned + n)
        clip.n_assigned += n
        clip.n_submitted += n
    Clip.objects.bulk_update(clips, ["n_assigned", "n_submitted", "target_k"], batch_size=batch_size)
    return annotations


def study_from_matrix(data, *, study=None, dims=("valence", "arousal"), tags=None, overlap_k=None):
    """A study whose annotators (rows) rated clips (columns) as in `data` (nan/None = not rated),
    submitted column by column, row by row. `tags` (same shape) gives each rating's tag list."""
    arr = np.asarray(data, dtype=float)
    study = study or StudyFactory(overlap_k=overlap_k or arr.shape[0])
    users = [MembershipFactory(study=study, role=Role.ANNOTATOR).user for _ in range(arr.shape[0])]
    clips = ClipFactory.create_batch(arr.shape[1], study=study, target_k=study.overlap_k)
    rows = []
    for u in range(arr.shape[1]):
        for r in range(arr.shape[0]):
            if np.isnan(arr[r, u]):
                continue
            value = float(arr[r, u])
            cell_tags = tags[r][u] if tags is not None else []
            rows.append((clips[u], users[r], value, value if "arousal" in dims else 0.0, cell_tags))
    rate_many(study, rows)
    return study, users, clips
