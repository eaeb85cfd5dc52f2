"""The annotation client's API through HTTP: claim, heartbeat, submit (token and session auth)."""

import json
import secrets
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.test import APIClient

from labeling import services
from labeling.models import Annotation, Assignment, Clip
from labeling.services.assignments import FIRST_LEASE_MINUTES
from tests.factories import ClipFactory, MembershipFactory, StudyFactory, api_key_for
from tests.factories import rating_data as rating


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_key_for(user)}")
    return client


def claim_url(study_id):
    return f"/api/studies/{study_id}/assignments/next/"


def snapshot():
    """Everything a bad request must leave unchanged."""
    return (
        Annotation.objects.count(),
        sorted(Assignment.objects.values_list("id", "status", "lease_expires_at")),
        sorted(Clip.objects.values_list("id", "n_assigned", "n_submitted", "target_k")),
    )


@pytest.fixture
def member(study, clips):
    return MembershipFactory(study=study)


@pytest.fixture
def api(member):
    return client_for(member.user)


def test_claim_returns_201_with_everything_the_page_needs(api, study, member):
    before = timezone.now()
    resp = api.post(claim_url(study.pk), {}, format="json")
    assert resp.status_code == 201, resp.content
    body = resp.json()
    assignment = Assignment.objects.get(annotator=member.user)
    clip = assignment.clip
    assert set(body) == {
        "id",
        "study",
        "clip",
        "status",
        "lease_expires_at",
        "scheme_version",
        "scheme",
        "page_url",
    }
    assert body["id"] == assignment.pk and body["study"] == study.pk and body["status"] == "active"
    assert body["scheme_version"] == 1 and body["scheme"]["instrument"] == "sam"
    assert body["page_url"] == f"/s/{study.pk}/a/{assignment.pk}/"
    assert body["clip"] == {
        "id": clip.pk,
        "media_url": f"/media/clips/{clip.pk}/",
        "poster_url": None,  # factory clips have no poster
        "duration_s": 3.0,
        "fps": 25.0,
        "width": 320,
        "height": 240,
        "has_audio": False,
    }
    expires = parse_datetime(body["lease_expires_at"])
    first_lease = min(study.lease_minutes, FIRST_LEASE_MINUTES)  # until the first rating (issue 6)
    assert expires >= before + timedelta(minutes=first_lease) - timedelta(seconds=5)
    clip.refresh_from_db()
    assert clip.n_assigned == 1


def submit_url(assignment_id):
    return f"/api/assignments/{assignment_id}/annotation/"


def test_claim_with_exclude_preloads_another_clip(api, study):
    """Once the annotator has rated a clip (before that see test_unrated_participant_holds_one_lease_...)."""
    rated = api.post(claim_url(study.pk), {}, format="json").json()
    assert api.post(submit_url(rated["id"]), rating(), format="json").status_code == 201
    first = api.post(claim_url(study.pk), {}, format="json").json()
    second = api.post(claim_url(study.pk), {"exclude": [first["id"]]}, format="json")
    assert second.status_code == 201
    assert second.json()["clip"]["id"] != first["clip"]["id"]
    # a plain retry returns the lease already held, not a third clip
    again = api.post(claim_url(study.pk), format="json")
    assert again.json()["id"] == first["id"]
    assert Assignment.objects.count() == 3


def test_unrated_participant_holds_one_lease_preload_is_refused_in_the_error_shape(api, study):
    first = api.post(claim_url(study.pk), {}, format="json").json()
    before = snapshot()
    second = api.post(claim_url(study.pk), {"exclude": [first["id"]]}, format="json")
    assert second.status_code == 409
    assert second.json() == {
        "detail": "Rate the clip you have first: the next one is chosen after your first rating.",
        "errors": {"exclude": "a second clip is held only after the first rating"},
    }
    assert snapshot() == before


def test_removed_member_cannot_submit_or_heartbeat(api, study, member):
    claimed = api.post(claim_url(study.pk), {}, format="json").json()
    services.membership_remove(membership=member)
    before = snapshot()
    assert api.post(f"/api/assignments/{claimed['id']}/heartbeat/", format="json").status_code == 404
    assert api.post(submit_url(claimed["id"]), rating(), format="json").status_code == 404
    assert api.post(claim_url(study.pk), {}, format="json").status_code == 404
    assert snapshot() == before and not Annotation.objects.exists()


def test_claim_rejects_a_malformed_exclude(api, study):
    resp = api.post(claim_url(study.pk), {"exclude": ["x"]}, format="json")
    assert resp.status_code == 400
    assert "exclude.0" in resp.json()["errors"]
    assert not Assignment.objects.exists()


