"""A filmed participant's pages behind their self-report link (annotator/views/participant.py), through HTTP:
the consent step (agree, decline), their own clips and "rate next", the rating page (the annotators' template
and instrument, posting to the link's endpoint), media and posters with Range, and the refusals — another
participant's or study's clip is 404, a link that no longer works is 410, an unknown key 404, many unknown
keys from one client 429 — every response private (no-store, no referrer, noindex)."""

import json
import uuid
from datetime import timedelta

import pytest
from django.core.files import File
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from labeling import services
from labeling.models import ParticipantLink, SelfReport
from tests.factories import ParticipantFactory, rating_data, self_report_link

pytestmark = pytest.mark.django_db

PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex, nofollow"}


def assert_private(response):
    for header, value in PRIVATE.items():
        assert response[header] == value, (header, response.get(header))


def home(key):
    return reverse("participant-home", args=[key])


def clip_url(key, clip, name="participant-clip"):
    return reverse(name, args=[key, clip.pk])


def post_report(client, key, clip, **over):
    body = rating_data(**over)
    return client.post(clip_url(key, clip, "participant-report"), body, content_type="application/json"), body


def rating_config(response) -> dict:
    body = response.content.decode()
    return json.loads(
        body.split('<script id="rating-config" type="application/json">')[1].split("</script>")[0]
    )


# ---- consent step -----------------------------------------------------------------------------------------


@pytest.fixture
def fresh(study):
    """A participant with two clips and a link whose consent step is still to come."""
    from tests.factories import ClipFactory

    participant = ParticipantFactory(study=study)
    clips = [ClipFactory(study=study, participant=participant) for _ in range(2)]
    link, key = self_report_link(participant, consent=False)
    return participant, clips, link, key


def test_the_link_opens_with_what_it_is_for_and_the_consent_text(client, study, fresh):
    participant, clips, link, key = fresh
    response = client.get(home(key))
    assert response.status_code == 200
    assert_private(response)
    body = response.content.decode()
    assert study.title in body and "I agree to take part." in body  # the study's consent text
    assert "How did you feel?" in body and "never shown to the people who rate the clips" in body
    assert "not included in its dataset exports" in body  # consent_self_reports_export is off
    assert '<meta name="robots" content="noindex, nofollow">' in body
    assert '<meta name="referrer" content="no-referrer">' in body
    assert "Log out" not in body and participant.code not in body
    assert all(clip_url(key, c) not in body for c in clips)  # no clip before consent
    assert ParticipantLink.objects.get(pk=link.pk).last_used_at is not None


def test_consent_export_wording_follows_the_participants_scope(client, fresh):
    participant, _, _, key = fresh
    type(participant).objects.filter(pk=participant.pk).update(consent_self_reports_export=True)
    assert "may be included in the study's dataset" in client.get(home(key)).content.decode()


def test_decline_records_nothing_and_says_so(client, fresh):
    _, clips, link, key = fresh
    response = client.post(home(key), {"decision": "decline"})
    assert response.status_code == 302 and response["Location"] == reverse("participant-declined", args=[key])
    page = client.get(response["Location"])
    assert page.status_code == 200 and "Nothing has been recorded" in page.content.decode()
    assert_private(page)
    assert ParticipantLink.objects.get(pk=link.pk).consented_at is None
    assert client.get(clip_url(key, clips[0]))["Location"] == home(key)  # still no clip


def test_a_consent_post_without_a_decision_is_a_400_that_changes_nothing(client, fresh):
    _, _, link, key = fresh
    response = client.post(home(key), {"decision": "maybe"})
    assert response.status_code == 400 and "Please choose whether you agree." in response.content.decode()
    assert ParticipantLink.objects.get(pk=link.pk).consented_at is None


def test_the_consent_form_needs_no_csrf_token_the_key_is_the_credential(fresh):
    """Under Referrer-Policy no-referrer a browser posts the form with `Origin: null`; there is no session or
    cookie for a cross-site request to ride on, so the key in the address is what authorises the post."""
    _, _, link, key = fresh
    client = Client(enforce_csrf_checks=True, HTTP_ORIGIN="null")
    assert client.post(home(key), {"decision": "accept"}).status_code == 302
    assert ParticipantLink.objects.get(pk=link.pk).consented_at is not None
    response, _ = post_report(client, key, link.participant.clips.first())
    assert response.status_code == 200


