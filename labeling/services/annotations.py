"""Submitting a rating: validated against the scheme the annotator was shown, idempotent by submission id."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from labeling import selectors
from labeling.errors import Conflict, ValidationFailed
from labeling.models import Annotation, Assignment, Clip
from labeling.scheme import allowed_tags, check_raw, parse_number, to_canonical
from labeling.services import _pg
from labeling.services.assignments import ANNOTATOR_WITHDRAWN

# A clip counts as watched to the end above this fraction (players report the last frame a little early).
FULL_VIEW_FRACTION = 0.95
MAX_NOTE_CHARS = 2000
MAX_REASON_CHARS = 500


def _text(data: dict[str, Any], key: str, errors: dict[str, str]) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        errors[key] = "must be text"
        return ""
    return value.strip()


def rating_clean(
    *, spec: dict[str, Any], data: dict[str, Any], require_full_view: bool, cannot_judge_allowed: bool = True
) -> dict[str, Any]:
    """A rating body checked against a scheme `spec`: the field values of an Annotation (valence and arousal
    raw and canonical, confidence, context tags and note, "cannot judge" and its reason, time on task, how
    much was watched), or ValidationFailed with a message per field. The one validation of a rating: the
    annotators' submit and the participants' self-report (labeling.services.participant_links) both use it.
    `cannot_judge_allowed` False: "cannot judge" is refused (a self-report has no place for it)."""
    errors: dict[str, str] = {}
    out: dict[str, Any] = {}

    cannot_judge = data.get("cannot_judge", False)
    if not isinstance(cannot_judge, bool):
        errors["cannot_judge"] = "must be true or false"
        cannot_judge = False
    elif cannot_judge and not cannot_judge_allowed:
        errors["cannot_judge"] = "give your own rating: this form has no “cannot judge”"
        cannot_judge = False
    out["cannot_judge"] = cannot_judge
    reason = _text(data, "cannot_judge_reason", errors)
    if cannot_judge and not reason and "cannot_judge_reason" not in errors:
        errors["cannot_judge_reason"] = "say why the clip cannot be judged"
    if len(reason) > MAX_REASON_CHARS:
        errors["cannot_judge_reason"] = f"at most {MAX_REASON_CHARS} characters"
    out["cannot_judge_reason"] = reason

    for dim in ("valence", "arousal"):
        value = data.get(dim)
        if cannot_judge:
            if value not in (None, ""):
                errors[dim] = "leave empty when the clip cannot be judged"
            out[dim] = out[f"{dim}_raw"] = None
        else:
            raw, message = check_raw(spec, value) if value not in (None, "") else (None, "is required")
            if message:
                errors[dim] = message
            elif raw is not None:  # (check_raw gives a number or a message)
                out[f"{dim}_raw"] = raw
                out[dim] = to_canonical(spec, raw)
        conf = data.get(f"{dim}_confidence")
        if spec["ask_confidence"] and not cannot_judge:
            number = parse_number(conf)
            if number is None or number != int(number) or not 1 <= number <= spec["confidence_points"]:
                errors[f"{dim}_confidence"] = f"choose how sure you are, 1 to {spec['confidence_points']}"
            else:
                out[f"{dim}_confidence"] = int(number)
        else:
            out[f"{dim}_confidence"] = None

    tags = data.get("context_tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        errors["context_tags"] = "must be a list of tags"
    else:
        unknown = sorted(set(tags) - allowed_tags(spec))
        if unknown:
            errors["context_tags"] = f"not in this study's vocabulary: {', '.join(unknown)}"
        out["context_tags"] = sorted(set(tags))
    note = _text(data, "context_note", errors)
    if len(note) > MAX_NOTE_CHARS:
        errors["context_note"] = f"at most {MAX_NOTE_CHARS} characters"
    if note and not spec["context_note"]:
        errors["context_note"] = "this study does not ask for a note"
    out["context_note"] = note

    time_ms = parse_number(data.get("time_on_task_ms"))
    if time_ms is None or time_ms < 0 or time_ms > 24 * 3600 * 1000:
        errors["time_on_task_ms"] = "must be a number of milliseconds"
    else:
        out["time_on_task_ms"] = int(time_ms)
    watched = parse_number(data.get("watched_fraction"))
    if watched is None or not 0 <= watched <= 1:
        errors["watched_fraction"] = "must be a number from 0 to 1"
    else:
        out["watched_fraction"] = watched
        if require_full_view and not cannot_judge and watched < FULL_VIEW_FRACTION:
            errors["watched_fraction"] = "watch the clip to the end before rating it"
    if errors:
        raise ValidationFailed("The rating was not saved: please correct the marked fields.", errors)
    return out


def _clean(assignment: Assignment, data: dict[str, Any]) -> dict[str, Any]:
    """Field values for an Annotation, checked against the scheme the annotator was shown."""
    return rating_clean(
        spec=assignment.scheme_version.spec,
        data=data,
        require_full_view=assignment.study.require_full_view,
    )


def submission_uuid(value: Any) -> uuid.UUID:
    """A client-generated submission id, or ValidationFailed (annotations and self-reports alike)."""
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        raise ValidationFailed(
            "The rating was not saved: it needs a client-generated submission id.",
            {"submission_id": "must be a UUID generated by the client"},
        ) from None


def _replay(submission_id: uuid.UUID, assignment: Assignment) -> tuple[Annotation, bool]:
    """The first annotation made with this submission id, for a retry; Conflict if it was not this clip's."""
    existing = Annotation.objects.filter(submission_id=submission_id).first()
    if existing is not None and existing.assignment_id == assignment.pk:
        return existing, False
    if existing is not None:
        raise Conflict(
            "This submission id was already used for another clip.", {"submission_id": "already used"}
        )
    raise Conflict("This clip has already been rated; a rating cannot be submitted twice.")


