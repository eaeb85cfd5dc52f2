"""The queue, read: the assignments researchers may list, and an annotator's progress."""

import pytest

from labeling import selectors, services
from labeling.models import Participant
from tests.factories import ClipFactory, MembershipFactory, rating_data

pytestmark = pytest.mark.django_db


def rate_everything(member):
    while (a := services.assignment_claim_next(membership=member)) is not None:
        services.annotation_submit(assignment=a, data=rating_data())


@pytest.fixture
def gone(study):
    """A participant filmed in one of the study's two clips."""
    person = Participant.objects.create(study=study, code="P-1")
    ClipFactory(study=study, participant=person)
    ClipFactory(study=study)
    return person


def test_assignments_of_withdrawn_participants_clips_are_listed_nowhere(study, researcher, gone):
    rate_everything(MembershipFactory(study=study))
    assert selectors.assignments_for_researcher(study=study).count() == 2
    services.participant_withdraw(participant=gone, by=researcher)
    listed = selectors.assignments_for_researcher(study=study)
    assert listed.count() == 1 and listed.get().clip.participant_id is None
    assert selectors.assignments_for_researcher(study=None).count() == 1


def test_progress_counts_the_annotators_work_whatever_became_of_the_clip(study, researcher, gone):
    member = MembershipFactory(study=study)
    rate_everything(member)
    assert selectors.annotator_progress(membership=member) == {
        "done": 2,
        "total": 2,
        "remaining": 0,
        "capped": False,
    }
    services.participant_withdraw(participant=gone, by=researcher)
    assert selectors.annotator_progress(membership=member)["done"] == 2  # their rating stays their work
    assert selectors.annotator_outlook(membership=member) == selectors.Outlook.FINISHED