def test_claim_is_204_with_empty_body_when_nothing_is_left(study, member, api):
    for other in MembershipFactory.create_batch(3, study=study):
        while (a := services.assignment_claim_next(membership=other)) is not None:
            services.annotation_submit(assignment=a, data=rating())  # three others rate every clip: K=3
    resp = api.post(claim_url(study.pk), format="json")
    assert resp.status_code == 204
    assert resp.content == b""
    assert not Assignment.objects.filter(annotator=member.user).exists()


def test_claim_needs_consent_and_an_open_study(study, clips):
    no_consent = MembershipFactory(study=study, consented_at=None)
    before = snapshot()
    resp = client_for(no_consent.user).post(claim_url(study.pk), format="json")
    assert resp.status_code == 403
    assert "consent" in resp.json()["detail"].lower()
    study.is_active = False
    study.save()
    resp = client_for(MembershipFactory(study=study).user).post(claim_url(study.pk), format="json")
    assert resp.status_code == 403 and "closed" in resp.json()["detail"]
    assert snapshot() == before


def test_claim_in_someone_elses_study_is_404(study, clips, user):
    before = snapshot()
    resp = client_for(user).post(claim_url(study.pk), format="json")
    assert resp.status_code == 404
    assert snapshot() == before


def test_unauthenticated_is_401_and_asks_for_a_token(study, clips):
    resp = APIClient().post(claim_url(study.pk), format="json")
    assert resp.status_code == 401
    assert resp["WWW-Authenticate"] == "Token"


def test_heartbeat_extends_the_lease(api, study):
    claimed = api.post(claim_url(study.pk), format="json").json()
    Assignment.objects.filter(pk=claimed["id"]).update(
        lease_expires_at=timezone.now() + timedelta(seconds=30)
    )
    resp = api.post(f"/api/assignments/{claimed['id']}/heartbeat/", format="json")
    assert resp.status_code == 200
    body = resp.json()
    assert set(body) == {"id", "status", "lease_expires_at"} and body["status"] == "active"
    assert parse_datetime(body["lease_expires_at"]) > timezone.now() + timedelta(
        minutes=study.lease_minutes - 1
    )
    assert Assignment.objects.get(pk=claimed["id"]).lease_expires_at == parse_datetime(
        body["lease_expires_at"]
    )


def test_heartbeat_is_409_when_the_lease_was_lost(db):
    lone = StudyFactory()
    clip = ClipFactory(study=lone, target_k=1)
    mine = MembershipFactory(study=lone)
    api = client_for(mine.user)
    a = services.assignment_claim_next(membership=mine)
    past = timezone.now() - timedelta(minutes=1)
    Assignment.objects.filter(pk=a.pk).update(lease_expires_at=past)
    taken = services.assignment_claim_next(membership=MembershipFactory(study=lone))
    assert taken.clip_id == clip.pk
    before = snapshot()
    resp = api.post(f"/api/assignments/{a.pk}/heartbeat/", format="json")
    assert resp.status_code == 409
    assert "another annotator" in resp.json()["detail"]
    assert snapshot() == before


def test_heartbeat_after_submission_is_409(api, study):
    claimed = api.post(claim_url(study.pk), format="json").json()
    api.post(f"/api/assignments/{claimed['id']}/annotation/", rating(), format="json")
    resp = api.post(f"/api/assignments/{claimed['id']}/heartbeat/", format="json")
    assert resp.status_code == 409


def test_submit_201_then_a_retry_returns_the_same_annotation(api, study, member):
    claimed = api.post(claim_url(study.pk), format="json").json()
    data = rating()
    url = f"/api/assignments/{claimed['id']}/annotation/"
    resp = api.post(url, data, format="json", HTTP_USER_AGENT="test-client/1")
    assert resp.status_code == 201, resp.content
    body = resp.json()
    stored = Annotation.objects.get()
    assert body == {
        "id": stored.pk,
        "submission_id": data["submission_id"],
        "assignment": claimed["id"],
        "clip": claimed["clip"]["id"],
        "valence": 0.5,  # 7 on 1..9
        "arousal": -0.5,  # 3 on 1..9
        "valence_raw": 7.0,
        "arousal_raw": 3.0,
        "valence_confidence": 4,
        "arousal_confidence": 2,
        "context_tags": ["setting:home", "social:alone"],
        "context_note": "kitchen",
        "cannot_judge": False,
        "cannot_judge_reason": "",
        "time_on_task_ms": 12000,
        "watched_fraction": 1.0,
        "scheme_version": 1,
        "created_at": body["created_at"],
    }
    assert stored.user_agent == "test-client/1" and stored.annotator == member.user
    before = snapshot()
    retry = api.post(url, data, format="json")
    assert retry.status_code == 200
    assert retry.json() == body
    assert snapshot() == before


