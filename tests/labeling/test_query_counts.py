"""Queries per claim and per submit are fixed: they do not grow with the size of the study."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from labeling import selectors, services
from labeling.models import Clip
from tests.factories import ClipFactory, MembershipFactory, StudyFactory
from tests.factories import rating_data as rating


def _study_with_history(n_clips: int):
    """A study of `n_clips` clips where other annotators already rated some, plus a fresh annotator."""
    study = StudyFactory()
    Clip.objects.bulk_create([ClipFactory.build(study=study) for _ in range(n_clips)])
    for _ in range(2):
        other = MembershipFactory(study=study, user__password=None)
        for _ in range(5):
            services.annotation_submit(
                assignment=services.assignment_claim_next(membership=other), data=rating()
            )
    return study, MembershipFactory(study=study, user__password=None)


def _count(fn) -> tuple[int, object, list[str]]:
    with CaptureQueriesContext(connection) as ctx:
        result = fn()
    return len(ctx.captured_queries), result, [q["sql"] for q in ctx.captured_queries]


@pytest.mark.django_db
def test_claim_and_submit_queries_do_not_grow_with_study_size():
    counts = {}
    for n_clips in (10, 1000):
        study, member = _study_with_history(n_clips)
        member = type(member).objects.select_related("study").get(pk=member.pk)
        claim_n, assignment, claim_sql = _count(lambda m=member: services.assignment_claim_next(membership=m))
        assert assignment is not None
        again_n, same, _ = _count(lambda m=member: services.assignment_claim_next(membership=m))
        assert same.pk == assignment.pk  # the annotator's own open lease comes back
        submit_n, (annotation, created), submit_sql = _count(
            lambda a=assignment: services.annotation_submit(assignment=a, data=rating())
        )
        assert created and annotation.clip_id == assignment.clip_id
        counts[n_clips] = (claim_n, again_n, submit_n)
    assert counts[10] == counts[1000], counts


@pytest.mark.django_db
def test_claim_and_submit_query_counts_are_pinned(django_assert_num_queries):
    """Pinned per backend so that a change on the hot path is a deliberate one (update the numbers here)."""
    study, member = _study_with_history(50)
    member = type(member).objects.select_related("study").get(pk=member.pk)
    expected = PINNED[connection.vendor]
    with django_assert_num_queries(expected["claim"]):
        assignment = services.assignment_claim_next(membership=member)
    with django_assert_num_queries(expected["claim_own_lease"]):
        assert services.assignment_claim_next(membership=member).pk == assignment.pk
    # As the API hands it over: fetched for its owner with study, clip and scheme (outside the count).
    assignment = selectors.assignment_for_annotator(user=member.user, assignment_id=assignment.pk)
    data = rating()
    with django_assert_num_queries(expected["submit"]):
        services.annotation_submit(assignment=assignment, data=data)
    with django_assert_num_queries(expected["submit_retry"]):
        _, created = services.annotation_submit(assignment=assignment, data=data)
    assert not created


# Inside the test's transaction each atomic block adds SAVEPOINT + RELEASE. PostgreSQL claims and submits
# with one statement each (labeling/services/_pg.py): claim = own-lease probe + the statement, submit = the
# statement (the annotator's own open lease included); outside a transaction each runs bare (one round trip).
# SQLite takes the general path, which asks once whether the annotator has rated yet (a first lease is
# short: issue 6); PostgreSQL asks inside its one statement.
PINNED = {
    "postgresql": {"claim": 3, "claim_own_lease": 3, "submit": 3, "submit_retry": 1},
    "sqlite": {"claim": 9, "claim_own_lease": 2, "submit": 6, "submit_retry": 1},
}


@pytest.mark.django_db
def test_consent_adds_no_query_to_the_claim(django_assert_num_queries):
    """Clips of a participant who does not consent to annotation are kept out by being inactive (set when
    consent goes, refused activation while it is absent), so the claim asks nothing more."""
    study, member = _study_with_history(50)
    refuses = services.participant_create(study=study, code="P-no")
    Clip.objects.filter(
        study=study, pk__in=Clip.objects.filter(study=study, n_assigned=0).values("pk")[:40]
    ).update(participant=refuses)
    services.participant_update(participant=refuses, by=None, fields={"consent_annotation": False})
    member = type(member).objects.select_related("study").get(pk=member.pk)
    with django_assert_num_queries(PINNED[connection.vendor]["claim"]):
        assignment = services.assignment_claim_next(membership=member)
    assert assignment.clip.participant_id != refuses.pk
