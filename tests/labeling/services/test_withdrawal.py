"""Withdrawing an annotator's labels (annotator_labels_withdraw / _reinstate) and the withdrawal hooks.

The labels stay stored and leave the labels that count; the annotator's leases end and they take no more
clips; each clip they rated wants one more annotator; everything is logged without personal data; a
refusal changes nothing; labeling.hooks tells other apps (in the withdrawal's transaction) and lets
them refuse a reinstatement. (Participant withdrawal: tests/labeling/test_withdrawal.py.)
"""

import pytest
from django.utils import timezone

from labeling import hooks, selectors, services
from labeling.errors import Conflict, NotAllowed, ValidationFailed
from labeling.models import Annotation, AnnotatorEvent, Assignment, Clip, Membership, Participant
from tests.factories import ClipFactory, MembershipFactory, rate_next, rating_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def rated(study, make_annotator):
    """K=3, three clips; the spammer rated two of them (and holds a lease on the third), two others rated
    everything."""
    clips = ClipFactory.create_batch(3, study=study)
    spammer, a, b = (make_annotator(study) for _ in range(3))
    for member in (a, b):
        for _ in clips:
            rate_next(member)
    rate_next(spammer)
    rate_next(spammer)
    lease = rate_next(spammer, submit=False)
    return {"clips": clips, "spammer": spammer, "others": (a, b), "lease": lease}


def queue_state(study):
    return sorted(Clip.objects.filter(study=study).values_list("pk", "target_k", "extra_k", "n_assigned"))


def counted(study):
    return set(selectors.annotations_for_analysis(study=study).values_list("id", flat=True))


def test_withdrawal_takes_the_labels_out_ends_leases_and_reopens_each_rated_clip(study, researcher, rated):
    spammer = rated["spammer"]
    theirs = set(Annotation.objects.filter(annotator=spammer.user).values_list("id", flat=True))
    assert len(theirs) == 2 and theirs <= counted(study)
    before = dict((pk, (t, e, n)) for pk, t, e, n in queue_state(study))

    services.annotator_labels_withdraw(membership=spammer, by=researcher, note="straight-lined every clip")

    spammer.refresh_from_db()
    assert spammer.labels_withdrawn_at is not None
    assert not theirs & counted(study) and len(counted(study)) == 6  # the others' 3 + 3
    assert Annotation.objects.filter(pk__in=theirs).count() == 2  # kept in the database
    lease = Assignment.objects.get(pk=rated["lease"].pk)
    assert lease.status == Assignment.Status.EXPIRED
    rated_ids = set(
        Assignment.objects.filter(annotator=spammer.user, status="submitted").values_list("clip_id")
    )
    for pk, target, extra, n_assigned in queue_state(study):
        old_target, old_extra, old_n = before[pk]
        if (pk,) in rated_ids:  # one more annotator wanted: the withdrawn label no longer counts
            assert (target, extra, n_assigned) == (old_target + 1, old_extra + 1, old_n)
        else:  # the lease's clip got its slot back
            assert (target, extra, n_assigned) == (old_target, old_extra, old_n - 1)
    # Another annotator now gets the clips the spammer rated and the one whose lease ended.
    newcomer = MembershipFactory(study=study)
    got = {rate_next(newcomer).clip_id for _ in range(3)}
    assert got == {c.pk for c in rated["clips"]}
    assert services.assignment_claim_next(membership=newcomer) is None


def test_a_withdrawn_annotator_takes_no_more_clips_and_cannot_take_a_lease_back(study, researcher, rated):
    spammer = rated["spammer"]
    services.annotator_labels_withdraw(membership=spammer, by=researcher, note="asked to leave")
    spammer.refresh_from_db()
    with pytest.raises(NotAllowed, match="withdrawn your ratings"):
        services.assignment_claim_next(membership=spammer)
    lease = Assignment.objects.get(pk=rated["lease"].pk)
    state = queue_state(study)
    with pytest.raises(Conflict, match="withdrawn your ratings"):
        services.assignment_heartbeat(assignment=lease)
    with pytest.raises(Conflict, match="withdrawn your ratings"):
        services.annotation_submit(assignment=lease, data=rating_data())
    assert queue_state(study) == state  # no slot taken back
    assert not Annotation.objects.filter(assignment=lease).exists()
    assert Assignment.objects.get(pk=lease.pk).status == Assignment.Status.EXPIRED


