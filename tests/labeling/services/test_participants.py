"""Participants and their consent (labeling/services/participants.py): participant_create validates and adds;
participant_update changes the consent scopes, logs one event per scope taken away or given back, and takes
the participant's clips out of the queue when consent to annotation goes (the withdrawal's own step, on both
write paths on PostgreSQL); clips cannot be made active while consent is absent, a new clip of theirs is
added inactive, and giving consent back reactivates nothing by itself. The media view refuses annotators."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from labeling import services
from labeling.errors import Conflict, ValidationFailed
from labeling.models import Assignment, Clip, Participant, ParticipantEvent
from tests.factories import ClipFactory, MembershipFactory, rate_next
from tests.labeling.upload_helpers import create

pytestmark = pytest.mark.django_db


def events(participant):
    return list(
        ParticipantEvent.objects.filter(participant=participant)
        .order_by("id")
        .values_list("action", "scope", "note", "clips")
    )


def test_create_stores_the_consent_given(study, researcher):
    p = services.participant_create(
        study=study,
        code="P-01",
        by=researcher,
        consent_version="v2.1",
        consent_date=dt.date(2026, 3, 1),
        consent_media_sharing=True,
        consent_self_reports_export=True,
        consent_scope="May be shown at conferences.\nNot in print.",
        age_band="25-34",
        gender="  non-binary ",
    )
    p.refresh_from_db()
    assert (p.consent_version, p.consent_date, p.age_band, p.gender) == (
        "v2.1",
        dt.date(2026, 3, 1),
        "25-34",
        "non-binary",
    )
    assert p.consents_to("annotation") and p.consents_to("labels_export")  # defaults
    assert p.consents_to("media_sharing") and p.consents_to("self_reports_export")
    assert events(p) == []  # a new person's consent is not a change


def test_create_refuses_every_bad_value_at_once_and_writes_nothing(study, researcher):
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    with pytest.raises(ValidationFailed) as caught:
        services.participant_create(
            study=study,
            code="P-01",
            by=researcher,
            age_band="30ish",
            gender="x" * 65,
            consent_date=tomorrow,
            consent_annotation="maybe",
            consent_version="v1\x00",
        )
    assert set(caught.value.errors) == {
        "age_band", "gender", "consent_date", "consent_annotation", "consent_version",
    }  # fmt: skip
    message = caught.value.message
    assert "cannot be in the future" in message and "at most 64 characters" in message
    assert "must be one of: under 18, 18-24" in message and "true or false" in message
    assert not Participant.objects.exists()


@pytest.mark.parametrize(
    ("fields", "key"),
    [
        ({"gender": "woman\nsecond line"}, "gender"),
        ({"consent_date": "yesterday"}, "consent_date"),
        ({"name": "Alice"}, "name"),
        ({"consent_version": "v" * 65}, "consent_version"),
    ],
)
def test_update_refuses_a_bad_value_and_changes_nothing(study, researcher, fields, key):
    p = services.participant_create(study=study, code="P-01", gender="man")
    with pytest.raises(ValidationFailed) as caught:
        services.participant_update(
            participant=p, by=researcher, fields={**fields, "consent_annotation": False}
        )
    assert key in caught.value.errors
    p.refresh_from_db()
    assert p.gender == "man" and p.consent_annotation and events(p) == []


def test_a_taken_code_is_a_conflict(study):
    services.participant_create(study=study, code="P-01")
    with pytest.raises(Conflict, match="P-01 is already in this study"):
        services.participant_create(study=study, code=" P-01 ")


def test_each_scope_taken_away_or_given_back_is_one_event_without_personal_data(study, researcher):
    p = services.participant_create(study=study, code="P-01", consent_media_sharing=True)
    ClipFactory.create_batch(2, study=study, participant=p)
    change = services.participant_update(
        participant=p,
        by=researcher,
        fields={
            "consent_media_sharing": False,
            "consent_self_reports_export": True,
            "gender": "woman",
            "age_band": "65+",
        },
        note="form v3 signed",
    )
    assert (change.taken_away, change.given_back) == (["media_sharing"], ["self_reports_export"])
    assert events(p) == [
        ("withdrawn", "media_sharing", "form v3 signed", 2),
        ("reinstated", "self_reports_export", "form v3 signed", 2),
    ]
    assert all(e.by == researcher for e in ParticipantEvent.objects.filter(participant=p))
    # Demographics alone, or the same values again: nothing logged.
    services.participant_update(
        participant=p, by=researcher, fields={"gender": "a woman", "consent_media_sharing": False}
    )
    assert len(events(p)) == 2
    p.refresh_from_db()
    assert p.gender == "a woman" and not p.consent_media_sharing


def test_annotation_consent_taken_away_takes_the_clips_out_of_the_queue(study, researcher, write_path):
    """The queue never serves the clip again: it goes inactive, its open lease ends now and its slot comes
    back; nothing reactivates it but the researcher, once consent is given back."""
    p = services.participant_create(study=study, code="P-01")
    theirs = ClipFactory(study=study, participant=p)
    other = ClipFactory(study=study)
    member = MembershipFactory(study=study)
    lease = rate_next(member, submit=False)
    held = lease.clip_id

    change = services.participant_update(
        participant=p, by=researcher, fields={"consent_annotation": False}, note="asked"
    )

    assert change.taken_away == ["annotation"] and "left the queue" in change.notices[0]
    assert events(p) == [("withdrawn", "annotation", "asked", 1)]
    theirs.refresh_from_db()
    assert not theirs.is_active and theirs.withdrawn_at is None  # out of the queue, not withdrawn
    if held == theirs.pk:
        assert Assignment.objects.get(pk=lease.pk).status == Assignment.Status.EXPIRED
        assert theirs.n_assigned == 0
    # However many annotators ask, only the other clip is ever served.
    served = set()
    for _ in range(4):
        a = services.assignment_claim_next(membership=MembershipFactory(study=study))
        if a is not None:
            served.add(a.clip_id)
    assert theirs.pk not in served and served <= {other.pk}

    # Activation is refused while consent is absent, and changes nothing.
    with pytest.raises(ValidationFailed, match="P-01 does not consent to annotation"):
        services.clip_update(clip=theirs, is_active=True)
    assert not Clip.objects.get(pk=theirs.pk).is_active

    # Given back: the clip stays inactive (the notice says so) until the researcher activates it.
    change = services.participant_update(
        participant=p, by=researcher, fields={"consent_annotation": True}, note="re-consented"
    )
    assert "stay inactive" in change.notices[0]
    assert not Clip.objects.get(pk=theirs.pk).is_active
    assert events(p)[-1] == ("reinstated", "annotation", "re-consented", 1)
    services.clip_update(clip=theirs, is_active=True)
    assert Clip.objects.get(pk=theirs.pk).is_active


def test_an_active_clip_cannot_be_given_to_a_participant_without_annotation_consent(study):
    no = services.participant_create(study=study, code="P-no", consent_annotation=False)
    clip = ClipFactory(study=study)
    with pytest.raises(ValidationFailed, match="P-no does not consent"):
        services.clip_update(clip=clip, participant=no)
    assert Clip.objects.get(pk=clip.pk).participant is None
    # Inactive first, then given: allowed (it stays out of the queue).
    services.clip_update(clip=clip, is_active=False)
    services.clip_update(clip=clip, participant=no)
    assert Clip.objects.get(pk=clip.pk).participant == no


def test_a_new_clip_of_a_participant_without_annotation_consent_is_added_inactive(
    study, media_root, good_mp4
):
    services.participant_create(study=study, code="P-no", consent_annotation=False)
    clip = create(study, good_mp4, participant_code="P-no")
    assert not clip.is_active
    assert "does not consent to annotation" in services.clip_inactive_reason(clip)
    assert services.clip_inactive_reason(ClipFactory(study=study)) == ""


def test_reinstating_a_withdrawn_participant_without_annotation_consent_keeps_the_clips_inactive(
    study, researcher
):
    p = services.participant_create(study=study, code="P-01", consent_annotation=False)
    clip = ClipFactory(study=study, participant=p, is_active=False)
    services.participant_withdraw(participant=p, by=researcher)
    services.participant_reinstate(participant=p, by=researcher, note="mistake")
    clip.refresh_from_db()
    assert clip.withdrawn_at is None and not clip.is_active


def test_a_withdrawal_and_consent_events_keep_their_scopes(study, researcher):
    p = services.participant_create(study=study, code="P-01")
    services.participant_update(participant=p, by=researcher, fields={"consent_labels_export": False})
    services.participant_withdraw(participant=p, by=researcher, note="asked")
    assert [(a, s) for a, s, _, _ in events(p)] == [("withdrawn", "labels_export"), ("withdrawn", "all")]


def test_annotators_cannot_fetch_media_of_a_clip_without_annotation_consent(
    study, researcher, media_root, good_mp4, client
):
    """Even a clip left active with a live lease (written around the services): 404 like an unknown clip
    for the annotator, served to researchers."""
    p = services.participant_create(study=study, code="P-01")
    clip = create(study, good_mp4, participant_code="P-01")
    member = MembershipFactory(study=study)
    assert rate_next(member, submit=False).clip_id == clip.pk
    client.force_login(member.user)
    for name in ("clip-media", "clip-poster"):
        assert client.get(reverse(name, args=[clip.pk])).status_code == 200
    Participant.objects.filter(pk=p.pk).update(consent_annotation=False)
    unknown = client.get(reverse("clip-media", args=[10**9]))
    for name in ("clip-media", "clip-poster"):
        response = client.get(reverse(name, args=[clip.pk]))
        assert response.status_code == 404 and response.content == unknown.content
    client.force_login(researcher)
    for name in ("clip-media", "clip-poster"):
        assert client.get(reverse(name, args=[clip.pk])).status_code == 200
