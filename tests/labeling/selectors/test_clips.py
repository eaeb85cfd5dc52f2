"""Reads of a study's clips: coverage (ratings per clip against K) in one query; clips: a researcher's clip is
one of the study's clips that are still shown, else NotFound."""

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


def test_coverage_counts_for_a_known_setup(dashboard_setup, django_assert_num_queries):
    with django_assert_num_queries(1):
        cov = selectors.study_coverage(study=dashboard_setup["study"])
    assert [b["clips"] for b in cov["buckets"]] == [2, 1, 1, 1]
    assert [b["label"] for b in cov["buckets"]] == ["0", "1", "2", "3+"]
    assert cov["clips"] == 5 and cov["inactive"] == 1 and cov["complete"] == 1
    assert cov["ratings"] == 6 and cov["wanted"] == 15 and cov["done"] == 6
    assert cov["percent"] == pytest.approx(40.0)
    assert cov["leased"] == 1
    assert dashboard_setup["lease"].clip_id == dashboard_setup["clips"][3].pk