def test_submit_cannot_judge(api, study):
    claimed = api.post(claim_url(study.pk), format="json").json()
    data = rating(valence=None, arousal=None, cannot_judge=True, cannot_judge_reason="face hidden")
    del data["valence_confidence"], data["arousal_confidence"]
    resp = api.post(f"/api/assignments/{claimed['id']}/annotation/", data, format="json")
    assert resp.status_code == 201, resp.content
    assert resp.json()["valence"] is None and resp.json()["cannot_judge_reason"] == "face hidden"


def test_submit_with_another_submission_id_after_rating_is_409(api, study):
    claimed = api.post(claim_url(study.pk), format="json").json()
    url = f"/api/assignments/{claimed['id']}/annotation/"
    assert api.post(url, rating(), format="json").status_code == 201
    before = snapshot()
    resp = api.post(url, rating(valence=1), format="json")
    assert resp.status_code == 409
    assert snapshot() == before
    assert Annotation.objects.get().valence_raw == 7


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        ({"valence": 10}, "valence", "between 1 and 9"),
        ({"arousal": 0}, "arousal", "between 1 and 9"),
        ({"valence": 4.5}, "valence", "whole scale point"),
        ({"valence": "abc"}, "valence", "must be a number"),
        ({"arousal": [3]}, "arousal", "must be a number"),
        ({"valence_confidence": 6}, "valence_confidence", "1 to 5"),
        ({"arousal_confidence": "sure"}, "arousal_confidence", "1 to 5"),
        ({"context_note": {"x": 1}}, "context_note", "must be text"),
        ({"context_tags": "setting:home"}, "context_tags", "list of tags"),
        ({"cannot_judge": "yes"}, "cannot_judge", "true or false"),
        ({"time_on_task_ms": -5}, "time_on_task_ms", "milliseconds"),
        ({"context_tags": ["setting:mars"]}, "context_tags", "setting:mars"),
        ({"watched_fraction": 0.3}, "watched_fraction", "to the end"),
        ({"watched_fraction": "most"}, "watched_fraction", "number from 0 to 1"),
        ({"submission_id": "not-a-uuid"}, "submission_id", "UUID"),
        ({"cannot_judge": True, "cannot_judge_reason": ""}, "cannot_judge_reason", "why"),
    ],
)
def test_bad_ratings_are_400_with_field_errors_and_change_nothing(api, study, change, field, says):
    claimed = api.post(claim_url(study.pk), format="json").json()
    before = snapshot()
    resp = api.post(f"/api/assignments/{claimed['id']}/annotation/", rating(**change), format="json")
    assert resp.status_code == 400, resp.content
    body = resp.json()
    assert body["detail"]
    assert says in body["errors"][field]
    assert snapshot() == before


def test_a_body_that_is_not_an_object_is_400(api, study):
    claimed = api.post(claim_url(study.pk), format="json").json()
    resp = api.post(f"/api/assignments/{claimed['id']}/annotation/", [1, 2], format="json")
    assert resp.status_code == 400 and resp.json()["errors"]
    assert not Annotation.objects.exists()


@pytest.mark.parametrize("endpoint", ["heartbeat", "annotation"])
def test_someone_elses_assignment_is_404_and_nothing_changes(study, clips, endpoint):
    owner, intruder = MembershipFactory(study=study), MembershipFactory(study=study)
    assignment = services.assignment_claim_next(membership=owner)
    before = snapshot()
    resp = client_for(intruder.user).post(
        f"/api/assignments/{assignment.pk}/{endpoint}/", rating(), format="json"
    )
    assert resp.status_code == 404
    assert snapshot() == before


def test_session_auth_needs_the_csrf_header(study, member):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(member.user)
    assert client.post(claim_url(study.pk), format="json").status_code == 403  # no CSRF token
    assert not Assignment.objects.exists()
    csrf = secrets.token_hex(16)  # 32 characters from the allowed alphabet
    client.cookies[settings.CSRF_COOKIE_NAME] = csrf
    resp = client.post(claim_url(study.pk), format="json", HTTP_X_CSRFTOKEN=csrf)
    assert resp.status_code == 201
    claimed = resp.json()
    resp = client.post(
        f"/api/assignments/{claimed['id']}/annotation/", rating(), format="json", HTTP_X_CSRFTOKEN=csrf
    )
    assert resp.status_code == 201


# --- hot paths: query counts are pinned and do not grow with the study ---------------------------------

CLAIM_MAX_QUERIES = 13  # 9 statements + 4 savepoints in tests (BEGIN/COMMIT outside tests are not queries)
SUBMIT_MAX_QUERIES = 9  # 7 statements + 2 savepoints


