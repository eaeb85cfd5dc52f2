"""factory_boy factories. Clips made here carry metadata only (no file); media tests make real files."""

import uuid
from datetime import timedelta

import factory
from django.utils import timezone

from annotator.models import User
from labeling.models import Clip, Membership, Participant, Role, SchemeVersion, Study
from labeling.scheme import DEFAULT_SPEC
from labeling.services import (
    annotation_submit,
    api_token_create,
    assignment_claim_next,
    heartbeat_record,
    participant_link_consent,
    participant_link_issue,
)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pw-for-tests-only")


class StudyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Study
        skip_postgeneration_save = True

    title = factory.Sequence(lambda n: f"Study {n}")
    slug = factory.Sequence(lambda n: f"study-{n}")
    overlap_k = 3
    consent_text = "I agree to take part."
    instructions = "Rate how the person **feels**."

    @factory.post_generation
    def scheme(obj, create, extracted, **kwargs):
        if create:
            SchemeVersion.objects.create(study=obj, version=1, spec=extracted or dict(DEFAULT_SPEC))


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    study = factory.SubFactory(StudyFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.ANNOTATOR
    consented_at = factory.LazyFunction(timezone.now)


class ParticipantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Participant

    study = factory.SubFactory(StudyFactory)
    code = factory.Sequence(lambda n: f"P-{n:04d}")


class ClipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Clip

    study = factory.SubFactory(StudyFactory)
    file = factory.Sequence(lambda n: f"clips/test/{n}.mp4")
    original_name = factory.Sequence(lambda n: f"clip{n}.mp4")
    sha256 = factory.Sequence(lambda n: f"{n:064x}")
    size_bytes = 1000
    container = "mov,mp4,m4a,3gp,3g2,mj2"
    video_codec = "h264"
    duration_s = 3.0
    fps = 25.0
    width = 320
    height = 240
    target_k = factory.LazyAttribute(lambda o: o.study.overlap_k)


def rating_data(**over) -> dict:
    """A valid rating body for the default scheme (9-point scales, confidence, context tags), with a fresh
    submission id; keyword arguments replace fields."""
    data = {
        "submission_id": str(uuid.uuid4()),
        "valence": 7,
        "arousal": 3,
        "valence_confidence": 4,
        "arousal_confidence": 2,
        "context_tags": ["setting:home", "social:alone"],
        "context_note": "kitchen",
        "time_on_task_ms": 12000,
        "watched_fraction": 1.0,
    }
    data.update(over)
    return data


def rate_next(membership, submit=True, **over):
    """Claim the member's next clip through the real service and, unless ``submit`` is false, rate it with
    ``rating_data(**over)``; returns the assignment."""
    assignment = assignment_claim_next(membership=membership)
    assert assignment is not None
    if submit:
        annotation_submit(assignment=assignment, data=rating_data(**over))
    return assignment


def api_key_for(user, **fields) -> str:
    """A fresh API token for ``user`` through the real service; returns the key (only its hash is stored)."""
    token, key = api_token_create(user=user)
    if fields:
        type(token).objects.filter(pk=token.pk).update(**fields)
    return key


def beat_at(kind: str, ago_s: float, name: str = "celery@host-a") -> None:
    """A heartbeat of a worker or beat process (``kind``), recorded ``ago_s`` seconds ago by the real service."""
    heartbeat_record(kind=kind, name=name, now=timezone.now() - timedelta(seconds=ago_s))


def self_report_link(participant, *, consent: bool = True, by=None, **kwargs):
    """A self-report link for ``participant`` through the real service (its consent step passed unless
    ``consent`` is false); returns (link, key)."""
    link, key = participant_link_issue(participant=participant, by=by, **kwargs)
    if consent:
        participant_link_consent(link=link)
    return link, key