def test_withdrawal_needs_a_reason_and_is_refused_twice_changing_nothing(study, researcher, rated):
    spammer = rated["spammer"]
    state = queue_state(study)
    with pytest.raises(ValidationFailed, match="Say why") as refused:
        services.annotator_labels_withdraw(membership=spammer, by=researcher, note="   ")
    assert refused.value.errors == {"note": "is required"}
    spammer.refresh_from_db()
    assert spammer.labels_withdrawn_at is None and queue_state(study) == state
    assert Assignment.objects.get(pk=rated["lease"].pk).status == Assignment.Status.ACTIVE
    assert not AnnotatorEvent.objects.exists()

    services.annotator_labels_withdraw(membership=spammer, by=researcher, note="spam")
    state = queue_state(study)
    with pytest.raises(Conflict, match="already withdrawn"):
        services.annotator_labels_withdraw(membership=spammer, by=researcher, note="again")
    assert queue_state(study) == state and AnnotatorEvent.objects.count() == 1


def test_reinstating_undoes_it_and_gives_back_the_extra_annotator_slots(study, researcher, rated):
    spammer = rated["spammer"]
    services.annotator_labels_withdraw(membership=spammer, by=researcher, note="spam")
    with pytest.raises(ValidationFailed, match="Say why"):
        services.annotator_labels_reinstate(membership=spammer, by=researcher, note="")
    spammer.refresh_from_db()
    assert spammer.labels_withdrawn_at is not None

    services.annotator_labels_reinstate(membership=spammer, by=researcher, note="withdrawn by mistake")
    spammer.refresh_from_db()
    assert spammer.labels_withdrawn_at is None
    assert len(counted(study)) == 8
    assert all(extra == 0 and target == 3 for _, target, extra, _ in queue_state(study))
    # Takes clips again: the lease the withdrawal ended is taken back by its page's heartbeat.
    lease = services.assignment_heartbeat(assignment=Assignment.objects.get(pk=rated["lease"].pk))
    assert lease.status == Assignment.Status.ACTIVE
    assert services.assignment_claim_next(membership=spammer).pk == lease.pk
    with pytest.raises(Conflict, match="have not been withdrawn"):
        services.annotator_labels_reinstate(membership=spammer, by=researcher, note="again")


def test_reinstating_never_takes_a_clip_below_the_annotators_it_has(study, researcher, rated):
    spammer = rated["spammer"]
    services.annotator_labels_withdraw(membership=spammer, by=researcher, note="spam")
    newcomer = MembershipFactory(study=study)
    assert rate_next(newcomer).clip_id == rated["lease"].clip_id  # the slot the ended lease gave back
    full = rate_next(newcomer).clip_id  # a re-opened slot: that clip now holds four annotators
    services.annotator_labels_reinstate(membership=spammer, by=researcher, note="mistake")
    for pk, target, extra, n_assigned in queue_state(study):
        assert (target, extra, n_assigned) == ((4, 0, 4) if pk == full else (3, 0, 3))


def test_changing_k_keeps_the_reopened_slots(study, researcher, rated):
    services.annotator_labels_withdraw(membership=rated["spammer"], by=researcher, note="spam")
    services.study_update(study=study, fields={"overlap_k": 4})
    rated_clips = set(
        Assignment.objects.filter(annotator=rated["spammer"].user, status="submitted").values_list(
            "clip_id", flat=True
        )
    )
    assert {pk: target for pk, target, _, _ in queue_state(study)} == {
        c.pk: 5 if c.pk in rated_clips else 4 for c in rated["clips"]
    }


