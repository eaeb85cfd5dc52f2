"""annotation_submit: canonical and raw values, retries by submission id, refusals that change nothing,
"cannot judge", late labels on lapsed leases."""

from datetime import timedelta

import pytest
from django.utils import timezone

from labeling import services
from labeling.errors import Conflict, ValidationFailed
from labeling.models import Annotation, Assignment, Clip
from tests.factories import ClipFactory
from tests.factories import rating_data as rating


def test_late_label_on_expired_lease_is_kept(study, make_annotator):
    clip = ClipFactory(study=study, target_k=1)
    a = services.assignment_claim_next(membership=make_annotator(study))
    later = timezone.now() + timedelta(minutes=study.lease_minutes + 1)
    b = services.assignment_claim_next(membership=make_annotator(study), now=later)
    services.annotation_submit(assignment=b, data=rating())
    a.refresh_from_db()
    ann, created = services.annotation_submit(assignment=a, data=rating())
    assert created and Annotation.objects.filter(clip=clip).count() == 2
    clip.refresh_from_db()
    assert (clip.n_assigned, clip.n_submitted, clip.target_k) == (2, 2, 2)


def test_submit_stores_canonical_and_raw(study, clips, make_annotator):
    a = services.assignment_claim_next(membership=make_annotator(study))
    ann, created = services.annotation_submit(assignment=a, data=rating(valence=9, arousal=1))
    assert created
    assert (ann.valence, ann.arousal, ann.valence_raw, ann.arousal_raw) == (1.0, -1.0, 9.0, 1.0)
    assert ann.scheme_version.version == 1
    a.refresh_from_db()
    assert a.status == Assignment.Status.SUBMITTED
    assert Clip.objects.get(pk=a.clip_id).n_submitted == 1


def test_retried_submission_returns_first(study, clips, make_annotator):
    a = services.assignment_claim_next(membership=make_annotator(study))
    data = rating()
    first, created1 = services.annotation_submit(assignment=a, data=data)
    again, created2 = services.annotation_submit(assignment=a, data=dict(data, valence=1))
    assert (created1, created2) == (True, False)
    assert again.pk == first.pk and again.valence_raw == 7
    assert Annotation.objects.count() == 1
    with pytest.raises(Conflict):
        services.annotation_submit(assignment=a, data=rating())


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"valence": 10}, "valence"),
        ({"valence": 0}, "valence"),
        ({"arousal": "high"}, "arousal"),
        ({"arousal": 4.5}, "arousal"),
        ({"valence": None}, "valence"),
        ({"valence_confidence": 6}, "valence_confidence"),
        ({"context_tags": ["setting:moon"]}, "context_tags"),
        ({"watched_fraction": 0.3}, "watched_fraction"),
        ({"submission_id": "not-a-uuid"}, "submission_id"),
        ({"cannot_judge": True}, "cannot_judge_reason"),
    ],
)
def test_bad_ratings_change_nothing(study, clips, make_annotator, over, field):
    a = services.assignment_claim_next(membership=make_annotator(study))
    with pytest.raises(ValidationFailed) as exc:
        services.annotation_submit(assignment=a, data=rating(**over))
    assert field in exc.value.errors
    assert not Annotation.objects.exists()
    a.refresh_from_db()
    assert a.status == Assignment.Status.ACTIVE


def test_cannot_judge_is_a_label(study, clips, make_annotator):
    a = services.assignment_claim_next(membership=make_annotator(study))
    ann, _ = services.annotation_submit(
        assignment=a,
        data=rating(
            cannot_judge=True,
            cannot_judge_reason="face not visible",
            valence=None,
            arousal=None,
            watched_fraction=0.4,
        ),
    )
    assert ann.cannot_judge and ann.valence is None and ann.valence_confidence is None
