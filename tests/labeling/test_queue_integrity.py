"""The clip counters always equal the rows, whatever order heartbeats, submits, expiry and withdrawal come in,
on every write path (on PostgreSQL: the one-statement fast path and the ORM path)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from labeling import selectors, services
from labeling.errors import Conflict, NotAllowed, NotFound, ValidationFailed
from labeling.models import Annotation, Assignment, Clip, Participant
from tests.factories import ClipFactory
from tests.factories import rating_data as rating

# Every test here runs on each write path of the database (on PostgreSQL: the fast path and the ORM path).
pytestmark = pytest.mark.usefixtures("write_path")


def assert_counters_match_rows():
    for clip in Clip.objects.all():
        live = Assignment.objects.filter(clip=clip, status__in=Assignment.LIVE).count()
        submitted = Annotation.objects.filter(clip=clip).count()
        assert (clip.n_assigned, clip.n_submitted) == (live, submitted), clip


def fetched(member, assignment):
    """The assignment as a request handler loads it (a separate, possibly stale, copy)."""
    return selectors.assignment_for_annotator(user=member.user, assignment_id=assignment.pk)


def later(study, minutes=1):
    return timezone.now() + timedelta(minutes=study.lease_minutes + minutes)


def test_heartbeat_loaded_before_a_submit_does_not_move_the_counter(study, make_annotator):
    ClipFactory(study=study)
    m = make_annotator(study)
    a = services.assignment_claim_next(membership=m)
    stale = fetched(m, a)
    services.annotation_submit(assignment=fetched(m, a), data=rating())
    with pytest.raises(Conflict, match="already been rated"):
        services.assignment_heartbeat(assignment=stale)
    assert_counters_match_rows()


def test_two_heartbeats_on_one_expired_lease_take_one_slot(study, make_annotator):
    ClipFactory(study=study)
    m = make_annotator(study)
    a = services.assignment_claim_next(membership=m)
    services.leases_expire(now=later(study))
    first, second = fetched(m, a), fetched(m, a)
    assert services.assignment_heartbeat(assignment=first).status == Assignment.Status.ACTIVE
    assert services.assignment_heartbeat(assignment=second).status == Assignment.Status.ACTIVE
    assert_counters_match_rows()


def test_heartbeat_after_a_late_submit_on_an_expired_lease(study, make_annotator):
    ClipFactory(study=study)
    m = make_annotator(study)
    a = services.assignment_claim_next(membership=m)
    services.leases_expire(now=later(study))
    stale = fetched(m, a)
    services.annotation_submit(assignment=fetched(m, a), data=rating())
    with pytest.raises(Conflict):
        services.assignment_heartbeat(assignment=stale)
    assert_counters_match_rows()


def test_expired_lease_whose_clip_filled_up_cannot_be_taken_back_by_heartbeat(study, make_annotator):
    ClipFactory(study=study, target_k=1)
    m = make_annotator(study)
    a = services.assignment_claim_next(membership=m)
    services.assignment_claim_next(
        membership=make_annotator(study), now=later(study)
    )  # sweeps, takes the slot
    with pytest.raises(Conflict, match="went to another annotator"):
        services.assignment_heartbeat(assignment=fetched(m, a))
    assert fetched(m, a).status == Assignment.Status.EXPIRED  # the flip was rolled back
    assert_counters_match_rows()


def test_a_lapsed_clip_never_comes_back_to_the_same_annotator_as_a_second_lease(study, make_annotator):
    ClipFactory.create_batch(2, study=study)
    m = make_annotator(study)
    a1 = services.assignment_claim_next(membership=m)
    services.leases_expire(now=later(study))
    a2 = services.assignment_claim_next(membership=m, exclude_ids=[a1.pk])
    assert a2.clip_id != a1.clip_id
    # The old page submits late: the label is kept on the first assignment.
    annotation, created = services.annotation_submit(assignment=fetched(m, a1), data=rating())
    assert created and annotation.clip_id == a1.clip_id
    assert_counters_match_rows()


def test_withdrawal_ends_leases_hides_media_and_refuses_new_labels(study, make_annotator):
    person = Participant.objects.create(study=study, code="P-07")
    clip = ClipFactory(study=study, participant=person)
    m, rater = make_annotator(study), make_annotator(study)
    held = services.assignment_claim_next(membership=m)
    rated = services.assignment_claim_next(membership=rater)
    services.annotation_submit(assignment=rated, data=rating())
    services.participant_withdraw(participant=person)
    assert fetched(m, held).status == Assignment.Status.EXPIRED
    assert services.assignment_claim_next(membership=make_annotator(study)) is None
    assert services.assignment_claim_next(membership=m) is None
    with pytest.raises(Conflict, match="withdrawn"):
        services.assignment_heartbeat(assignment=fetched(m, held))
    with pytest.raises(Conflict, match="withdrawn"):
        services.annotation_submit(assignment=fetched(m, held), data=rating())
    for member in (m, rater):
        with pytest.raises(NotFound):
            selectors.clip_for_member(user=member.user, clip_id=clip.pk)
    assert Annotation.objects.filter(clip=clip).count() == 1  # what was given before withdrawal stays
    assert_counters_match_rows()


def test_closed_study_lets_a_held_lease_be_finished_but_gives_no_new_one(study, make_annotator):
    ClipFactory.create_batch(3, study=study)
    m = make_annotator(study)
    held = services.assignment_claim_next(membership=m)
    study.is_active = False
    study.save()
    m.study.refresh_from_db()
    assert services.assignment_claim_next(membership=m).pk == held.pk
    services.annotation_submit(assignment=fetched(m, held), data=rating())
    with pytest.raises(NotAllowed, match="closed"):
        services.assignment_claim_next(membership=m)


@pytest.mark.parametrize("huge", [2**63, 10**20])
def test_huge_ids_are_not_found(study, user, huge):

    for call in (
        lambda: selectors.membership_get(user=user, study_id=huge),
        lambda: selectors.assignment_for_annotator(user=user, assignment_id=huge),
        lambda: selectors.clip_for_member(user=user, clip_id=huge),
        lambda: selectors.study_for_researcher(user=user, study_id=huge),
    ):
        with pytest.raises(NotFound):
            call()


def test_overlong_cannot_judge_reason_is_refused_not_cut(study, clips, make_annotator):

    a = services.assignment_claim_next(membership=make_annotator(study))
    with pytest.raises(ValidationFailed) as exc:
        services.annotation_submit(
            assignment=a,
            data=rating(cannot_judge=True, cannot_judge_reason="x" * 501, valence=None, arousal=None),
        )
    assert "cannot_judge_reason" in exc.value.errors


def test_lowering_k_with_live_leases_does_not_over_collect_after_they_expire(study, make_annotator):
    clip = ClipFactory(study=study)  # K = 3
    for _ in range(3):
        services.assignment_claim_next(membership=make_annotator(study))
    services.study_update(study=study, fields={"overlap_k": 1})
    clip.refresh_from_db()
    assert clip.target_k == 3  # the three live leases may finish
    services.leases_expire(now=later(study))
    clip.refresh_from_db()
    assert (clip.n_assigned, clip.target_k) == (0, 1)  # then the clip wants the new K, not 3
    assert_counters_match_rows()


def test_policy_extensions_survive_a_change_of_k(study, make_annotator):
    from labeling.services.agreement import clip_targets_extend

    clip = ClipFactory(study=study)
    assert clip_targets_extend(study=study, clip_counts={clip.pk: 3}, cap=5) == [clip.pk]
    clip.refresh_from_db()
    assert (clip.target_k, clip.extra_k) == (4, 1)
    services.study_update(study=study, fields={"overlap_k": 4})
    clip.refresh_from_db()
    assert clip.target_k == 5  # K + the extra annotator the policy asked for


def test_a_late_label_that_grew_the_target_is_not_an_extra_annotator_wanted(study, make_annotator):
    clip = ClipFactory(study=study, target_k=1)
    study.overlap_k = 1
    study.save()
    m = make_annotator(study)
    a = services.assignment_claim_next(membership=m)
    b = services.assignment_claim_next(membership=make_annotator(study), now=later(study))
    services.annotation_submit(assignment=b, data=rating())
    services.annotation_submit(assignment=fetched(m, a), data=rating())
    clip.refresh_from_db()
    assert (clip.target_k, clip.extra_k, clip.n_submitted) == (2, 0, 2)
    services.study_update(study=study, fields={"overlap_k": 2})
    clip.refresh_from_db()
    assert clip.target_k == 2  # it already has the two ratings K now asks for
