"""Self-report links in the participant admin (labeling/admin/participant_links.py): the action issues them
and shows each whole link once, with its expiry; the participant's page lists their links read-only (never a
key) with a revoke button; another study's researcher reaches none of it."""

import re

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from labeling import services
from labeling.models import ParticipantLink, Role, api_token_hash
from tests.factories import MembershipFactory, ParticipantFactory, StudyFactory, UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:labeling_participant_changelist"


def issue(client, participants, **form):
    data = {"action": "issue_link", "_selected_action": [p.pk for p in participants]}
    return client.post(reverse(CHANGELIST), {**data, **form})


def test_the_action_asks_for_days_and_a_note_first(admin_client_):
    participant = ParticipantFactory()
    response = issue(admin_client_, [participant])
    assert response.status_code == 200
    body = response.content.decode()
    assert "Valid for (days)" in body and 'value="14"' in body and participant.code in body
    assert not ParticipantLink.objects.exists()


def test_the_action_shows_each_whole_link_once(admin_client_):
    study = StudyFactory()
    first, second = ParticipantFactory(study=study), ParticipantFactory(study=study)
    withdrawn = ParticipantFactory(study=study)
    services.participant_withdraw(participant=withdrawn)
    response = issue(admin_client_, [first, second, withdrawn], confirm="1", days="5", note="by e-mail")
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    body = response.content.decode()
    urls = re.findall(r'value="(http://testserver/p/[^"]+/)"', body)
    assert len(urls) == 2 and "shown only this once" in body
    for url in urls:
        key = url.removeprefix("http://testserver/p/").removesuffix("/")
        link = ParticipantLink.objects.get(key_hash=api_token_hash(key))
        assert link.note == "by e-mail" and (link.expires_at - link.created_at).days == 5
        assert f"{link.expires_at:%Y-%m-%d %H:%M}" in body
    assert set(ParticipantLink.objects.values_list("participant_id", flat=True)) == {first.pk, second.pk}
    messages = [str(m) for m in response.wsgi_request._messages]
    assert any(withdrawn.code in m and "withdrawn" in m for m in messages)
    # Never shown again: the participant's page has the prefix only.
    page = admin_client_.get(reverse("admin:labeling_participant_change", args=[first.pk])).content.decode()
    assert not any(url in page for url in urls)
    assert ParticipantLink.objects.get(participant=first).prefix in page


def test_bad_days_issue_nothing(admin_client_):
    participant = ParticipantFactory()
    response = issue(admin_client_, [participant], confirm="1", days="91")
    assert response.status_code == 200 and "less than or equal to 90" in response.content.decode()
    assert not ParticipantLink.objects.exists()


def test_the_links_inline_revokes(admin_client_):
    participant = ParticipantFactory()
    link, key = services.participant_link_issue(participant=participant, by=None)
    page = admin_client_.get(reverse("admin:labeling_participant_change", args=[participant.pk]))
    body = page.content.decode()
    revoke = reverse("admin:labeling_participant_link_revoke", args=[participant.pk, link.pk])
    assert "Self-report links" in body and f'formaction="{revoke}"' in body and key not in body
    assert admin_client_.get(revoke).status_code == 405  # a GET changes nothing
    response = admin_client_.post(revoke)
    assert response.status_code == 302
    assert ParticipantLink.objects.get(pk=link.pk).revoked_at is not None
    body = admin_client_.get(
        reverse("admin:labeling_participant_change", args=[participant.pk])
    ).content.decode()
    assert f'formaction="{revoke}"' not in body and "revoked" in body


def test_another_studys_researcher_can_neither_see_nor_revoke(client):
    participant = ParticipantFactory()
    link, _ = services.participant_link_issue(participant=participant, by=None)
    other = UserFactory(is_staff=True)
    MembershipFactory(study=StudyFactory(), user=other, role=Role.RESEARCHER)
    other.user_permissions.add(*Permission.objects.filter(codename__endswith="_participant"))
    client.force_login(other)
    revoke = reverse("admin:labeling_participant_link_revoke", args=[participant.pk, link.pk])
    assert client.post(revoke).status_code == 404
    assert ParticipantLink.objects.get(pk=link.pk).revoked_at is None
    response = issue(client, [participant], confirm="1", days="5")
    assert not ParticipantLink.objects.exclude(pk=link.pk).exists()
    assert response.status_code in (200, 302)
    # Their own participant's link id under someone else's participant: 404 too.
    mine = ParticipantFactory(study=other.memberships.get().study)
    wrong = reverse("admin:labeling_participant_link_revoke", args=[mine.pk, link.pk])
    assert client.post(wrong).status_code == 404
    assert ParticipantLink.objects.get(pk=link.pk).revoked_at is None
