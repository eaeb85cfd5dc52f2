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
- When a participant takes back one consent scope that reaches exports (labeling.services.participant_update,
  kind "participant_scope"), the exports holding that data are marked the same way, with a note naming the
  scope:
  - labels_export: an export holds the participant's labels (and their clips' facts) if any of their clips
    existed when it finished (as for a withdrawal);
  - media_sharing: the same, for exports built with include_media (only those copy media);
  - self_reports_export: an export holds their self-reports if it was built while they consented to it
    (finished at or after the consent was last given back, or at any time if it never was: the consent has
    held since the participant was added) and any of their self-reports existed by then.
  Consent to annotation is about the queue, not exports: taking it away marks nothing.
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
from labeling.models import Annotation, AnnotatorEvent, Clip, ParticipantEvent, SelfReport

from .models import Export

logger = logging.getLogger(__name__)

NOTES = {
    hooks.PARTICIPANT: "Holds data of a participant who withdrew on {date}; build a new export.",
    hooks.ANNOTATOR: "Holds ratings of an annotator whose labels were withdrawn on {date}; build a new export.",
    hooks.PARTICIPANT_SCOPE: "Holds {what} of a participant who took back consent scope {scope} on {date}; "
    "build a new export.",
}
SCOPE_DATA = {
    "labels_export": "labels",
    "media_sharing": "media",
    "self_reports_export": "self-reports",
}


def _consent_since(*, participant_id: int, scope: str, at: datetime) -> datetime | None:
    """When `scope` was last given back before `at` (None: never taken away and given back, so it held since
    the participant was added)."""
    return (
        ParticipantEvent.objects.filter(
            participant_id=participant_id, scope=scope, action="reinstated", at__lt=at
        )
        .order_by("-at")
        .values_list("at", flat=True)
        .first()
    )


def _holding(
    kind: str, *, study_id: int, subject_id: int, scope: str | None = None, at: datetime | None = None
):
    """A condition on exports: holds the subject's data (see the module's docstring)."""
    built = Coalesce(OuterRef("finished_at"), Now())
    if kind == hooks.PARTICIPANT or kind == hooks.PARTICIPANT_SCOPE and scope == "labels_export":
        data = Clip.objects.filter(study_id=study_id, participant_id=subject_id, created_at__lte=built)
    elif kind == hooks.PARTICIPANT_SCOPE and scope == "media_sharing":
        data = Clip.objects.filter(study_id=study_id, participant_id=subject_id, created_at__lte=built)
        return Exists(data) & Q(parameters__include_media=True)
    elif kind == hooks.PARTICIPANT_SCOPE and scope == "self_reports_export":
        data = SelfReport.objects.filter(study_id=study_id, participant_id=subject_id, created_at__lte=built)
        since = _consent_since(participant_id=subject_id, scope=scope, at=at or timezone.now())
        if since is not None:
            return Exists(data) & (Q(finished_at__gte=since) | Q(finished_at__isnull=True))
    elif kind == hooks.ANNOTATOR:
        data = Annotation.objects.filter(
            study_id=study_id, annotator_id=subject_id, id__lte=OuterRef("watermark_last_id")
        )
    else:
        raise ValueError(f"unknown kind of withdrawal: {kind!r} (scope {scope!r})")
    return Exists(data)


def exports_mark_withdrawn(
    *,
    kind: str,
    study_id: int,
    subject_id: int,
    at: datetime,
    export_id: int | None = None,
    scope: str | None = None,
) -> int:
    """Mark the study's exports (or only `export_id`) that hold the data of a participant (`kind`
    "participant", `subject_id` their id) or of an annotator ("annotator", their user id) withdrawn at `at`,
    or the data of one consent `scope` a participant took back ("participant_scope"; a scope that reaches
    no export marks nothing). Exports already marked keep their first note. Returns how many were marked.
    Idempotent."""
    if kind == hooks.PARTICIPANT_SCOPE and scope not in SCOPE_DATA:
        return 0
    read_before = Q(status=Export.Status.DONE) | Q(status=Export.Status.RUNNING) & (
        Q(started_at__lt=at) | Q(started_at__isnull=True)
    )
    note = NOTES[kind].format(
        date=f"{timezone.localtime(at):%Y-%m-%d}", scope=scope, what=SCOPE_DATA.get(scope or "", "")
    )
    exports = Export.objects.filter(read_before, study_id=study_id, withdrawn_data_at__isnull=True)
    if export_id is not None:
        exports = exports.filter(pk=export_id)
    holding = _holding(kind, study_id=study_id, subject_id=subject_id, scope=scope, at=at)
    marked = exports.filter(holding).update(withdrawn_data_at=at, withdrawn_note=note)
    if marked:
        what = f"{kind} {scope}" if scope else kind
        logger.info("study %s: %s export(s) marked as holding withdrawn %s data", study_id, marked, what)
    return marked


def exports_mark_withdrawn_during_build(*, export_id: int) -> int:
    """After a build finished: apply to it the withdrawals made since it began (its reads may have begun
    before they committed), oldest first. Returns how many marks were made (0 or 1)."""
    export = Export.objects.filter(pk=export_id, status=Export.Status.DONE).first()
    if export is None or export.started_at is None:
        return 0
    since = {"action": "withdrawn", "at__gte": export.started_at}
    events = [
        (at, hooks.PARTICIPANT, subject, None)
        if scope == ParticipantEvent.ALL
        else (at, hooks.PARTICIPANT_SCOPE, subject, scope)
        for subject, at, scope in ParticipantEvent.objects.filter(
            Q(scope=ParticipantEvent.ALL) | Q(scope__in=SCOPE_DATA),
            participant__study_id=export.study_id,
            **since,
        ).values_list("participant_id", "at", "scope")
    ] + [
        (at, hooks.ANNOTATOR, subject, None)
        for subject, at in AnnotatorEvent.objects.filter(study_id=export.study_id, **since).values_list(
            "annotator_id", "at"
        )
    ]
    marked = 0
    for at, kind, subject, scope in sorted(events, key=lambda e: (e[0], e[1], e[2], e[3] or "")):
        marked += exports_mark_withdrawn(
            kind=kind, study_id=export.study_id, subject_id=subject, at=at, export_id=export.pk, scope=scope
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