class _AlreadyRated(Exception):
    pass


def annotation_submit(
    *, assignment: Assignment, data: dict[str, Any], user_agent: str = ""
) -> tuple[Annotation, bool]:
    """Store a rating. Returns (annotation, created); a retry with the same submission id returns the first.

    A label is never lost: if the lease expired and the clip went to others meanwhile, the label is still
    kept, and the clip's target grows by one to make room for it. Refused (Conflict) on such an expired lease
    once the annotator's labels are withdrawn from the study: the withdrawal ended it.
    """
    if not isinstance(data, dict):
        raise ValidationFailed(
            "The rating was not saved: send a JSON object.", {"non_field_errors": "not an object"}
        )
    submission_id = submission_uuid(data.get("submission_id"))
    if assignment.status == Assignment.Status.SUBMITTED:
        return _replay(submission_id, assignment)
    now = timezone.now()
    annotation = Annotation(
        assignment=assignment,
        study_id=assignment.study_id,
        clip_id=assignment.clip_id,
        annotator_id=assignment.annotator_id,
        scheme_version_id=assignment.scheme_version_id,
        submission_id=submission_id,
        user_agent=user_agent[:300],
        created_at=now,
        **_clean(assignment, data),
    )
    if _pg.enabled() and assignment.status == Assignment.Status.ACTIVE:
        if _pg.submit(annotation=annotation, now=now) is not None:
            assignment.status, assignment.submitted_at = Assignment.Status.SUBMITTED, now
            return annotation, True
    try:
        with transaction.atomic():
            locked = Assignment.objects.filter(pk=assignment.pk).select_related("clip")
            if connection.features.has_select_for_update:
                locked = locked.select_for_update(no_key=True, of=("self",))
            current = locked.get()
            if current.status == Assignment.Status.SUBMITTED:
                raise _AlreadyRated
            if not current.clip.is_active:
                raise Conflict(
                    "This clip has been withdrawn from the study, so the rating cannot be kept.",
                    {"clip": "withdrawn"},
                )
            if current.status == Assignment.Status.EXPIRED:
                if selectors.annotator_labels_withdrawn(
                    study_id=current.study_id, user_id=current.annotator_id
                ):
                    raise Conflict(ANNOTATOR_WITHDRAWN, {"assignment": "your ratings here are withdrawn"})
                # Take the slot back; if the clip is full meanwhile, grow its target rather than lose the label.
                if not Clip.objects.filter(pk=current.clip_id, n_assigned__lt=F("target_k")).update(
                    n_assigned=F("n_assigned") + 1
                ):
                    Clip.objects.filter(pk=current.clip_id).update(
                        n_assigned=F("n_assigned") + 1, target_k=F("target_k") + 1
                    )
            annotation.save(force_insert=True)
            Assignment.objects.filter(pk=current.pk).update(
                status=Assignment.Status.SUBMITTED, submitted_at=now
            )
            Clip.objects.filter(pk=current.clip_id).update(n_submitted=F("n_submitted") + 1)
    except (IntegrityError, _AlreadyRated):
        return _replay(submission_id, assignment)  # a retry, a concurrent retry that won, or a second rating
    assignment.status, assignment.submitted_at = Assignment.Status.SUBMITTED, now
    return annotation, True