def test_agree_then_the_participants_own_clips(client, study, fresh, linked):
    _, clips, link, key = fresh
    response = client.post(home(key), {"decision": "accept"})
    assert response.status_code == 302 and response["Location"] == home(key)
    assert ParticipantLink.objects.get(pk=link.pk).consented_at is not None
    page = client.get(home(key))
    body = page.content.decode()
    assert_private(page)
    assert "Your clips" in body and 'rated <strong id="rated-count">0</strong> of 2' in body
    assert all(clip_url(key, c) in body for c in clips)
    for stranger in (*linked.clips, linked.other_clip, linked.foreign_clip):
        assert f"/clips/{stranger.pk}/" not in body
    assert client.post(home(key), {"decision": "decline"})["Location"] == home(key)  # agreed already


# ---- the clips, "rate next" and the rating page -----------------------------------------------------------


def test_rate_next_goes_through_the_unrated_clips_then_back_to_the_list(client, linked):
    key, (first, second) = linked.key, linked.clips
    assert client.get(reverse("participant-next", args=[key]))["Location"] == clip_url(key, first)
    assert post_report(client, key, first)[0].status_code == 200
    assert client.get(reverse("participant-next", args=[key]))["Location"] == clip_url(key, second)
    assert client.get(clip_url(key, first))["Location"] == reverse("participant-next", args=[key])  # rated
    assert post_report(client, key, second)[0].status_code == 200
    assert client.get(reverse("participant-next", args=[key]))["Location"] == home(key)
    body = client.get(home(key)).content.decode()
    assert "you have rated all 2 of your clips" in body and body.count("Rated</span>") == 2


def test_the_rating_page_is_the_annotators_template_posting_to_the_link(client, linked):
    key, clip = linked.key, linked.clips[0]
    response = client.get(clip_url(key, clip))
    assert response.status_code == 200
    assert_private(response)
    assert [t.name for t in response.templates][0] == "annotator/rate.html"
    body = response.content.decode()
    config = rating_config(response)
    assert config["urls"] == {
        "annotation": clip_url(key, clip, "participant-report"),
        "queue": reverse("participant-next", args=[key]),
    }
    assert config["heartbeatSeconds"] is None and config["preload"] is False  # no lease
    assert config["instrument"] == "sam" and config["points"] == 9 and config["askConfidence"] is True
    assert f'src="{clip_url(key, clip, "participant-clip-media")}"' in body
    assert f'poster="{clip_url(key, clip, "participant-clip-poster")}"' in body
    assert 'name="valence" value="9"' in body and 'name="arousal_confidence" value="5"' in body
    assert "How pleasant or unpleasant did you feel" in body and "What was the situation?" in body
    assert 'id="cannot-judge"' not in body and "Log out" not in body
    assert '<meta name="robots" content="noindex, nofollow">' in body
    assert "/api/" not in body  # nothing of the annotation API


def test_the_rating_page_waits_for_consent(client, fresh):
    _, clips, _, key = fresh
    assert client.get(clip_url(key, clips[0]))["Location"] == home(key)
    assert client.get(reverse("participant-next", args=[key]))["Location"] == home(key)


def test_the_report_endpoint_stores_once_and_answers_retries(client, linked):
    key, clip = linked.key, linked.clips[0]
    response, body = post_report(client, key, clip)
    assert response.status_code == 200
    assert_private(response)
    assert response.json() == {"submission_id": body["submission_id"], "clip": clip.pk, "saved": True}
    report = SelfReport.objects.get()
    assert report.clip_id == clip.pk and report.link_id == linked.link.pk
    retry = client.post(clip_url(key, clip, "participant-report"), body, content_type="application/json")
    assert retry.status_code == 200 and SelfReport.objects.count() == 1
    second, _ = post_report(client, key, clip, valence=1)
    assert second.status_code == 409 and second.json()["errors"] == {"clip": "already rated"}
    assert SelfReport.objects.count() == 1


