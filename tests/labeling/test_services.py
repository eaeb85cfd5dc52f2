from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone

from labeling import services
from labeling.errors import Conflict, NotAllowed, ValidationFailed
from labeling.models import Annotation, Assignment, Clip, Study
from tests.factories import ClipFactory
from tests.factories import rating_data as rating


def test_claim_is_breadth_first_and_never_repeats(study, clips, make_annotator):
    members = [make_annotator(study) for _ in range(4)]
    first = [services.assignment_claim_next(membership=m) for m in members[:3]]
    assert len({a.clip_id for a in first}) == 3  # three different clips before any clip gets a second
    for a in first:
        services.annotation_submit(assignment=a, data=rating())
    seen = set()
    m = members[3]
    while (a := services.assignment_claim_next(membership=m)) is not None:
        assert a.clip_id not in seen
        seen.add(a.clip_id)
        services.annotation_submit(assignment=a, data=rating())
    assert seen == {c.pk for c in clips}


def test_claim_stops_at_k(study, make_annotator):
    clip = ClipFactory(study=study, target_k=2)
    got = [services.assignment_claim_next(membership=make_annotator(study)) for _ in range(3)]
    assert [a is not None for a in got] == [True, True, False]
    clip.refresh_from_db()
    assert clip.n_assigned == 2


def test_claim_needs_consent(study, clips, make_annotator):
    m = make_annotator(study, consented_at=None)
    with pytest.raises(NotAllowed):
        services.assignment_claim_next(membership=m)
    assert not Assignment.objects.exists()


def test_claim_returns_own_lease_first_and_prefetches_next(study, clips, make_annotator):
    m = make_annotator(study)
    a = services.assignment_claim_next(membership=m)
    assert services.assignment_claim_next(membership=m).pk == a.pk
    b = services.assignment_claim_next(membership=m, exclude_ids=[a.pk])
    assert b.pk != a.pk and b.clip_id != a.clip_id
    assert services.assignment_claim_next(membership=m, exclude_ids=[a.pk, b.pk]) is None


def test_expired_leases_return_to_pool(study, make_annotator):
    clip = ClipFactory(study=study, target_k=1)
    a = services.assignment_claim_next(membership=make_annotator(study))
    later = timezone.now() + timedelta(minutes=study.lease_minutes + 1)
    b = services.assignment_claim_next(membership=make_annotator(study), now=later)
    assert b is not None and b.clip_id == clip.pk
    a.refresh_from_db()
    assert a.status == Assignment.Status.EXPIRED
    clip.refresh_from_db()
    assert clip.n_assigned == 1


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
    "over, field",
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


def test_scheme_in_use_is_frozen(study, clips, make_annotator):
    v1 = study.schemes.get()
    same = services.study_scheme_update(study=study, spec={"instrument": "slider"})
    assert same.pk == v1.pk  # unused: edited in place
    a = services.assignment_claim_next(membership=make_annotator(study))
    v2 = services.study_scheme_update(study=study, spec={"instrument": "sam", "points": 7})
    assert v2.version == 2
    ann, _ = services.annotation_submit(assignment=a, data=rating(valence=0.5, arousal=-0.25))
    assert ann.scheme_version_id == v1.pk and ann.valence == 0.5  # made with the slider it was shown


def test_changing_k_retargets_clips_but_never_below_live_work(study, make_annotator):
    full, empty = ClipFactory(study=study, target_k=1), ClipFactory(study=study, target_k=1)
    study.overlap_k = 1
    study.save()
    services.assignment_claim_next(membership=make_annotator(study))
    services.assignment_claim_next(membership=make_annotator(study))
    services.study_update(study=study, fields={"overlap_k": 3})
    assert set(Clip.objects.values_list("target_k", flat=True)) == {3}
    services.study_update(study=study, fields={"overlap_k": 1})
    full.refresh_from_db(), empty.refresh_from_db()
    assert (full.target_k, empty.target_k) == (1, 1)  # each holds one live lease: K=1 is still >= n_assigned


def test_study_update_refuses_bad_values_and_changes_nothing(study):
    with pytest.raises(DjangoValidationError, match="overlap_k"):
        services.study_update(study=study, fields={"overlap_k": 0})
    study.refresh_from_db()
    assert study.overlap_k == 3


@pytest.mark.parametrize(
    "group",
    [
        {"name": "setting", "tags": ["home", "street\ud800"]},
        {"name": "setting", "label": "Set\ud800ting", "tags": ["home"]},
        {"name": "set\x00ting", "tags": ["home"]},
        {"name": "setting", "label": 5, "tags": ["home"]},
    ],
    ids=["surrogate-tag", "surrogate-label", "nul-name", "label-not-text"],
)
def test_lone_surrogate_in_scheme_tag_vocabulary_is_refused_and_the_study_still_reads(study, group):
    spec = {"context_groups": [group]}
    with pytest.raises(ValidationFailed) as info:
        services.study_update(study=study, fields={}, scheme=spec)
    assert "context_groups" in info.value.errors
    with pytest.raises(ValidationFailed):
        services.study_create(title="New", slug="new", scheme=spec, created_by=None)
    assert not Study.objects.filter(slug="new").exists()
    assert [s.version for s in study.schemes.all()] == [1]
    str(study.schemes.get().spec)  # the stored scheme still reads
