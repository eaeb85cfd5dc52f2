"""labeling/signals.py: deletes that bypass the services (queryset and instance deletes of a membership, a
deleted user) still return the clip slots their live leases held (issue 6)."""

import pytest

from labeling import services
from labeling.models import Clip, Membership
from tests.factories import ClipFactory


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
