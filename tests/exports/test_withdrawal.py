"""Withdrawal, on the exports side (exports/withdrawal.py, answering labeling/hooks.py).

Withdrawing a participant or an annotator's labels marks every export of the study that holds their data (a
date and what kind, never who); other studies' exports and exports without that data are left alone; a
reinstatement un-marks nothing; an annotator's withdrawal cannot be undone once an export has been built
after it. Export rows are made directly here (status, watermark, times), so these tests need no builder.
"""

from datetime import timedelta

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from exports.models import Export
from labeling import services
from labeling.errors import Conflict
from labeling.models import Annotation, AnnotatorEvent, Clip, Membership, Participant
from tests.factories import ClipFactory, MembershipFactory, StudyFactory, rate_next

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)


def export(study, status=Export.Status.DONE, *, finished_at=None, started_at=None, watermark_last_id=0):
    version = Export.objects.filter(study=study).count() + 1
    return Export.objects.create(
        study=study,
        version=version,
        parameters={},
        status=status,
        watermark_last_id=watermark_last_id,
        started_at=started_at,
        finished_at=finished_at,
        folder=f"{study.pk}/v{version}" if status == Export.Status.DONE else "",
        salt="s" * 32,
    )


def marks(*exports) -> list[tuple[bool, str]]:
    out = []
    for e in exports:
        e.refresh_from_db()
        out.append((e.withdrawn_data_at is not None, e.withdrawn_note))
    return out


def today() -> str:
    return f"{timezone.localtime():%Y-%m-%d}"


PARTICIPANT_NOTE = "Holds data of a participant who withdrew on {}; build a new export."
ANNOTATOR_NOTE = "Holds ratings of an annotator whose labels were withdrawn on {}; build a new export."
UNMARKED = (False, "")


@pytest.fixture
def setup(study, researcher):
    """A study whose clip of participant P-7 was rated by two annotators; a second study with an export."""
    participant = Participant.objects.create(study=study, code="P-7")
    clip = ClipFactory(study=study, participant=participant)
    ClipFactory(study=study)
    members = [MembershipFactory(study=study) for _ in range(2)]
    for member in members:
        rate_next(member)
        rate_next(member)
    other = StudyFactory()
    return {"participant": participant, "clip": clip, "members": members, "other": other}


def test_a_participants_withdrawal_marks_the_exports_that_hold_their_clips(study, researcher, setup):
    now = timezone.now()
    clip_made = setup["clip"].created_at
    holds = export(study, finished_at=now, watermark_last_id=1)
    before_the_clip = export(study, finished_at=clip_made - HOUR)  # built before the clip existed
    running_before = export(study, Export.Status.RUNNING, started_at=now - HOUR)  # its reads may predate
    pending = export(study, Export.Status.PENDING)  # builds later, from the labels that count then
    failed = export(study, Export.Status.FAILED, finished_at=now)
    elsewhere = export(setup["other"], finished_at=now)
    services.participant_withdraw(participant=setup["participant"], by=researcher, note="asked")
    note = PARTICIPANT_NOTE.format(today())
    assert marks(holds, running_before) == [(True, note)] * 2
    assert marks(before_the_clip, pending, failed, elsewhere) == [UNMARKED] * 4
    assert "P-7" not in note  # a date and what kind, never who
    # A reinstatement does not un-mark anything, and a second withdrawal keeps the first note.
    services.participant_reinstate(participant=setup["participant"], by=researcher, note="mistake")
    assert marks(holds) == [(True, note)]


def test_an_annotators_withdrawal_marks_the_exports_at_or_above_their_first_label(study, researcher, setup):
    spammer = setup["members"][0]
    theirs = sorted(Annotation.objects.filter(annotator=spammer.user).values_list("id", flat=True))
    now = timezone.now()
    holds = export(study, finished_at=now, watermark_last_id=theirs[0])
    before_them = export(study, finished_at=now, watermark_last_id=theirs[0] - 1)
    elsewhere = export(setup["other"], finished_at=now, watermark_last_id=10**9)
    services.annotator_labels_withdraw(membership=spammer, by=researcher, note="spam")
    note = ANNOTATOR_NOTE.format(today())
    assert marks(holds, before_them, elsewhere) == [(True, note), UNMARKED, UNMARKED]
    assert spammer.user.username not in note


