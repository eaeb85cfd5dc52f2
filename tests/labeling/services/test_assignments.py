from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone

from labeling import services
from labeling.errors import Conflict, NotAllowed, ValidationFailed
from labeling.models import Annotation, Assignment, Clip, Membership, Study
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
    services.annotation_submit(assignment=services.assignment_claim_next(membership=m), data=rating())
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


# ---------- issue 6: leases of participants who never rate, members removed, users deleted ----------


def test_unrated_participant_holds_one_lease_until_the_first_rating(study, clips, make_annotator):
    """Made-up crowd ids that never rate cannot starve the queue: the preload of a second clip is refused
    until the first rating (on PostgreSQL's one-statement path and the general path alike)."""
    m = make_annotator(study)
    a = services.assignment_claim_next(membership=m)
    before = sorted(Clip.objects.values_list("id", "n_assigned"))
    with pytest.raises(Conflict) as refused:
        services.assignment_claim_next(membership=m, exclude_ids=[a.pk])
    assert refused.value.errors == {"exclude": "a second clip is held only after the first rating"}
    assert sorted(Clip.objects.values_list("id", "n_assigned")) == before
    assert Assignment.objects.filter(annotator=m.user).count() == 1
    assert services.assignment_claim_next(membership=m).pk == a.pk  # the lease held is still handed back
    services.annotation_submit(assignment=a, data=rating())
    b = services.assignment_claim_next(membership=m)
    assert services.assignment_claim_next(membership=m, exclude_ids=[b.pk]) is not None


def test_unrated_participant_whose_lease_lapsed_may_claim_again(study, clips, make_annotator):
    m = make_annotator(study)
    a = services.assignment_claim_next(membership=m)
    later = timezone.now() + timedelta(minutes=study.lease_minutes + 1)
    b = services.assignment_claim_next(membership=m, exclude_ids=[a.pk], now=later)
    assert b is not None and b.pk != a.pk


def test_first_lease_is_short_and_the_heartbeat_extends_it(study, clips, make_annotator):
    from labeling.services.assignments import FIRST_LEASE_MINUTES

    study.lease_minutes = 30
    study.save()
    m = make_annotator(study)
    now = timezone.now()
    a = services.assignment_claim_next(membership=m, now=now)
    assert a.lease_expires_at == now + timedelta(minutes=FIRST_LEASE_MINUTES)
    a.refresh_from_db()
    assert a.lease_expires_at == now + timedelta(minutes=FIRST_LEASE_MINUTES)
    beat = services.assignment_heartbeat(assignment=a, now=now)
    assert beat.lease_expires_at == now + timedelta(minutes=30)
    services.annotation_submit(assignment=a, data=rating())
    b = services.assignment_claim_next(membership=m, now=now)
    assert b.lease_expires_at == now + timedelta(minutes=30)  # after the first rating: the study's length


def test_removed_member_loses_their_leases_and_the_clip_slot_returns(study, make_annotator):
    clip = ClipFactory(study=study, target_k=1)
    m = make_annotator(study)
    a = services.assignment_claim_next(membership=m)
    assert Clip.objects.get(pk=clip.pk).n_assigned == 1
    services.membership_remove(membership=m)
    a.refresh_from_db()
    assert a.status == Assignment.Status.EXPIRED
    assert Clip.objects.get(pk=clip.pk).n_assigned == 0
    assert not Membership.objects.filter(pk=m.pk).exists()
    assert services.assignment_claim_next(membership=make_annotator(study)).clip_id == clip.pk


def test_removed_member_cannot_submit_or_keep_a_lease(study, make_annotator):
    from django.http import Http404

    from labeling import selectors

    ClipFactory(study=study, target_k=2)
    m = make_annotator(study)
    a = services.assignment_claim_next(membership=m)
    services.membership_remove(membership=m)
    with pytest.raises(Http404):  # what the submit and heartbeat endpoints load the assignment with
        selectors.assignment_for_annotator(user=m.user, assignment_id=a.pk)
    assert not Annotation.objects.exists()


@pytest.mark.parametrize("how", ["queryset delete", "instance delete"])
def test_raw_membership_delete_still_returns_the_clip_slot(study, make_annotator, how):
    clip = ClipFactory(study=study, target_k=1)
    m = make_annotator(study)
    services.assignment_claim_next(membership=m)
    if how == "queryset delete":
        Membership.objects.filter(pk=m.pk).delete()
    else:
        m.delete()
    assert Clip.objects.get(pk=clip.pk).n_assigned == 0


def test_deleting_a_user_who_holds_a_lease_returns_the_clip_slot(study, make_annotator):
    """Assignment.annotator is CASCADE: before issue 6 the clip kept counting the deleted user's lease."""
    clip = ClipFactory(study=study, target_k=2)
    holder, other = make_annotator(study), make_annotator(study)
    services.assignment_claim_next(membership=holder)
    services.assignment_claim_next(membership=other)
    assert Clip.objects.get(pk=clip.pk).n_assigned == 2
    type(holder.user).objects.filter(pk=holder.user_id).delete()
    assert Clip.objects.get(pk=clip.pk).n_assigned == 1
    assert services.assignment_claim_next(membership=make_annotator(study)).clip_id == clip.pk


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
