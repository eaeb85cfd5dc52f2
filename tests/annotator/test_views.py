"""Consent, the queue, the rating page and the end page, through HTTP on a real database."""

import json

import pytest
from django.urls import reverse

from annotator.views.study import completion_redirect_url
from labeling import services
from labeling.models import Assignment, Clip, Membership, SchemeVersion
from labeling.scheme import DEFAULT_SPEC
from tests.factories import ClipFactory, MembershipFactory, StudyFactory
from tests.factories import rating_data as rating


@pytest.fixture
def member(study, client):
    m = MembershipFactory(study=study)
    client.force_login(m.user)
    return m


def rate_url(a):
    return reverse("study-rate", args=[a.study_id, a.pk])


# ---------- consent ----------


def test_no_clip_before_consent(client, study, clips):
    m = MembershipFactory(study=study, consented_at=None)
    client.force_login(m.user)
    response = client.get(reverse("study-queue", args=[study.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("study-consent", args=[study.pk])
    assert not Assignment.objects.exists()
    assert client.get(reverse("study-done", args=[study.pk]))["Location"] == reverse(
        "study-consent", args=[study.pk]
    )


def test_consent_page_renders_markdown_safely(client, study):
    study.consent_text = (
        "You **may** stop.\n\n<script>alert(1)</script><img src=x onerror=alert(1)>[x](javascript:alert(1))"
    )
    study.instructions = "Rate the *person*."
    study.save()
    m = MembershipFactory(study=study, consented_at=None)
    client.force_login(m.user)
    body = client.get(reverse("study-consent", args=[study.pk])).content.decode()
    assert "<strong>may</strong>" in body and "<em>person</em>" in body
    assert "<script>alert" not in body and "onerror" not in body and "javascript:" not in body


def test_accepting_consent_records_it_and_goes_to_the_queue(client, study, clips):
    m = MembershipFactory(study=study, consented_at=None)
    client.force_login(m.user)
    response = client.post(reverse("study-consent", args=[study.pk]), {"decision": "accept"})
    assert response["Location"] == reverse("study-queue", args=[study.pk])
    m.refresh_from_db()
    assert m.consented_at is not None


def test_declining_shows_a_polite_page_and_records_no_consent(client, study):
    m = MembershipFactory(study=study, consented_at=None, joined_via="crowd")
    client.force_login(m.user)
    response = client.post(reverse("study-consent", args=[study.pk]), {"decision": "decline"}, follow=True)
    body = response.content.decode()
    assert response.status_code == 200 and "Thank you for considering" in body
    assert "return the study" in body  # crowd workers are told to return it on the platform
    m.refresh_from_db()
    assert m.consented_at is None
    assert client.get(reverse("study-queue", args=[study.pk]))["Location"].endswith("/consent/")


def test_consent_with_a_bad_decision_changes_nothing(client, study):
    m = MembershipFactory(study=study, consented_at=None)
    client.force_login(m.user)
    response = client.post(reverse("study-consent", args=[study.pk]), {"decision": "maybe"})
    assert response.status_code == 200 and "Please choose" in response.content.decode()
    m.refresh_from_db()
    assert m.consented_at is None


# ---------- queue ----------


def test_queue_claims_and_redirects_to_the_rating_page(client, study, clips, member):
    response = client.get(reverse("study-queue", args=[study.pk]))
    a = Assignment.objects.get(annotator=member.user)
    assert response.status_code == 302 and response["Location"] == rate_url(a)
    again = client.get(reverse("study-queue", args=[study.pk]))
    assert again["Location"] == rate_url(a)  # the lease held is returned, no second claim
    assert Assignment.objects.filter(annotator=member.user).count() == 1


def test_queue_with_nothing_left_goes_to_done(client, study, member):
    response = client.get(reverse("study-queue", args=[study.pk]))
    assert response["Location"] == reverse("study-done", args=[study.pk])


def test_closed_study_queue_goes_to_done(client, study, clips, member):
    study.is_active = False
    study.save()
    assert client.get(reverse("study-queue", args=[study.pk]))["Location"] == reverse(
        "study-done", args=[study.pk]
    )


def test_a_withdrawn_annotators_queue_says_their_part_has_ended_and_claims_nothing(
    client, study, clips, member
):
    services.annotator_labels_withdraw(membership=member, by=None, note="spam")
    response = client.get(reverse("study-queue", args=[study.pk]))
    page = response.content.decode()
    assert response.status_code == 403 and "Your part in this study has ended" in page
    assert "withdrawn your ratings" in page and "Please try again" not in page
    assert not Assignment.objects.filter(annotator=member.user).exists()


# ---------- rating page ----------


def test_rating_page_shows_the_clip_the_instrument_and_progress(client, study, clips, member):
    a = services.assignment_claim_next(membership=member)
    response = client.get(rate_url(a))
    body = response.content.decode()
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    assert (
        reverse("clip-media", args=[a.clip_id]) in body and reverse("clip-poster", args=[a.clip_id]) in body
    )
    assert body.count('name="valence"') == 9 and body.count('name="arousal"') == 9
    assert "unpleasant" in body and "pleasant" in body and "calm" in body and "excited" in body
    assert 'name="valence_confidence"' in body and 'value="setting:home"' in body
    assert "0</strong> of 5 rated" in body
    config = json.loads(
        body.split('<script id="rating-config" type="application/json">')[1].split("</script>")[0]
    )
    assert (
        config["assignmentId"] == a.pk and config["instrument"] == "sam" and config["requireFullView"] is True
    )
    assert config["urls"]["annotation"] == f"/api/assignments/{a.pk}/annotation/"
    assert config["urls"]["next"] == f"/api/studies/{study.pk}/assignments/next/"


@pytest.mark.parametrize(("instrument", "marker"), [("slider", 'type="range"'), ("grid", 'id="affect-grid"')])
def test_rating_page_shows_the_configured_instrument(db, client, instrument, marker):
    study = StudyFactory(scheme={**DEFAULT_SPEC, "instrument": instrument, "ask_confidence": False})
    ClipFactory(study=study)
    m = MembershipFactory(study=study)
    client.force_login(m.user)
    a = services.assignment_claim_next(membership=m)
    body = client.get(rate_url(a)).content.decode()
    assert marker in body and 'name="valence_confidence"' not in body


def test_mute_button_only_for_clips_with_sound(client, study, member):
    ClipFactory(study=study, has_audio=True)
    a = services.assignment_claim_next(membership=member)
    assert 'id="mute-btn"' in client.get(rate_url(a)).content.decode()
    services.annotation_submit(assignment=a, data=rating())
    ClipFactory(study=study, has_audio=False)
    b = services.assignment_claim_next(membership=member)
    assert 'id="mute-btn"' not in client.get(rate_url(b)).content.decode()


def test_rating_page_uses_the_scheme_version_the_annotator_was_shown(client, study, clips, member):
    a = services.assignment_claim_next(membership=member)
    SchemeVersion.objects.filter(pk=a.scheme_version_id).update(spec={**DEFAULT_SPEC, "points": 7})
    body = client.get(rate_url(a)).content.decode()
    assert body.count('name="valence"') == 7


def test_progress_counts_rated_clips(client, study, clips, member):
    a = services.assignment_claim_next(membership=member)
    services.annotation_submit(assignment=a, data=rating())
    b = services.assignment_claim_next(membership=member)
    assert "1</strong> of 5 rated" in client.get(rate_url(b)).content.decode()


def test_rated_assignment_page_goes_back_to_the_queue(client, study, clips, member):
    a = services.assignment_claim_next(membership=member)
    services.annotation_submit(assignment=a, data=rating())
    assert client.get(rate_url(a))["Location"] == reverse("study-queue", args=[study.pk])


def test_another_users_assignment_is_404(client, study, clips, member):
    other = MembershipFactory(study=study)
    theirs = services.assignment_claim_next(membership=other)
    assert client.get(rate_url(theirs)).status_code == 404


def test_assignment_under_another_study_id_is_404(client, study, clips, member):
    a = services.assignment_claim_next(membership=member)
    second = MembershipFactory(user=member.user).study
    assert client.get(reverse("study-rate", args=[second.pk, a.pk])).status_code == 404


def test_rating_page_before_consent_goes_to_consent(client, study, clips, member):
    a = services.assignment_claim_next(membership=member)
    Membership.objects.filter(pk=member.pk).update(consented_at=None)
    assert client.get(rate_url(a))["Location"] == reverse("study-consent", args=[study.pk])


@pytest.mark.parametrize("name", ["study-queue", "study-consent", "study-declined", "study-done"])
def test_non_member_study_pages_are_404(client, study, user, name):
    client.force_login(user)
    assert client.get(reverse(name, args=[study.pk])).status_code == 404


def test_study_pages_need_login(client, study):
    response = client.get(reverse("study-queue", args=[study.pk]))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


# ---------- the end ----------


def rate_everything(membership):
    while (a := services.assignment_claim_next(membership=membership)) is not None:
        services.annotation_submit(assignment=a, data=rating())


def test_done_shows_the_completion_code_and_records_completion(client, study, clips, member):
    study.completion_code = "CODE-7788"
    study.save()
    rate_everything(member)
    response = client.get(reverse("study-done", args=[study.pk]))
    body = response.content.decode()
    assert response.status_code == 200 and "CODE-7788" in body and "You are finished" in body
    member.refresh_from_db()
    assert member.completed_at is not None


def test_done_before_the_end_shows_no_code(client, study, clips, member):
    study.completion_code = "CODE-7788"
    study.save()
    a = services.assignment_claim_next(membership=member)
    services.annotation_submit(assignment=a, data=rating())
    body = client.get(reverse("study-done", args=[study.pk])).content.decode()
    assert "CODE-7788" not in body and "Not finished yet" in body and "1 of 5" in body
    member.refresh_from_db()
    assert member.completed_at is None


def test_done_redirects_crowd_workers_to_the_completion_url_with_the_code(client, study, clips):
    study.completion_code = "C0DE"
    study.completion_url = "https://app.prolific.com/submissions/complete"
    study.save()
    m = MembershipFactory(study=study, joined_via="crowd")
    client.force_login(m.user)
    rate_everything(m)
    response = client.get(reverse("study-done", args=[study.pk]))
    assert response.status_code == 302
    assert response["Location"] == "https://app.prolific.com/submissions/complete?cc=C0DE"
    m.refresh_from_db()
    assert m.completed_at is not None


def test_done_for_lab_annotators_shows_the_page_not_the_redirect(client, study, member):
    study.completion_code = "C0DE"
    study.completion_url = "https://example.org/done"
    study.save()
    response = client.get(reverse("study-done", args=[study.pk]))
    assert response.status_code == 200 and "C0DE" in response.content.decode()


def test_done_in_a_closed_study_without_ratings_gives_no_code(client, study, clips, member):
    study.completion_code = "C0DE"
    study.is_active = False
    study.save()
    response = client.get(reverse("study-done", args=[study.pk]))
    assert "closed" in response.content.decode() and "C0DE" not in response.content.decode()


@pytest.mark.parametrize(
    ("url", "code", "expected"),
    [
        ("https://x.org/complete?cc={code}", "AB12", "https://x.org/complete?cc=AB12"),
        ("https://x.org/complete", "AB12", "https://x.org/complete?cc=AB12"),
        ("https://x.org/complete?cc=FIXED", "AB12", "https://x.org/complete?cc=FIXED"),
        ("https://x.org/complete?a=1", "AB12", "https://x.org/complete?a=1&cc=AB12"),
        ("https://x.org/complete", "", "https://x.org/complete"),
    ],
)
def test_completion_redirect_url(url, code, expected):
    assert completion_redirect_url(url, code) == expected


def test_progress_count_is_bounded_in_big_studies(client, study, member, monkeypatch):
    from labeling.selectors import assignments

    monkeypatch.setattr(assignments, "COUNT_CAP", 3)
    ClipFactory.create_batch(6, study=study)
    a = services.assignment_claim_next(membership=member)
    assert "0</strong> of 4+ rated" in client.get(rate_url(a)).content.decode()  # 1 held + 3 counted


def test_rating_page_of_a_clip_withdrawn_meanwhile_goes_back_to_the_queue(client, study, clips, member):
    """Found by the outside probe: the page still rendered, with a video that 404s and "0 of 0"."""
    from labeling.models import Participant

    assignment = services.assignment_claim_next(membership=member)
    person = Participant.objects.create(study=study, code="P-9")
    Clip.objects.filter(pk=assignment.clip_id).update(participant=person)
    services.participant_withdraw(participant=person)
    response = client.get(rate_url(assignment))
    assert response.status_code == 302 and response["Location"] == reverse("study-queue", args=[study.pk])