def test_the_report_endpoint_refuses_bad_input_with_field_errors(client, linked):
    response, _ = post_report(client, linked.key, linked.clips[0], valence=0, context_tags=["nope"])
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"valence", "context_tags"}
    bad = client.post(
        clip_url(linked.key, linked.clips[0], "participant-report"),
        "{not json",
        content_type="application/json",
    )
    assert bad.status_code == 400 and "detail" in bad.json()
    nul = client.post(
        clip_url(linked.key, linked.clips[0], "participant-report"),
        {**rating_data(), "context_note": "a\x00b"},
        content_type="application/json",
    )
    assert nul.status_code == 400 and "context_note" in nul.json()["errors"]
    assert client.get(clip_url(linked.key, linked.clips[0], "participant-report")).status_code == 405
    assert not SelfReport.objects.exists()


def test_the_report_endpoint_before_consent_is_403(client, fresh):
    _, clips, _, key = fresh
    response, _ = post_report(client, key, clips[0])
    assert response.status_code == 403 and not SelfReport.objects.exists()


# ---- only their own clips ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["participant-clip", "participant-clip-media", "participant-clip-poster"])
def test_another_participants_or_studys_clip_is_404(client, linked, name):
    for stranger in (linked.other_clip, linked.foreign_clip):
        response = client.get(clip_url(linked.key, stranger, name))
        assert response.status_code == 404
        assert_private(response)
    missing = reverse(name, args=[linked.key, 10**12])
    assert client.get(missing).status_code == 404


def test_another_participants_clip_cannot_be_reported(client, linked):
    for stranger in (linked.other_clip, linked.foreign_clip):
        response, _ = post_report(client, linked.key, stranger)
        assert response.status_code == 404 and response.json()["detail"] == "No such clip."
    assert not SelfReport.objects.exists()


def test_a_withdrawn_clip_is_not_listed_or_served(client, linked):
    type(linked.clips[1]).objects.filter(pk=linked.clips[1].pk).update(
        is_active=False, withdrawn_at=timezone.now()
    )
    assert client.get(clip_url(linked.key, linked.clips[1])).status_code == 404
    assert clip_url(linked.key, linked.clips[1]) not in client.get(home(linked.key)).content.decode()


def test_clips_without_annotation_consent_are_still_the_participants_to_rate(client, linked):
    type(linked.participant).objects.filter(pk=linked.participant.pk).update(consent_annotation=False)
    assert client.get(clip_url(linked.key, linked.clips[0])).status_code == 200
    assert post_report(client, linked.key, linked.clips[0])[0].status_code == 200


# ---- links that no longer work, unknown keys ---------------------------------------------------------------


def _end(linked, how):
    if how == "revoked":
        services.participant_link_revoke(link=linked.link, by=None)
        return "switched off by the research team"
    if how == "expired":
        ParticipantLink.objects.filter(pk=linked.link.pk).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
        return "has expired"
    services.participant_withdraw(participant=linked.participant)
    return "You have withdrawn from this study"


@pytest.mark.parametrize("how", ["revoked", "expired", "withdrawn"])
def test_a_link_that_no_longer_works_is_410_everywhere(client, linked, how):
    words = _end(linked, how)
    clip = linked.clips[0]
    for url in (
        home(linked.key),
        reverse("participant-declined", args=[linked.key]),
        reverse("participant-next", args=[linked.key]),
        clip_url(linked.key, clip),
        clip_url(linked.key, clip, "participant-clip-media"),
        clip_url(linked.key, clip, "participant-clip-poster"),
    ):
        response = client.get(url)
        assert response.status_code == 410, url
        assert_private(response)
        assert words in response.content.decode()
    assert client.post(home(linked.key), {"decision": "accept"}).status_code == 410
    response, _ = post_report(client, linked.key, clip)
    assert response.status_code == 410 and words in response.json()["detail"]
    assert_private(response)
    assert not SelfReport.objects.exists()


@pytest.mark.parametrize("key", ["nope", "x" * 43, "y" * 300])
def test_an_unknown_key_is_404(client, key):
    response = client.get(home(key))
    assert response.status_code == 404
    assert_private(response)
    assert "does not open anything" in response.content.decode()
    assert client.get(f"/p/{key}/clips/1/media/").status_code == 404


