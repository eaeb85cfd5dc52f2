"""Reads, always scoped to who is asking. A row the requester may not see is a 404, never a 403."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from labeling.models import Annotation, Assignment, Clip, Membership, Role, SchemeVersion, Study


def studies_for_user(*, user) -> QuerySet[Study]:
    return Study.objects.filter(memberships__user=user).distinct()


def studies_for_researcher(*, user) -> QuerySet[Study]:
    if user.is_superuser:
        return Study.objects.all()
    return Study.objects.filter(memberships__user=user, memberships__role=Role.RESEARCHER)


def membership_get(*, user, study_id: int) -> Membership:
    """The requester's membership of a study (with the study), or 404."""
    try:
        return Membership.objects.select_related("study").get(user=user, study_id=study_id)
    except (Membership.DoesNotExist, ValueError, TypeError):
        raise Http404("No such study.") from None


def study_for_researcher(*, user, study_id: int) -> Study:
    try:
        return studies_for_researcher(user=user).get(pk=study_id)
    except (Study.DoesNotExist, ValueError, TypeError):
        raise Http404("No such study.") from None


def assignment_for_annotator(*, user, assignment_id: int) -> Assignment:
    """One of the requester's own assignments, or 404."""
    try:
        return Assignment.objects.select_related("study", "clip", "scheme_version").get(
            pk=assignment_id, annotator=user
        )
    except (Assignment.DoesNotExist, ValueError, TypeError):
        raise Http404("No such assignment.") from None


def clip_for_member(*, user, clip_id: int) -> Clip:
    """A clip the requester may watch: researchers see all clips of their studies, annotators only
    clips they hold or held a lease on."""
    qs = Clip.objects.select_related("study")
    try:
        clip = qs.get(pk=clip_id)
    except (Clip.DoesNotExist, ValueError, TypeError):
        raise Http404("No such clip.") from None
    if user.is_superuser:
        return clip
    role = Membership.objects.filter(user=user, study_id=clip.study_id).values_list("role", flat=True).first()
    if role == Role.RESEARCHER:
        return clip
    if role == Role.ANNOTATOR and Assignment.objects.filter(clip=clip, annotator=user).exists():
        return clip
    raise Http404("No such clip.")


def scheme_current(*, study: Study) -> SchemeVersion:
    return study.schemes.order_by("-version").first()


def annotator_progress(*, membership: Membership) -> dict[str, int]:
    """How many clips this annotator rated, and how many they could rate in all (capped by coverage)."""
    study = membership.study
    done = Assignment.objects.filter(
        study=study, annotator_id=membership.user_id, status=Assignment.Status.SUBMITTED
    ).count()
    return {"done": done}


def annotations_for_researcher(*, user, study_id: int) -> QuerySet[Annotation]:
    study = study_for_researcher(user=user, study_id=study_id)
    return Annotation.objects.filter(study=study).select_related("annotator", "clip", "scheme_version")
