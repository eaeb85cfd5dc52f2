"""Issue 6, findings 10 and 11: withdrawal means withdrawal.

A withdrawn participant's labels and clips are out of every read path (API, study page, admin lists, media,
for researchers and superusers too); nothing undoes a withdrawal silently (ticking `is_active`, moving the
clip, uploading a new clip for them), only an explicit, logged reinstatement; a refused upload leaves no
participant row behind.
"""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction

from labeling import services
from labeling.errors import ValidationFailed
from labeling.models import Annotation, Clip, Participant, ParticipantEvent
from tests.factories import ClipFactory, MembershipFactory, UserFactory, rating_data


@pytest.fixture
def withdrawn(study, researcher):
    """A study with two rated clips: one of participant P-01 (who then withdraws), one of P-02."""
    gone = Participant.objects.create(study=study, code="P-01")
    kept = Participant.objects.create(study=study, code="P-02")
    clip_gone = ClipFactory(study=study, participant=gone)
    clip_kept = ClipFactory(study=study, participant=kept)
    for _ in range(2):
        member = MembershipFactory(study=study)
        while (a := services.assignment_claim_next(membership=member)) is not None:
            services.annotation_submit(assignment=a, data=rating_data())
    services.participant_withdraw(participant=gone, by=researcher, note="asked by e-mail")
    return {"gone": gone, "kept": kept, "clip_gone": clip_gone, "clip_kept": clip_kept}


def test_withdrawn_participants_ratings_are_not_returned_by_the_annotations_api(
    client, study, researcher, withdrawn
):
    client.force_login(researcher)
    rows = client.get(f"/api/studies/{study.pk}/annotations/?page_size=500").json()["results"]
    assert {r["clip"] for r in rows} == {withdrawn["clip_kept"].pk}
    assert len(rows) == 2
    by_clip = client.get(f"/api/studies/{study.pk}/annotations/?clip={withdrawn['clip_gone'].pk}").json()
    assert by_clip["results"] == []
    # Kept in the database (never lost), just never served.
    assert Annotation.objects.filter(clip=withdrawn["clip_gone"]).count() == 2


def test_withdrawn_clip_is_gone_from_the_clip_api(client, study, researcher, withdrawn):
    client.force_login(researcher)
    listed = client.get(f"/api/studies/{study.pk}/clips/").json()["results"]
    assert [c["id"] for c in listed] == [withdrawn["clip_kept"].pk]
    assert client.get(f"/api/studies/{study.pk}/clips/{withdrawn['clip_gone'].pk}/").status_code == 404


@pytest.mark.parametrize("suffix", ["", "poster/"])
def test_withdrawn_clip_media_is_not_streamed_to_researchers_or_superusers(
    client, study, researcher, withdrawn, suffix
):
    boss = UserFactory(is_staff=True, is_superuser=True)
    for who in (researcher, boss):
        client.force_login(who)
        assert client.get(f"/media/clips/{withdrawn['clip_gone'].pk}/{suffix}").status_code == 404


def test_withdrawn_ratings_leave_the_study_page_and_the_admin(client, study, researcher, withdrawn):
    boss = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(boss)
    page = client.get(f"/studies/{study.pk}/").content.decode()
    assert withdrawn["clip_gone"].original_name not in page
    assert withdrawn["clip_kept"].original_name in page
    admin_list = client.get("/admin/labeling/annotation/").content.decode()
    assert withdrawn["clip_gone"].original_name not in admin_list
    held = client.get("/admin/labeling/assignment/").content.decode()  # who held it is theirs too
    assert withdrawn["clip_gone"].original_name not in held and withdrawn["clip_kept"].original_name in held
    change = client.get(f"/admin/labeling/clip/{withdrawn['clip_gone'].pk}/change/").content.decode()
    assert "has withdrawn" in change and "<video" not in change


