"""Clips: a researcher's clip is one of the study's clips that are still shown, else NotFound."""

import pytest

from labeling import selectors
from labeling.errors import NotFound
from tests.factories import ClipFactory, StudyFactory

pytestmark = pytest.mark.django_db


def test_clip_for_researcher_is_not_found_outside_the_study_or_once_withdrawn(study):
    clip = ClipFactory(study=study)
    inactive = ClipFactory(study=study, is_active=False)
    assert selectors.clip_for_researcher(study=study, clip_id=clip.pk) == clip
    assert selectors.clip_for_researcher(study=study, clip_id=inactive.pk) == inactive
    withdrawn = ClipFactory(study=study, is_active=False)
    type(withdrawn).objects.filter(pk=withdrawn.pk).update(withdrawn_at=withdrawn.created_at)
    for bad in (ClipFactory(study=StudyFactory()).pk, withdrawn.pk, 2**63, "x"):
        with pytest.raises(NotFound):  # the API's answer for it is pinned in the API tests
            selectors.clip_for_researcher(study=study, clip_id=bad)