def test_the_log_records_when_who_why_and_how_many_never_personal_data(study, researcher, rated):
    spammer = rated["spammer"]
    services.annotator_labels_withdraw(membership=spammer, by=researcher, note="spam")
    services.annotator_labels_reinstate(membership=spammer, by=researcher, note="mistake")
    events = list(AnnotatorEvent.objects.filter(study=study, annotator=spammer.user))
    assert [(e.action, e.by, e.note, e.labels) for e in events] == [
        ("reinstated", researcher, "mistake", 2),
        ("withdrawn", researcher, "spam", 2),
    ]
    # What the log holds: references, a time, an action, the researcher's note and a count; no text of the
    # annotator's (name, e-mail, crowd id, user agent).
    fields = {f.name for f in AnnotatorEvent._meta.concrete_fields}
    assert fields == {"id", "study", "annotator", "action", "at", "by", "note", "labels"}


def test_a_member_whose_labels_are_withdrawn_is_not_removed(study, researcher, rated):
    spammer = rated["spammer"]
    services.annotator_labels_withdraw(membership=spammer, by=researcher, note="spam")
    with pytest.raises(Conflict, match="membership is kept"):
        services.membership_remove(membership=spammer)
    assert Membership.objects.filter(pk=spammer.pk).exists()
    services.annotator_labels_reinstate(membership=spammer, by=researcher, note="mistake")
    services.membership_remove(membership=spammer)  # reinstated: removed as any member, the log stays
    assert not Membership.objects.filter(pk=spammer.pk).exists()
    assert AnnotatorEvent.objects.filter(annotator=spammer.user).count() == 2
    assert len(counted(study)) == 8  # a removed member's labels count


def test_withdrawals_are_announced_in_their_transaction_and_a_failing_receiver_refuses_them(
    study, researcher, rated
):
    heard = []

    def listen(sender, **kwargs):
        heard.append({k: kwargs[k] for k in ("kind", "study_id", "subject_id")} | {"at": kwargs["at"]})

    def fail(sender, **kwargs):
        raise RuntimeError("the exports could not be marked")

    participant = Participant.objects.create(study=study, code="P-1")
    hooks.data_withdrawn.connect(listen)
    try:
        services.annotator_labels_withdraw(membership=rated["spammer"], by=researcher, note="spam")
        services.participant_withdraw(participant=participant, by=researcher)
        services.participant_withdraw(participant=participant, by=researcher)  # no change: no news
    finally:
        hooks.data_withdrawn.disconnect(listen)
    rated["spammer"].refresh_from_db()
    participant.refresh_from_db()
    assert heard == [
        {
            "kind": "annotator",
            "study_id": study.pk,
            "subject_id": rated["spammer"].user_id,
            "at": rated["spammer"].labels_withdrawn_at,
        },
        {
            "kind": "participant",
            "study_id": study.pk,
            "subject_id": participant.pk,
            "at": participant.withdrawn_at,
        },
    ]

    other = rated["others"][0]
    state = queue_state(study)
    hooks.data_withdrawn.connect(fail)
    try:
        with pytest.raises(RuntimeError):
            services.annotator_labels_withdraw(membership=other, by=researcher, note="spam")
    finally:
        hooks.data_withdrawn.disconnect(fail)
    other.refresh_from_db()
    assert other.labels_withdrawn_at is None and queue_state(study) == state
    assert AnnotatorEvent.objects.filter(annotator=other.user).count() == 0


def test_a_receiver_can_refuse_a_reinstatement_and_nothing_changes(study, researcher, rated):
    spammer = rated["spammer"]
    services.annotator_labels_withdraw(membership=spammer, by=researcher, note="spam")
    state = queue_state(study)

    def refuse(sender, *, study_id, annotator_id, withdrawn_at, **kwargs):
        assert (study_id, annotator_id) == (study.pk, spammer.user_id) and withdrawn_at <= timezone.now()
        raise Conflict("An export was built since.")

    hooks.annotator_reinstating.connect(refuse)
    try:
        with pytest.raises(Conflict, match="export was built"):
            services.annotator_labels_reinstate(membership=spammer, by=researcher, note="mistake")
    finally:
        hooks.annotator_reinstating.disconnect(refuse)
    spammer.refresh_from_db()
    assert spammer.labels_withdrawn_at is not None and queue_state(study) == state
    assert AnnotatorEvent.objects.filter(action="reinstated").count() == 0
