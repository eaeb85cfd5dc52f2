"""The participants API through HTTP: list, add, read, change consent, withdraw, reinstate; bad input is a
400 listing every problem and changes nothing; another researcher's study or participant is 404; an
annotator of the study gets 404 too; an upload for a participant without annotation consent says why its
clip is inactive."""

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from labeling import services
from labeling.demo import render_demo_clip
from labeling.models import Assignment, Clip, Participant, ParticipantEvent
from tests.factories import ClipFactory, MembershipFactory, StudyFactory, rate_next
from tests.labeling.api.test_research import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def rc(researcher):
    return client_for(researcher)


def url(study, participant=None, action=""):
    base = f"/api/studies/{study.pk}/participants/"
    if participant is None:
        return base
    return f"{base}{participant.pk}/" + (f"{action}/" if action else "")


def test_add_list_and_read(study, rc):
    response = rc.post(
        url(study),
        {
            "code": "P-01",
            "consent_version": "v2",
            "consent_date": "2026-01-15",
            "consent_media_sharing": True,
            "age_band": "18-24",
            "gender": "woman",
            "consent_scope": "no conference talks",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["code"] == "P-01" and body["consent_date"] == "2026-01-15" and body["age_band"] == "18-24"
    assert body["consent_annotation"] and body["consent_labels_export"] and body["consent_media_sharing"]
    assert (
        not body["consent_self_reports_export"] and body["withdrawn_at"] is None and body["clip_count"] == 0
    )
    ClipFactory(study=study, participant_id=body["id"])
    listed = rc.get(url(study)).json()["results"]
    assert [(p["code"], p["clip_count"]) for p in listed] == [("P-01", 1)]
    one = rc.get(f"{url(study)}{body['id']}/").json()
    assert one["gender"] == "woman" and one["consent_scope"] == "no conference talks"


def test_bad_input_lists_every_problem_and_writes_nothing(study, rc):
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    response = rc.post(
        url(study), {"code": "P-01", "consent_date": tomorrow, "gender": "a\u0007b"}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"consent_date", "gender"}
    assert "cannot be in the future" in response.json()["detail"]
    response = rc.post(url(study), {"code": "P-01", "age_band": "30ish"}, format="json")
    assert response.status_code == 400 and "age_band" in response.json()["errors"]
    assert not Participant.objects.exists()
    services.participant_create(study=study, code="P-01")
    response = rc.post(url(study), {"code": "P-01"}, format="json")
    assert response.status_code == 409 and "already in this study" in response.json()["detail"]


def test_patch_changes_consent_logs_each_scope_and_takes_clips_out_of_the_queue(study, rc, researcher):
    p = services.participant_create(study=study, code="P-01")
    clip = ClipFactory(study=study, participant=p)
    member = MembershipFactory(study=study)
    lease = rate_next(member, submit=False)
    response = rc.patch(
        url(study, p),
        {"consent_annotation": False, "consent_self_reports_export": True, "note": "form v3"},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert not body["consent_annotation"] and body["consent_self_reports_export"]
    assert any("left the queue" in n for n in body["notices"])
    assert sorted(ParticipantEvent.objects.filter(participant=p).values_list("action", "scope", "note")) == [
        ("reinstated", "self_reports_export", "form v3"),
        ("withdrawn", "annotation", "form v3"),
    ]
    clip.refresh_from_db()
    assert not clip.is_active
    assert Assignment.objects.get(pk=lease.pk).status == Assignment.Status.EXPIRED
    # The clip API says why it is inactive.
    shown = rc.get(f"/api/studies/{study.pk}/clips/{clip.pk}/").json()
    assert not shown["is_active"] and "does not consent to annotation" in shown["inactive_reason"]

    # Given back: the clips stay inactive, and the response says so.
    body = rc.patch(url(study, p), {"consent_annotation": True}, format="json").json()
    assert any("stay inactive" in n for n in body["notices"])
    assert not Clip.objects.get(pk=clip.pk).is_active

    typo = rc.patch(url(study, p), {"consent_anotation": False, "code": "P-02"}, format="json")
    assert typo.status_code == 400 and set(typo.json()["errors"]) == {"consent_anotation", "code"}
    bad = rc.patch(url(study, p), {"consent_media_sharing": "perhaps", "age_band": "old"}, format="json")
    assert bad.status_code == 400 and set(bad.json()["errors"]) == {"consent_media_sharing", "age_band"}
    assert ParticipantEvent.objects.filter(participant=p).count() == 3


def test_withdraw_and_reinstate(study, rc):
    p = services.participant_create(study=study, code="P-01")
    clip = ClipFactory(study=study, participant=p)
    response = rc.post(url(study, p, "withdraw"), {"note": "asked by e-mail"}, format="json")
    assert response.status_code == 200 and response.json()["withdrawn_at"] is not None
    assert rc.post(url(study, p, "withdraw"), {}, format="json").status_code == 200  # already: unchanged
    # Still listed, with withdrawn_at, while their clip is gone from the clip API.
    assert rc.get(url(study)).json()["results"][0]["withdrawn_at"] is not None
    assert rc.get(f"/api/studies/{study.pk}/clips/{clip.pk}/").status_code == 404
    assert rc.post(url(study, p, "reinstate"), {}, format="json").status_code == 400  # a reason is required
    response = rc.post(url(study, p, "reinstate"), {"note": "mistake"}, format="json")
    assert response.status_code == 200 and response.json()["withdrawn_at"] is None
    assert rc.post(url(study, p, "reinstate"), {"note": "again"}, format="json").status_code == 409
    assert list(
        ParticipantEvent.objects.filter(participant=p).order_by("id").values_list("action", "scope")
    ) == [
        ("withdrawn", "all"),
        ("reinstated", "all"),
    ]


def test_another_researchers_study_or_participant_is_404(study, rc, researcher):
    other = StudyFactory()
    theirs = services.participant_create(study=other, code="X-01")
    mine = services.participant_create(study=study, code="P-01")
    assert rc.get(url(other)).status_code == 404
    assert rc.post(url(other), {"code": "P-02"}, format="json").status_code == 404
    for path in (url(other, theirs), url(study, theirs)):  # their study, or theirs through mine
        assert rc.get(path).status_code == 404
        assert rc.patch(path, {"consent_annotation": False}, format="json").status_code == 404
    for action in ("withdraw", "reinstate"):
        assert rc.post(url(study, theirs, action), {"note": "x"}, format="json").status_code == 404
    theirs.refresh_from_db()
    assert theirs.consent_annotation and theirs.withdrawn_at is None
    # The study's own annotators see none of it.
    annotator = client_for(MembershipFactory(study=study).user)
    assert annotator.get(url(study)).status_code == 404
    assert annotator.get(url(study, mine)).status_code == 404
    assert annotator.patch(url(study, mine), {"gender": "x"}, format="json").status_code == 404


def test_an_upload_for_a_participant_without_annotation_consent_is_inactive_and_says_so(
    study, rc, media_root, tmp_path
):
    services.participant_create(study=study, code="P-no", consent_annotation=False)
    video = render_demo_clip(tmp_path / "v.mp4", seconds=1.0, fps=10).read_bytes()
    upload = SimpleUploadedFile("street.mp4", video, content_type="video/mp4")
    response = rc.post(
        f"/api/studies/{study.pk}/clips/", {"file": upload, "participant": "P-no"}, format="multipart"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["is_active"] is False and "does not consent to annotation" in body["inactive_reason"]
