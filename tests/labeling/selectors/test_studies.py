"""Studies: scoping to the researcher (NotFound otherwise) and the counts the admin and the API show."""

import pytest
from django.contrib import admin
from django.test import RequestFactory

from labeling import selectors
from labeling.errors import NotFound
from labeling.models import Study
from tests.factories import ClipFactory, MembershipFactory, StudyFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("study_id", ["other", 10**6, 2**63, "x", None])
def test_study_for_researcher_is_not_found_for_anything_not_theirs(study, researcher, study_id):
    ids = {"other": StudyFactory().pk}
    with pytest.raises(NotFound, match="No such study"):
        selectors.study_for_researcher(user=researcher, study_id=ids.get(study_id, study_id))


def test_study_for_researcher_is_not_found_for_the_studys_annotators(study):
    annotator = MembershipFactory(study=study).user
    with pytest.raises(NotFound):
        selectors.study_for_researcher(user=annotator, study_id=study.pk)
    boss = UserFactory(is_superuser=True)
    assert selectors.study_for_researcher(user=boss, study_id=study.pk) == study


def test_clip_and_annotator_counts_feed_the_admin_and_the_api(study, researcher, django_assert_num_queries):
    ClipFactory.create_batch(3, study=study)
    ClipFactory(study=study, is_active=False)  # every clip counts here, inactive ones too
    MembershipFactory.create_batch(2, study=study)
    empty = StudyFactory()
    with django_assert_num_queries(1):
        counted = {
            s.pk: (s.clip_count, s.annotator_count)
            for s in selectors.studies_with_counts(studies=Study.objects.all(), annotators=True)
        }
    assert counted == {study.pk: (4, 2), empty.pk: (0, 0)}

    request = RequestFactory().get("/admin/labeling/study/")
    request.user = UserFactory(is_staff=True, is_superuser=True)
    rows = admin.site.get_model_admin(Study).get_queryset(request)
    assert {s.pk: (s.clip_count, s.annotator_count) for s in rows} == counted


def test_studies_with_stats_is_one_query_and_a_prefetch_for_any_number_of_studies(
    user, django_assert_num_queries
):
    for _ in range(3):
        s = StudyFactory()
        MembershipFactory(study=s, user=user, role="researcher")
        ClipFactory(study=s)
    MembershipFactory(study=StudyFactory(), user=user)  # an annotator there: not among their studies here
    with django_assert_num_queries(2):  # the studies with their counts, then every scheme version
        rows = list(selectors.studies_with_stats(studies=selectors.studies_for_researcher(user=user)))
    assert [(s.clip_count, s.annotation_count, len(s.scheme_versions)) for s in rows] == [(1, 0, 1)] * 3


def test_overview_counts_active_clips_and_annotator_members(study, researcher):
    ClipFactory.create_batch(2, study=study)
    ClipFactory(study=study, is_active=False)
    MembershipFactory.create_batch(3, study=study)
    (row,) = selectors.studies_overview_for_researcher(user=researcher)
    assert (row.n_clips, row.n_annotators, row.n_ratings_wanted, row.n_ratings_done) == (2, 3, 6, 0)
