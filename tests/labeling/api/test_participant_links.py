"""The self-report links API (labeling/api/participant_links.py) through HTTP: issue (201, the whole link once),
list (never a key), revoke; the study's researchers only — another study's participant, another
participant's link, an annotator of the study: 404."""

import pytest
from rest_framework.test import APIClient

from labeling import services
from labeling.models import ParticipantLink, api_token_hash
from tests.factories import MembershipFactory, ParticipantFactory, StudyFactory, UserFactory, api_key_for

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_key_for(user)}")
    return client


def links_url(study_id, participant_id):
    return f"/api/studies/{study_id}/participants/{participant_id}/links/"


@pytest.fixture
def rc(researcher):
    return client_for(researcher)


def test_issue_shows_the_whole_link_once(study, researcher, rc):
    participant = ParticipantFactory(study=study)
    response = rc.post(
        links_url(study.pk, participant.pk), {"days": 7, "note": "sent by post"}, format="json"
    )
    assert response.status_code == 201 and response["Cache-Control"] == "no-store"
    body = response.json()
    key = body["url"].removeprefix("http://testserver/p/").removesuffix("/")
    assert body["url"] == f"http://testserver/p/{key}/" and len(key) == 43
    link = ParticipantLink.objects.get()
    assert link.key_hash == api_token_hash(key) and body["prefix"] == key[:8] == link.prefix
    assert body["participant"] == participant.pk and body["note"] == "sent by post"
    assert body["status"] == "active" and body["created_by"] == researcher.username
    assert body["consented_at"] is None and body["revoked_at"] is None and body["last_used_at"] is None
    # The link opens the participant's pages.
    assert APIClient().get(f"/p/{key}/").status_code == 200
    # It is never shown again.
    listed = rc.get(links_url(study.pk, participant.pk))
    assert key not in listed.content.decode() and "url" not in listed.json()["results"][0]


def test_issue_defaults_to_14_days(study, rc):
    participant = ParticipantFactory(study=study)
    body = rc.post(links_url(study.pk, participant.pk), {}, format="json").json()
    link = ParticipantLink.objects.get(pk=body["id"])
    assert (link.expires_at - link.created_at).days == 14


@pytest.mark.parametrize("data", [{"days": 0}, {"days": 91}, {"days": "x"}, {"note": "n" * 201}])
def test_issue_refuses_bad_input(study, rc, data):
    participant = ParticipantFactory(study=study)
    response = rc.post(links_url(study.pk, participant.pk), data, format="json")
    assert response.status_code == 400 and set(response.json()["errors"]) == set(data)
    assert not ParticipantLink.objects.exists()


def test_issue_for_a_withdrawn_participant_is_409(study, rc):
    participant = ParticipantFactory(study=study)
    services.participant_withdraw(participant=participant)
    response = rc.post(links_url(study.pk, participant.pk), {}, format="json")
    assert response.status_code == 409 and "withdrawn" in response.json()["detail"]
    assert not ParticipantLink.objects.exists()


def test_list_shows_the_links_without_keys_newest_first(study, rc, client):
    participant = ParticipantFactory(study=study)
    old, old_key = services.participant_link_issue(participant=participant, by=None, note="first")
    new, new_key = services.participant_link_issue(participant=participant, by=None, note="second")
    services.participant_link_revoke(link=old, by=None)
    client.get(f"/p/{new_key}/")  # used once
    ParticipantLink.objects.create(  # another participant's link is not listed
        participant=ParticipantFactory(study=study), key_hash="0" * 64, prefix="x", expires_at=new.expires_at
    )
    body = rc.get(links_url(study.pk, participant.pk)).json()
    rows = body["results"]
    assert [r["id"] for r in rows] == [new.pk, old.pk]
    assert [r["status"] for r in rows] == ["active", "revoked"]
    assert rows[0]["last_used_at"] is not None and rows[1]["revoked_at"] is not None
    text = str(body)
    assert old_key not in text and new_key not in text and "key_hash" not in text
    assert set(rows[0]) == {
        "id",
        "participant",
        "prefix",
        "note",
        "status",
        "created_at",
        "created_by",
        "expires_at",
        "revoked_at",
        "consented_at",
        "last_used_at",
    }


def test_revoke(study, rc):
    participant = ParticipantFactory(study=study)
    link, key = services.participant_link_issue(participant=participant, by=None)
    url = f"{links_url(study.pk, participant.pk)}{link.pk}/revoke/"
    response = rc.post(url)
    assert response.status_code == 200 and response.json()["status"] == "revoked"
    assert ParticipantLink.objects.get(pk=link.pk).revoked_at is not None
    assert APIClient().get(f"/p/{key}/").status_code == 410
    assert rc.post(url).status_code == 200  # twice: nothing changes


def test_every_endpoint_is_404_to_anyone_but_the_studys_researchers(study, rc):
    participant = ParticipantFactory(study=study)
    link, _ = services.participant_link_issue(participant=participant, by=None)
    elsewhere = StudyFactory()
    stranger_participant = ParticipantFactory(study=elsewhere)
    stranger_link, _ = services.participant_link_issue(participant=stranger_participant, by=None)
    annotator = MembershipFactory(study=study).user
    outsider = UserFactory()
    for client in (client_for(annotator), client_for(outsider)):
        assert client.get(links_url(study.pk, participant.pk)).status_code == 404
        assert client.post(links_url(study.pk, participant.pk), {}, format="json").status_code == 404
        assert client.post(f"{links_url(study.pk, participant.pk)}{link.pk}/revoke/").status_code == 404
    # The researcher, with another study's participant, or another participant's link.
    assert rc.get(links_url(study.pk, stranger_participant.pk)).status_code == 404
    assert rc.get(links_url(elsewhere.pk, stranger_participant.pk)).status_code == 404
    assert rc.post(links_url(study.pk, stranger_participant.pk), {}, format="json").status_code == 404
    assert rc.post(f"{links_url(study.pk, participant.pk)}{stranger_link.pk}/revoke/").status_code == 404
    assert rc.get(links_url(study.pk, 2**70)).status_code == 404
    assert ParticipantLink.objects.filter(revoked_at__isnull=False).count() == 0
    assert ParticipantLink.objects.count() == 2
    assert APIClient().get(links_url(study.pk, participant.pk)).status_code == 401