def test_many_unknown_keys_from_one_client_lock_it_out(client, linked, settings):
    settings.PARTICIPANT_LINK_FAILURES_PER_CLIENT = 3
    for i in range(3):
        assert client.get(home(f"guess-{i}")).status_code == 404
    locked = client.get(home(linked.key))  # even the right key, while locked
    assert locked.status_code == 429 and int(locked["Retry-After"]) > 0
    assert_private(locked)
    assert "try again in a few minutes" in locked.content.decode()
    other = Client(REMOTE_ADDR="198.51.100.7")  # another client is not locked
    assert other.get(home(linked.key)).status_code == 200


def test_links_that_no_longer_work_do_not_count_as_guesses(client, linked, settings):
    settings.PARTICIPANT_LINK_FAILURES_PER_CLIENT = 2
    services.participant_link_revoke(link=linked.link, by=None)
    for _ in range(4):
        assert client.get(home(linked.key)).status_code == 410


# ---- the key opens nothing of the annotators' side --------------------------------------------------------


def test_the_key_is_no_credential_anywhere_else(client, linked):
    study, clip, key = linked.study, linked.clips[0], linked.key
    client.get(home(key))  # the participant's browser, after using the link
    assert client.get(reverse("study-queue", args=[study.pk]))["Location"].startswith("/login/")
    assert client.get(reverse("home"))["Location"].startswith("/login/")
    assert client.get(reverse("clip-media", args=[clip.pk])).status_code == 404
    api = Client(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.post(f"/api/studies/{study.pk}/assignments/next/").status_code == 401
    assert api.get(f"/api/studies/{study.pk}/").status_code == 401
    assert api.get(reverse("clip-media", args=[clip.pk])).status_code == 404
    assert client.get(f"/api/studies/{study.pk}/participants/{linked.participant.pk}/links/").status_code in (
        401,
        403,
    )


# ---- media and posters with Range -------------------------------------------------------------------------


@pytest.fixture
def media_link(study, media_root, render_once, tmp_path):
    """Real clips of two participants of the study (made by clip_create), and a link for the first."""
    made = []
    for i, code in enumerate(("P-media-1", "P-media-2")):
        path = render_once(tmp_path / f"c{i}.mp4", seconds=1.2, fps=25, tempo=1.0 + i, hue=0.2 * i, seed=i)
        with path.open("rb") as fh:
            made.append(
                services.clip_create(
                    study=study, file=File(fh, name=path.name), original_name=path.name, participant_code=code
                )
            )
    _, key = self_report_link(made[0].participant)
    return key, made[0], made[1], (tmp_path / "c0.mp4").read_bytes()


def test_the_participants_clip_is_served_with_range(client, media_link):
    key, mine, theirs, data = media_link
    url = clip_url(key, mine, "participant-clip-media")
    whole = client.get(url)
    assert whole.status_code == 200 and b"".join(whole.streaming_content) == data
    assert whole["Accept-Ranges"] == "bytes" and whole["Content-Type"] == "video/mp4"
    assert_private(whole)  # never kept by a cache, unlike the members' media (private, max-age)
    part = client.get(url, HTTP_RANGE="bytes=100-199")
    assert part.status_code == 206 and part["Content-Range"] == f"bytes 100-199/{len(data)}"
    assert b"".join(part.streaming_content) == data[100:200]
    assert client.get(url, HTTP_RANGE=f"bytes={len(data)}-").status_code == 416
    assert client.head(url).status_code == 200
    poster = client.get(clip_url(key, mine, "participant-clip-poster"))
    assert poster.status_code == 200 and poster["Content-Type"] == "image/jpeg"
    assert_private(poster)
    assert client.get(clip_url(key, theirs, "participant-clip-media")).status_code == 404
    assert client.get(clip_url(key, theirs, "participant-clip-poster")).status_code == 404
    listing = client.get(home(key)).content.decode()
    assert clip_url(key, mine, "participant-clip-poster") in listing and "1.2 s" in listing


def test_report_after_expiry_keeps_nothing_and_is_410_json(client, linked):
    ParticipantLink.objects.filter(pk=linked.link.pk).update(expires_at=timezone.now())
    response = client.post(
        clip_url(linked.key, linked.clips[0], "participant-report"),
        {**rating_data(), "submission_id": str(uuid.uuid4())},
        content_type="application/json",
    )
    assert response.status_code == 410 and response["Content-Type"] == "application/json"
