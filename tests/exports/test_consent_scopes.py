"""A consent scope taken back marks the exports that hold that data (exports/withdrawal.py, kind
"participant_scope", sent by labeling.services.participant_update inside its transaction).

labels_export: exports that hold the participant's clips; media_sharing: only those built with media;
self_reports_export: exports built while the consent held and after a self-report of theirs existed.
Consent to annotation marks nothing; a build that was reading when the scope was taken back is marked at
its end. Export rows are made directly (status, times, parameters), as in test_withdrawal.py.
"""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from exports.models import Export
from exports.withdrawal import exports_mark_withdrawn_during_build
from labeling import services
from labeling.models import ParticipantEvent, SelfReport
from tests.exports.test_withdrawal import UNMARKED, export, marks, today
from tests.factories import ClipFactory, StudyFactory

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)


def note(what: str, scope: str, date: str | None = None) -> str:
    return (
        f"Holds {what} of a participant who took back consent scope {scope} on {date or today()}; "
        "build a new export."
    )


@pytest.fixture
def filmed(study):
    p = services.participant_create(
        study=study, code="P-7", consent_media_sharing=True, consent_self_reports_export=True
    )
    clip = ClipFactory(study=study, participant=p)
    return p, clip


def with_media(study, **kw):
    e = export(study, **kw)
    Export.objects.filter(pk=e.pk).update(parameters={"include_media": True})
    return e


def self_report(study, participant, clip, at):
    return SelfReport.objects.create(
        study=study, participant=participant, clip=clip, instrument="sam", scale_points=9, valence=0.5,
        valence_raw=7, reported_at=at, source="imported", created_at=at,
    )  # fmt: skip


def take_back(participant, researcher, **fields):
    return services.participant_update(participant=participant, by=researcher, fields=fields, note="asked")


def test_labels_export_taken_back_marks_the_exports_holding_their_clips(study, researcher, filmed):
    p, clip = filmed
    now = timezone.now()
    holds = export(study, finished_at=now)
    before_the_clip = export(study, finished_at=clip.created_at - HOUR)
    pending = export(study, Export.Status.PENDING)
    elsewhere = export(StudyFactory(), finished_at=now)
    take_back(p, researcher, consent_labels_export=False)
    assert marks(holds) == [(True, note("labels", "labels_export"))]
    assert marks(before_the_clip, pending, elsewhere) == [UNMARKED] * 3
    assert "P-7" not in marks(holds)[0][1]  # the scope and a date, never who


def test_media_sharing_taken_back_marks_only_exports_built_with_media(study, researcher, filmed):
    p, _ = filmed
    now = timezone.now()
    media = with_media(study, finished_at=now)
    labels_only = export(study, finished_at=now)
    take_back(p, researcher, consent_media_sharing=False)
    assert marks(media, labels_only) == [(True, note("media", "media_sharing")), UNMARKED]


def test_self_reports_taken_back_marks_exports_built_while_consented_after_a_report(
    study, researcher, filmed
):
    p, clip = filmed
    now = timezone.now()
    self_report(study, p, clip, at=now - 3 * HOUR)
    before_any_report = export(study, finished_at=now - 4 * HOUR)
    holds = export(study, finished_at=now - 2 * HOUR)
    take_back(p, researcher, consent_self_reports_export=False)
    assert marks(holds, before_any_report) == [(True, note("self-reports", "self_reports_export")), UNMARKED]


def test_self_reports_exports_built_before_consent_was_given_back_are_left_alone(study, researcher):
    p = services.participant_create(study=study, code="P-8")  # no consent to export self-reports at first
    clip = ClipFactory(study=study, participant=p)
    self_report(study, p, clip, at=timezone.now() - 3 * HOUR)
    without_consent = export(study, finished_at=timezone.now() - HOUR)
    take_back(p, researcher, consent_self_reports_export=True)  # given
    with_consent = export(study, finished_at=timezone.now() + timedelta(seconds=1))
    take_back(p, researcher, consent_self_reports_export=False)  # and taken back
    assert marks(without_consent) == [UNMARKED]
    assert marks(with_consent)[0][0]


def test_participant_without_self_reports_marks_nothing_for_that_scope(study, researcher, filmed):
    p, _ = filmed
    done = export(study, finished_at=timezone.now())
    take_back(p, researcher, consent_self_reports_export=False)
    assert marks(done) == [UNMARKED]


def test_annotation_consent_marks_no_export(study, researcher, filmed):
    p, _ = filmed
    done = with_media(study, finished_at=timezone.now())
    take_back(p, researcher, consent_annotation=False)
    assert marks(done) == [UNMARKED]


def test_marking_commits_with_the_change_or_not_at_all(study, researcher, filmed):
    p, _ = filmed
    done = export(study, finished_at=timezone.now())

    def change_then_fail():
        with transaction.atomic():
            take_back(p, researcher, consent_labels_export=False)
            assert marks(done)[0][0]
            raise RuntimeError("the request failed")

    with pytest.raises(RuntimeError):
        change_then_fail()
    assert marks(done) == [UNMARKED]
    p.refresh_from_db()
    assert p.consent_labels_export and not ParticipantEvent.objects.filter(participant=p).exists()


def test_a_scope_taken_back_while_a_build_read_marks_it_when_it_finishes(study, researcher, filmed):
    p, _ = filmed
    now = timezone.now()
    built = with_media(study, finished_at=now, started_at=now - HOUR)
    ParticipantEvent.objects.create(participant=p, action="withdrawn", scope="annotation", at=now - HOUR / 3)
    assert exports_mark_withdrawn_during_build(export_id=built.pk) == 0  # annotation: nothing to mark
    ParticipantEvent.objects.create(
        participant=p, action="withdrawn", scope="media_sharing", at=now - HOUR / 2
    )
    assert exports_mark_withdrawn_during_build(export_id=built.pk) == 1
    date = f"{timezone.localtime(now - HOUR / 2):%Y-%m-%d}"
    assert marks(built) == [(True, note("media", "media_sharing", date))]
