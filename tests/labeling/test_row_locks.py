"""Row locks on parent rows never hold off the inserts that reference them (PostgreSQL).

An INSERT checks each foreign key with a KEY SHARE lock on the referenced row. FOR UPDATE blocks it, FOR NO KEY
UPDATE does not. So while a researcher's change holds the study row (or a used scheme's row), annotators in that
study must still be able to claim (an Assignment insert) and submit (an Annotation insert). Each test holds the
service's locks open in a second connection and claims and submits in this one with a short lock timeout: a
claim that had to wait would fail with "lock timeout" instead of waiting.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from django.db import OperationalError, connection, transaction

from labeling import selectors, services
from labeling.models import Assignment, SchemeVersion
from tests.factories import ClipFactory, MembershipFactory, StudyFactory, rating_data

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

LOCK_TIMEOUT = "1s"


@contextmanager
def held_open(action: Callable[[], object]) -> Iterator[None]:
    """Run `action` in a transaction on another connection and keep that transaction (and its row locks)
    open until the block ends; then commit it. The action's own errors fail the test."""
    done, release, errors = threading.Event(), threading.Event(), []

    def run() -> None:
        try:
            with transaction.atomic():
                action()
                done.set()
                release.wait(timeout=30)
        except BaseException as exc:  # noqa: BLE001 -- reported below
            errors.append(exc)
        finally:
            done.set()
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    try:
        assert done.wait(timeout=30), "the locking action did not finish"
        assert not errors, errors
        yield
    finally:
        release.set()
        thread.join(timeout=30)
    assert not errors, errors


@contextmanager
def lock_timeout() -> Iterator[None]:
    """Statements in this block give up on a row lock after LOCK_TIMEOUT instead of waiting."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        yield


def claim_and_submit(member, held) -> None:
    """A new lease (an Assignment insert) and a rating of a lease already held (an Annotation insert)."""
    with lock_timeout():
        assert services.assignment_claim_next(membership=member) is not None
    with lock_timeout():
        assignment = selectors.assignment_for_annotator(user=held.annotator, assignment_id=held.pk)
        _, created = services.annotation_submit(assignment=assignment, data=rating_data())
    assert created


@pytest.fixture
def running_study(write_path):
    """A study with clips, one annotator holding a lease and one about to claim."""
    study = StudyFactory(overlap_k=3)
    ClipFactory.create_batch(6, study=study)
    holder, claimer = MembershipFactory(study=study), MembershipFactory(study=study)
    held = services.assignment_claim_next(membership=holder)
    return study, claimer, held


def test_claims_and_submits_go_on_while_a_study_update_holds_the_study_row(running_study):
    study, claimer, held = running_study
    # (A change of K also rewrites every clip's target, so it holds the clip rows too: that wait is the clips'.)
    with held_open(lambda: services.study_update(study=study, fields={"title": "Renamed"})):
        claim_and_submit(claimer, held)
    study.refresh_from_db()
    assert study.title == "Renamed"


def test_claims_and_submits_go_on_while_a_used_scheme_gets_its_next_version(running_study):
    study, claimer, held = running_study  # the held lease uses version 1, so an edit makes version 2
    with held_open(lambda: services.study_update(study=study, fields={}, scheme={"instrument": "slider"})):
        claim_and_submit(claimer, held)
    assert list(SchemeVersion.objects.filter(study=study).values_list("version", flat=True)) == [2, 1]


def test_an_unused_scheme_edited_in_place_holds_off_the_first_lease_until_it_commits(write_path):
    """The one deliberate FOR UPDATE: a version nothing uses may be edited in place only if no lease can take
    it meanwhile, so the first claim waits for the edit (here: gives up after the lock timeout)."""
    study = StudyFactory()
    ClipFactory.create_batch(2, study=study)
    member = MembershipFactory(study=study)
    with held_open(lambda: services.study_scheme_update(study=study, spec={"instrument": "slider"})):
        with pytest.raises(OperationalError, match="lock timeout"), lock_timeout():
            services.assignment_claim_next(membership=member)
    assignment = services.assignment_claim_next(membership=member)
    assert assignment.scheme_version.version == 1 and assignment.scheme_version.spec["instrument"] == "slider"
    assert not Assignment.objects.filter(study=study).exclude(pk=assignment.pk).exists()