def _study_with_clips(n: int):
    study = StudyFactory()
    Clip.objects.bulk_create(ClipFactory.build_batch(n, study=study))
    member = MembershipFactory(study=study)
    # some history, so the claim has to look past clips this annotator already rated
    for _ in range(3):
        a = services.assignment_claim_next(membership=member)
        services.annotation_submit(assignment=a, data=rating())
    return study, client_for(member.user)


def _queries_for_claim_and_submit(n_clips: int) -> tuple[int, int]:
    study, api = _study_with_clips(n_clips)
    with CaptureQueriesContext(connection) as claim_q:
        claimed = api.post(claim_url(study.pk), format="json")
    assert claimed.status_code == 201
    with CaptureQueriesContext(connection) as submit_q:
        submitted = api.post(f"/api/assignments/{claimed.json()['id']}/annotation/", rating(), format="json")
    assert submitted.status_code == 201
    return len(claim_q), len(submit_q)


def test_claim_and_submit_query_counts_are_pinned(study, clips, api, django_assert_max_num_queries):
    with django_assert_max_num_queries(CLAIM_MAX_QUERIES):
        claimed = api.post(claim_url(study.pk), format="json")
    assert claimed.status_code == 201
    with django_assert_max_num_queries(SUBMIT_MAX_QUERIES):
        submitted = api.post(f"/api/assignments/{claimed.json()['id']}/annotation/", rating(), format="json")
    assert submitted.status_code == 201
    with django_assert_max_num_queries(CLAIM_MAX_QUERIES):
        assert api.post(claim_url(study.pk), format="json").status_code == 201


def test_query_counts_do_not_grow_with_the_number_of_clips(db):
    small = _queries_for_claim_and_submit(10)
    large = _queries_for_claim_and_submit(300)
    assert small == large, f"claim/submit queries: {small} with 10 clips, {large} with 300"
    assert small[0] <= CLAIM_MAX_QUERIES and small[1] <= SUBMIT_MAX_QUERIES


@pytest.mark.parametrize("body", [{"exclude": [2**64]}, {"exclude": "1"}, {"exclude": [None]}, [1, 2]])
def test_odd_claim_bodies_are_400_not_500(api, study, body):
    resp = api.post(claim_url(study.pk), body, format="json")
    assert resp.status_code == 400, resp.content
    assert resp.json()["detail"]


def test_huge_ids_in_urls_are_404(api):
    huge = 10**20
    assert api.post(claim_url(huge), format="json").status_code == 404
    assert api.post(f"/api/assignments/{huge}/heartbeat/", format="json").status_code == 404
    assert api.post(f"/api/assignments/{huge}/annotation/", {}, format="json").status_code == 404


def test_a_number_too_large_for_a_float_is_400(api, study):
    claimed = api.post(claim_url(study.pk), format="json").json()
    resp = api.post(
        f"/api/assignments/{claimed['id']}/annotation/",
        data=json.dumps(rating(valence=10**400)),  # a JSON integer no float can hold
        content_type="application/json",
    )
    assert resp.status_code == 400 and "valence" in resp.json()["errors"]


# --- text no database can store (issue 6, item 12) ---------------------------------------------------------


@pytest.mark.parametrize("bad", ["a\x00b", "a\ud800b"], ids=["nul", "lone-surrogate"])
@pytest.mark.parametrize(
    "over",
    [
        {"context_note": "{bad}"},
        {"cannot_judge": True, "valence": None, "arousal": None, "cannot_judge_reason": "{bad}"},
        {"context_tags": ["setting:{bad}"]},
        {"unknown_key{bad}": 1},
    ],
    ids=["note", "reason", "tag", "key"],
)
def test_nul_byte_or_lone_surrogate_in_a_note_or_reason_is_400_and_nothing_is_saved(
    api, study, member, over, bad
):
    assignment_id = api.post(claim_url(study.pk), {}, format="json").json()["id"]
    before = snapshot()
    data = rating(**{k.replace("{bad}", bad): _fill(v, bad) for k, v in over.items()})
    url = f"/api/assignments/{assignment_id}/annotation/"
    response = api.post(url, json.dumps(data), content_type="application/json")  # \ud800 as an escape
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["detail"] and any(
        m.startswith(("Null characters", "Surrogate characters", "a key")) for m in body["errors"].values()
    )
    assert snapshot() == before
    ok = api.post(f"/api/assignments/{assignment_id}/annotation/", rating(), format="json")
    assert ok.status_code == 201  # the clip can still be rated


def _fill(value, bad):
    if isinstance(value, str):
        return value.replace("{bad}", bad)
    if isinstance(value, list):
        return [_fill(v, bad) for v in value]
    return value
