"""Withdrawal, on the exports side (labeling sends, exports answers: labeling/hooks.py, exports/receivers.py).

- When a participant is withdrawn, or an annotator's labels are, every export of the study that holds their
  data is marked (Export.withdrawn_data_at, withdrawn_note: a date and what kind, never who). Its downloads
  are then refused with the note, and the researcher can delete it. Which exports hold the data, erring on
  the side of marking:
  - a finished export holds a participant's data if any of their clips existed when it finished (its build
    read the study's clips before then), and an annotator's if any of their labels is at or below its
    watermark (the build reads labels with id <= watermark_last_id);
  - a running export whose build began before the withdrawal is judged the same way (its reads may have
    begun before the withdrawal committed);
  - a pending export, or one whose build began after the withdrawal, is left alone: the build reads the
    labels that count (labeling.selectors.annotations_for_analysis) when it runs, so it leaves them out;
  - and when a build finishes, the withdrawals made since it began are applied to it once more
    (exports_mark_withdrawn_during_build), which closes the race of a withdrawal committing just as a build
    is claimed and takes its snapshot.
  A reinstatement does not un-mark anything.
- An annotator's withdrawal can be undone until an export of the study is built (or being built) after it:
  such an export left those labels out, and a dataset released without them cannot take them back.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Coalesce, Now
from django.utils import timezone

from labeling import hooks
from labeling.errors import Conflict
from labeling.models import Annotation, AnnotatorEvent, Clip, ParticipantEvent

from .models import Export

logger = logging.getLogger(__name__)

NOTES = {
    hooks.PARTICIPANT: "Holds data of a participant who withdrew on {date}; build a new export.",
    hooks.ANNOTATOR: "Holds ratings of an annotator whose labels were withdrawn on {date}; build a new export.",
}


def _holding(kind: str, *, study_id: int, subject_id: int):
    """A condition on exports: holds the subject's data (see the module's docstring)."""
    if kind == hooks.PARTICIPANT:
        built = Coalesce(OuterRef("finished_at"), Now())
        data = Clip.objects.filter(study_id=study_id, participant_id=subject_id, created_at__lte=built)
    elif kind == hooks.ANNOTATOR:
        data = Annotation.objects.filter(
            study_id=study_id, annotator_id=subject_id, id__lte=OuterRef("watermark_last_id")
        )
    else:
        raise ValueError(f"unknown kind of withdrawal: {kind!r}")
    return Exists(data)


def exports_mark_withdrawn(
    *, kind: str, study_id: int, subject_id: int, at: datetime, export_id: int | None = None
) -> int:
    """Mark the study's exports (or only `export_id`) that hold the data of a participant (`kind`
    "participant", `subject_id` their id) or of an annotator ("annotator", their user id) withdrawn at `at`.
    Exports already marked keep their first note. Returns how many were marked. Idempotent."""
    read_before = Q(status=Export.Status.DONE) | Q(status=Export.Status.RUNNING) & (
        Q(started_at__lt=at) | Q(started_at__isnull=True)
    )
    note = NOTES[kind].format(date=f"{timezone.localtime(at):%Y-%m-%d}")
    exports = Export.objects.filter(read_before, study_id=study_id, withdrawn_data_at__isnull=True)
    if export_id is not None:
        exports = exports.filter(pk=export_id)
    marked = exports.filter(_holding(kind, study_id=study_id, subject_id=subject_id)).update(
        withdrawn_data_at=at, withdrawn_note=note
    )
    if marked:
        logger.info("study %s: %s export(s) marked as holding withdrawn %s data", study_id, marked, kind)
    return marked


def exports_mark_withdrawn_during_build(*, export_id: int) -> int:
    """After a build finished: apply to it the withdrawals made since it began (its reads may have begun
    before they committed), oldest first. Returns how many marks were made (0 or 1)."""
    export = Export.objects.filter(pk=export_id, status=Export.Status.DONE).first()
    if export is None or export.started_at is None:
        return 0
    since = {"action": "withdrawn", "at__gte": export.started_at}
    events = [
        (at, hooks.PARTICIPANT, subject)
        for subject, at in ParticipantEvent.objects.filter(
            participant__study_id=export.study_id, **since
        ).values_list("participant_id", "at")
    ] + [
        (at, hooks.ANNOTATOR, subject)
        for subject, at in AnnotatorEvent.objects.filter(study_id=export.study_id, **since).values_list(
            "annotator_id", "at"
        )
    ]
    marked = 0
    for at, kind, subject in sorted(events):
        marked += exports_mark_withdrawn(
            kind=kind, study_id=export.study_id, subject_id=subject, at=at, export_id=export.pk
        )
    return marked


def export_reinstatement_check(*, study_id: int, withdrawn_at: datetime) -> None:
    """Conflict when a withdrawal made at `withdrawn_at` can no longer be undone: an export of the study was
    built, or is being built, after it (failed builds do not count)."""
    since = (
        Export.objects.filter(study_id=study_id)
        .filter(Q(status__in=Export.OPEN) | Q(status=Export.Status.DONE, finished_at__gte=withdrawn_at))
        .order_by("version")
        .first()
    )
    if since is not None:
        when = (
            "is being built"
            if since.status in Export.OPEN
            else f"was built on {timezone.localtime(since.finished_at):%Y-%m-%d}"
        )
        raise Conflict(
            f"Export v{since.version} of this study {when} after the withdrawal, without these labels: the "
            "withdrawal can no longer be undone."
        )
