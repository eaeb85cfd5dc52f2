"""Members, invites and filmed participants: who belongs to a study, and what the study's pages say of them."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Exists, F, FilteredRelation, Max, OuterRef, Q, QuerySet
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from labeling.errors import NotFound
from labeling.models import Assignment, Clip, Invite, Membership, Participant, Role, Study

from ._base import BAD_ID, User, count_of
from .annotations import annotations_for_analysis


def membership_get(*, user: User, study_id: int) -> Membership:
    """The requester's membership of a study (with the study), or NotFound."""
    try:
        return Membership.objects.select_related("study").get(user=user, study_id=study_id)
    except (Membership.DoesNotExist, *BAD_ID):
        raise NotFound("No such study.") from None


def membership_find(*, user: User, study_id: int) -> Membership | None:
    """The user's membership of a study, or None (they are not a member)."""
    return Membership.objects.filter(user=user, study_id=study_id).first()


def annotator_labels_withdrawn(*, study_id: int, user_id: int) -> bool:
    """Whether the user's labels are withdrawn from the study (Membership.labels_withdrawn_at). For the rare
    paths that hold no membership: an expired lease taken back by a heartbeat or a late submit."""
    return Membership.objects.filter(
        study_id=study_id, user_id=user_id, labels_withdrawn_at__isnull=False
    ).exists()


def memberships_for_user(*, user: User, newest_study_first: bool = False) -> QuerySet[Membership]:
    """The requester's memberships with their studies: newest membership first, or (`newest_study_first`, as
    the home page lists them) newest study first."""
    order = ("-study__created_at",) if newest_study_first else ("-created_at", "-id")
    return Membership.objects.filter(user=user).select_related("study").order_by(*order)


def study_members(*, study: Study) -> QuerySet[Membership]:
    """The study's members with their user and `annotation_count`: the labels that count they made there
    (annotations_for_analysis). `study` is already scoped to the requester (study_for_researcher)."""
    made = annotations_for_analysis(study=study).filter(annotator=OuterRef("user_id"))
    return (
        Membership.objects.filter(study=study)
        .select_related("user")
        .annotate(annotation_count=count_of(made))
    )


def study_member(*, study: Study, membership_id: int) -> Membership:
    """One row of study_members, or NotFound."""
    try:
        return study_members(study=study).get(pk=membership_id)
    except (Membership.DoesNotExist, *BAD_ID):
        raise NotFound("No such member.") from None


def invites_for_study(*, study: Study) -> QuerySet[Invite]:
    return Invite.objects.filter(study=study).order_by("-created_at")


def invite_get(*, token: str) -> Invite:
    """The invite a link carries (with its study), or NotFound. Whether it can still be used is
    annotator.services.invite_problem's question."""
    try:
        return Invite.objects.select_related("study").get(token=token)
    except Invite.DoesNotExist:
        raise NotFound("No such invite.") from None


def participants_with_counts(*, participants: QuerySet[Participant]) -> QuerySet[Participant]:
    """`participants` with `clip_count`: their clips, withdrawn ones included (the admin's list)."""
    return participants.annotate(clip_count=count_of(Clip.objects.filter(participant=OuterRef("pk"))))


def participants_for_researcher(*, study: Study) -> QuerySet[Participant]:
    """A study's participants, withdrawn ones included (with withdrawn_at), each with `clip_count`, by code.
    `study` is already scoped to the requester (study_for_researcher)."""
    return participants_with_counts(participants=Participant.objects.filter(study=study)).order_by(
        "code", "id"
    )


def participant_for_researcher(*, study: Study, participant_id: int) -> Participant:
    """One of participants_for_researcher, or NotFound (another study's participant too)."""
    try:
        return participants_for_researcher(study=study).get(pk=participant_id)
    except (Participant.DoesNotExist, *BAD_ID):
        raise NotFound("No such participant.") from None


# --- The researcher dashboard's annotator figures. Each is one query, whatever the size of the study. ---


def study_annotator_counts(*, study: Study, now: datetime | None = None) -> dict[str, int]:
    """How many annotators joined, consented, finished, came from a crowd link, and hold a live lease now."""
    now = now or timezone.now()
    live = Assignment.objects.filter(
        study=study, annotator=OuterRef("user"), status=Assignment.Status.ACTIVE, lease_expires_at__gt=now
    )
    annotator = Q(role=Role.ANNOTATOR)
    return Membership.objects.filter(study=study).aggregate(
        annotators=Count("id", filter=annotator),
        consented=Count("id", filter=annotator & Q(consented_at__isnull=False)),
        completed=Count("id", filter=annotator & Q(completed_at__isnull=False)),
        crowd=Count("id", filter=annotator & Q(joined_via=Membership.Via.CROWD)),
        working_now=Count("id", filter=annotator & Q(Exists(live))),
        researchers=Count("id", filter=Q(role=Role.RESEARCHER)),
    )


def study_annotators(*, study: Study, limit: int = 50, now: datetime | None = None) -> list[Membership]:
    """The study's annotators, most recently active first, each with `submitted` (the clips they rated: their
    work, whatever became of the clip since), `leases` (live now), `last_submitted_at` and `last_active_at`.
    One query (a filtered join on the study's assignments)."""
    now = now or timezone.now()
    qs = (
        Membership.objects.filter(study=study, role=Role.ANNOTATOR)
        .select_related("user")
        .annotate(work=FilteredRelation("user__assignments", condition=Q(user__assignments__study=study)))
        .annotate(
            submitted=Count("work", filter=Q(work__status=Assignment.Status.SUBMITTED)),
            leases=Count(
                "work", filter=Q(work__status=Assignment.Status.ACTIVE, work__lease_expires_at__gt=now)
            ),
            last_submitted_at=Max("work__submitted_at"),
            last_leased_at=Max("work__leased_at"),
        )
        .annotate(
            last_active_at=Coalesce(
                Greatest(Coalesce("last_submitted_at", "last_leased_at"), "last_leased_at"),
                "consented_at",
                "created_at",
            )
        )
        .order_by(F("last_active_at").desc(nulls_last=True), "-id")
    )
    return list(qs[:limit])