def test_ticking_is_active_on_a_withdrawn_clip_is_refused_and_changes_nothing(client, study, withdrawn):
    boss = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(boss)
    clip = withdrawn["clip_gone"]
    response = client.post(
        f"/admin/labeling/clip/{clip.pk}/change/", {"participant": withdrawn["gone"].pk, "is_active": "on"}
    )
    assert response.status_code == 200 and "has withdrawn" in response.content.decode()
    clip.refresh_from_db()
    assert clip.is_active is False
    with pytest.raises(ValidationFailed, match="withdrawn"):
        services.clip_update(clip=clip, is_active=True)
    with pytest.raises(ValidationFailed, match="withdrawn"):
        services.clip_update(clip=clip, participant=withdrawn["kept"])  # moving it away undoes nothing either
    with pytest.raises(ValidationFailed, match="withdrawn"):
        services.clip_update(clip=withdrawn["clip_kept"], participant=withdrawn["gone"])


def test_the_database_refuses_an_active_withdrawn_clip(withdrawn):
    with pytest.raises(IntegrityError), transaction.atomic():
        Clip.objects.filter(pk=withdrawn["clip_gone"].pk).update(is_active=True)


def test_uploading_a_clip_for_a_withdrawn_participant_is_refused(
    client, study, researcher, withdrawn, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    client.force_login(researcher)
    upload = SimpleUploadedFile(
        "new.mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64, content_type="video/mp4"
    )
    response = client.post(f"/api/studies/{study.pk}/clips/", {"file": upload, "participant": "P-01"})
    assert response.status_code == 400
    assert "has withdrawn" in response.json()["detail"]
    assert Clip.objects.filter(participant=withdrawn["gone"]).count() == 1


def test_a_refused_upload_leaves_no_new_participant_behind(client, study, researcher, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    client.force_login(researcher)
    upload = SimpleUploadedFile("notes.mp4", b"this is not a video at all\n" * 20, content_type="video/mp4")
    response = client.post(f"/api/studies/{study.pk}/clips/", {"file": upload, "participant": "P-NEW"})
    assert response.status_code == 400
    assert not Participant.objects.filter(study=study, code="P-NEW").exists()


def test_withdrawal_and_reinstatement_are_logged_and_reinstating_needs_a_reason(study, researcher, withdrawn):
    gone = withdrawn["gone"]
    event = ParticipantEvent.objects.get(participant=gone)
    assert (event.action, event.by, event.clips, event.note) == (
        "withdrawn",
        researcher,
        1,
        "asked by e-mail",
    )
    services.participant_withdraw(participant=gone)  # again: changes nothing, logs nothing
    assert ParticipantEvent.objects.filter(participant=gone).count() == 1
    with pytest.raises(ValidationFailed, match="why"):
        services.participant_reinstate(participant=gone, by=researcher, note="  ")
    gone.refresh_from_db()
    assert gone.withdrawn_at is not None
    services.participant_reinstate(participant=gone, by=researcher, note="withdrawn by mistake")
    clip = Clip.objects.get(pk=withdrawn["clip_gone"].pk)
    assert clip.is_active and clip.withdrawn_at is None
    assert list(ParticipantEvent.objects.filter(participant=gone).values_list("action", flat=True)) == [
        "reinstated",
        "withdrawn",
    ]


def test_reinstating_in_the_admin_asks_why_first(client, study, withdrawn):
    boss = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(boss)
    gone = withdrawn["gone"]
    form = {"action": "reinstate", "_selected_action": [gone.pk]}
    asked = client.post("/admin/labeling/participant/", form)
    assert asked.status_code == 200 and "Why is the withdrawal undone" in asked.content.decode()
    gone.refresh_from_db()
    assert gone.withdrawn_at is not None  # nothing changed before the reason is given
    done = client.post("/admin/labeling/participant/", {**form, "confirm": "1", "note": "consent renewed"})
    assert done.status_code == 302
    gone.refresh_from_db()
    assert gone.withdrawn_at is None
    assert ParticipantEvent.objects.filter(participant=gone, action="reinstated", by=boss).exists()
