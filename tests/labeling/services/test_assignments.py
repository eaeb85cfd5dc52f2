"""assignment_claim_next and assignment_heartbeat: breadth-first claims up to K, consent, own lease first,
expiry, and the short first lease of a participant who has not rated yet."""

from datetime import timedelta

import pytest
from django.utils import timezone

from labeling import services
from labeling.errors import Conflict, NotAllowed
from labeling.models import Assignment, Clip
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


# ---------- issue 6: leases of participants who never rate ----------


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
