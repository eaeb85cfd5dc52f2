"""The labels that count (selectors.annotations_for_analysis): one rule, and every read of labels built on it.

The agreement report's loaded rows, the research API's list and counts, the admin's list and the dashboard's
figures must hold exactly the labels the selector gives: a withdrawn participant's labels out, an annotator's
withdrawn labels out, an inactive clip's labels in (taking a clip out of the queue does not unmake its
labels).

Also: Reads of a study's labels: the most recent ratings."""

from datetime import timedelta

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.utils import timezone
from rest_framework.test import APIClient

from labeling import selectors, services
from labeling.models import Annotation, Participant
from labeling.reports import load_ratings
from tests.factories import ClipFactory, MembershipFactory, StudyFactory, UserFactory, rating_data

pytestmark = pytest.mark.django_db


def rate_all(study, n_annotators=3):
    members = [MembershipFactory(study=study) for _ in range(n_annotators)]
    for member in members:
        while (a := services.assignment_claim_next(membership=member)) is not None:
            services.annotation_submit(assignment=a, data=rating_data())
    return members


@pytest.fixture
def labelled(study, researcher):
    """Four clips rated by three annotators each; then one clip's participant withdraws, one annotator's labels
    are withdrawn and another clip is taken out of the queue. A second study has labels of its own, among
    them the withdrawn annotator's (withdrawn from the first study only)."""
    gone = Participant.objects.create(study=study, code="P-gone")
    clip_gone = ClipFactory(study=study, participant=gone)
    clip_inactive = ClipFactory(study=study)
    ClipFactory.create_batch(2, study=study)
    spammer, *_ = rate_all(study)
    services.participant_withdraw(participant=gone, by=researcher)
    services.annotator_labels_withdraw(membership=spammer, by=researcher, note="straight-lined every clip")
    services.clip_update(clip=clip_inactive, is_active=False)
    other = StudyFactory()
    ClipFactory(study=other)
    rate_all(other, n_annotators=1)
    services.annotation_submit(
        assignment=services.assignment_claim_next(
            membership=MembershipFactory(study=other, user=spammer.user)
        ),
        data=rating_data(),
    )
    return {"clip_gone": clip_gone, "clip_inactive": clip_inactive, "other": other, "spammer": spammer.user}


def counted_ids(study) -> set[int]:
    return set(selectors.annotations_for_analysis(study=study).values_list("id", flat=True))


def test_the_rule_leaves_withdrawn_participants_labels_out_and_keeps_inactive_clips_labels(study, labelled):
    ids = counted_ids(study)
    assert (
        len(ids) == 6
    )  # 4 clips x 3 annotators, less the withdrawn participant's 3 and the spammer's 3 more
    assert not ids & set(Annotation.objects.filter(clip=labelled["clip_gone"]).values_list("id", flat=True))
    assert Annotation.objects.filter(clip=labelled["clip_gone"]).count() == 3  # kept in the database
    inactive = Annotation.objects.filter(clip=labelled["clip_inactive"]).exclude(
        annotator=labelled["spammer"]
    )
    assert inactive.count() == 2 and set(inactive.values_list("id", flat=True)) <= ids
    assert not ids & set(Annotation.objects.filter(study=labelled["other"]).values_list("id", flat=True))


def test_the_rule_leaves_a_withdrawn_annotators_labels_out_of_that_study_only(study, labelled):
    spammer = labelled["spammer"]
    theirs = Annotation.objects.filter(study=study, annotator=spammer)
    assert theirs.count() == 4  # kept in the database
    assert not counted_ids(study) & set(theirs.values_list("id", flat=True))
    elsewhere = Annotation.objects.filter(study=labelled["other"], annotator=spammer)
    assert elsewhere.count() == 1 and set(elsewhere.values_list("id", flat=True)) <= counted_ids(
        labelled["other"]
    )


def test_agreement_report_loads_exactly_the_rows_of_the_selector(study, labelled):
    ratings = load_ratings(study=study)
    assert sorted(ratings.ann_ids.tolist()) == sorted(counted_ids(study))
    assert ratings.watermark == selectors.annotation_watermark(study=study)
    report = services.agreement_run_now(study=study, n_resamples=20)
    assert report.status == "done", report.error
    assert report.result["watermark"] == selectors.annotation_watermark(study=study)


def test_every_read_path_of_labels_counts_what_the_selector_counts(study, researcher, labelled):
    ids = counted_ids(study)
    api = APIClient()
    api.force_authenticate(researcher)
    listed = api.get(f"/api/studies/{study.pk}/annotations/?page_size=500").json()["results"]
    assert {row["id"] for row in listed} == ids
    assert api.get(f"/api/studies/{study.pk}/").json()["annotation_count"] == len(ids)
    members = api.get(f"/api/studies/{study.pk}/members/").json()["results"]
    assert sum(m["annotation_count"] for m in members) == len(ids)

    request = RequestFactory().get("/admin/labeling/annotation/")
    request.user = UserFactory(is_staff=True, is_superuser=True)
    shown = admin.site.get_model_admin(Annotation).get_queryset(request).filter(study=study)
    assert set(shown.values_list("id", flat=True)) == ids

    assert selectors.study_rating_rate(study=study)["last_day"] == len(ids)
    assert {a.pk for a in selectors.study_recent_annotations(study=study, limit=100)} == ids
    versions = selectors.scheme_versions_with_counts(versions=study.schemes.all())
    assert sum(v.annotation_count for v in versions) == len(ids)


def test_every_studys_labels_for_the_admin_and_a_count_per_study(study, labelled):
    everywhere = set(selectors.annotations_for_analysis(study=None).values_list("id", flat=True))
    assert everywhere == counted_ids(study) | counted_ids(labelled["other"])
    both = type(study).objects.filter(pk__in=[study.pk, labelled["other"].pk])
    counted = selectors.studies_with_counts(studies=both, annotations=True)  # a correlated count per study
    assert {s.pk: s.annotation_count for s in counted} == {study.pk: 6, labelled["other"].pk: 2}


def test_researcher_filters_narrow_the_labels_that_count(study, labelled):
    every = selectors.annotations_for_researcher(study=study)
    assert set(every.values_list("id", flat=True)) == counted_ids(study)
    one = every.first()
    by_clip = selectors.annotations_for_researcher(study=study, clip_id=one.clip_id)
    assert {a.clip_id for a in by_clip} == {one.clip_id} and by_clip.count() == 2
    by_annotator = selectors.annotations_for_researcher(study=study, annotator_id=one.annotator_id)
    assert {a.annotator_id for a in by_annotator} == {one.annotator_id} and by_annotator.count() == 3
    assert selectors.annotations_for_researcher(study=study, clip_id=labelled["clip_gone"].pk).count() == 0
    assert selectors.annotations_for_researcher(study=study, annotator_id=labelled["spammer"].pk).count() == 0
    later = timezone.now() + timedelta(minutes=1)
    assert selectors.annotations_for_researcher(study=study, since=later).count() == 0


def test_recent_annotations_newest_first(dashboard_setup):
    recent = selectors.study_recent_annotations(study=dashboard_setup["study"], limit=10)
    assert len(recent) == 6
    assert [a.created_at for a in recent] == sorted((a.created_at for a in recent), reverse=True)
    assert recent[0].annotator_id == dashboard_setup["members"][0].user_id  # m1 rated clip c last
