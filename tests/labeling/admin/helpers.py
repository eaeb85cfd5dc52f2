"""Set-up for the admin tests."""

from labeling import services
from labeling.models import Invite, Participant, Role, Study
from tests.factories import ClipFactory, MembershipFactory, StudyFactory
from tests.factories import rating_data as rating


def populate(n_clips: int, n_annotators: int) -> Study:
    """A study with clips, participants, invites, leases and submitted labels made through the services."""
    study = StudyFactory()
    MembershipFactory(study=study, role=Role.RESEARCHER)
    participants = [Participant.objects.create(study=study, code=f"P{study.pk}-{i}") for i in range(n_clips)]
    for participant in participants:
        ClipFactory(study=study, participant=participant)
        Invite.objects.create(study=study, note=participant.code)
    for _ in range(n_annotators):
        membership = MembershipFactory(study=study)
        services.annotation_submit(
            assignment=services.assignment_claim_next(membership=membership), data=rating()
        )
        services.assignment_claim_next(membership=membership)  # an open lease too
    return study