def test_an_already_marked_export_keeps_its_first_note(study, researcher, setup):
    done = export(study, finished_at=timezone.now(), watermark_last_id=10**9)
    services.participant_withdraw(participant=setup["participant"], by=researcher)
    first = marks(done)
    services.annotator_labels_withdraw(membership=setup["members"][1], by=researcher, note="spam")
    assert marks(done) == first == [(True, PARTICIPANT_NOTE.format(today()))]


def test_a_rolled_back_withdrawal_marks_nothing(study, researcher, setup):
    done = export(study, finished_at=timezone.now(), watermark_last_id=10**9)

    def withdraw_then_fail():
        with transaction.atomic():
            services.annotator_labels_withdraw(membership=setup["members"][0], by=researcher, note="spam")
            assert marks(done)[0][0]  # marked in the withdrawal's transaction ...
            raise RuntimeError("the request failed after the withdrawal")

    with pytest.raises(RuntimeError):
        withdraw_then_fail()
    assert marks(done) == [UNMARKED]  # ... and rolled back with it
    assert Membership.objects.get(pk=setup["members"][0].pk).labels_withdrawn_at is None


# ---- reinstatement: reversible until an export is built --------------------------------------------------


def state(membership):
    membership.refresh_from_db()
    clips = Clip.objects.filter(study_id=membership.study_id).order_by("pk")
    return (
        membership.labels_withdrawn_at,
        AnnotatorEvent.objects.count(),
        list(clips.values_list("target_k", "extra_k")),
    )


def test_reinstating_works_before_an_export_and_is_refused_after_one(study, researcher, setup):
    spammer = setup["members"][0]
    export(study, finished_at=timezone.now() - HOUR, watermark_last_id=10**9)  # built before the withdrawal
    export(study, Export.Status.FAILED, finished_at=timezone.now() + HOUR)  # a failed build built nothing
    services.annotator_labels_withdraw(membership=spammer, by=researcher, note="spam")
    services.annotator_labels_reinstate(membership=spammer, by=researcher, note="mistake")
    spammer.refresh_from_db()
    assert spammer.labels_withdrawn_at is None

    services.annotator_labels_withdraw(membership=spammer, by=researcher, note="spam after all")
    built = export(study, finished_at=timezone.now() + timedelta(seconds=1))
    before = state(spammer)
    with pytest.raises(Conflict) as refused:
        services.annotator_labels_reinstate(membership=spammer, by=researcher, note="mistake")
    assert refused.value.message == (
        f"Export v{built.version} of this study was built on {built.finished_at:%Y-%m-%d} after the "
        "withdrawal, without these labels: the withdrawal can no longer be undone."
    )
    assert state(spammer) == before  # nothing changed


def test_an_export_being_built_after_the_withdrawal_refuses_it_too(study, researcher, setup):
    spammer = setup["members"][0]
    services.annotator_labels_withdraw(membership=spammer, by=researcher, note="spam")
    export(study, Export.Status.PENDING)
    with pytest.raises(Conflict, match="is being built after the withdrawal"):
        services.annotator_labels_reinstate(membership=spammer, by=researcher, note="mistake")


def test_the_refusal_reaches_the_admin_and_the_api(client, study, researcher, setup):
    spammer = setup["members"][0]
    services.annotator_labels_withdraw(membership=spammer, by=researcher, note="spam")
    export(study, finished_at=timezone.now() + timedelta(seconds=1))
    api = APIClient()
    api.force_authenticate(researcher)
    response = api.post(
        f"/api/studies/{study.pk}/members/{spammer.pk}/labels/reinstate/", {"note": "mistake"}, format="json"
    )
    assert response.status_code == 409 and "can no longer be undone" in response.json()["detail"]

    boss = type(researcher).objects.create(username="boss", is_staff=True, is_superuser=True)
    client.force_login(boss)
    page = client.post(
        reverse("admin:labeling_membership_changelist"),
        {"action": "reinstate_labels", "_selected_action": [spammer.pk], "confirm": "1", "note": "mistake"},
        follow=True,
    ).content.decode()
    assert "can no longer be undone" in page
    assert Membership.objects.get(pk=spammer.pk).labels_withdrawn_at is not None
