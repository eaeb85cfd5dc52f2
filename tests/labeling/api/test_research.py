"""Researchers' REST API through HTTP: studies, clips (upload), members, annotations, me, token; and the
rule that another user's id gets 404 on every object endpoint."""

import json
import secrets
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from labeling import services
from labeling.api.account import TokenThrottle
from labeling.demo import render_demo_clip
from labeling.models import Annotation, ApiToken, Clip, Membership, Participant, SchemeVersion, Study
from tests.factories import ClipFactory, MembershipFactory, StudyFactory, UserFactory, api_key_for
from tests.factories import rating_data as rating
from tests.labeling.perceived_helpers import participant, self_report
from tests.labeling.report_helpers import rate_many


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_key_for(user)}")
    return client


def rate(membership, **over) -> Annotation:
    assignment = services.assignment_claim_next(membership=membership)
    return services.annotation_submit(assignment=assignment, data=rating(**over))[0]


def state():
    """Everything a refused request must leave unchanged."""
    return (
        sorted(Study.objects.values_list("id", "title", "overlap_k", "is_active")),
        sorted(SchemeVersion.objects.values_list("id", "version", "spec")),
        sorted(Clip.objects.values_list("id", "target_k", "n_assigned")),
        sorted(Membership.objects.values_list("id", "role", "labels_withdrawn_at")),
        Participant.objects.count(),
        Annotation.objects.count(),
    )


@pytest.fixture
def rc(researcher):
    return client_for(researcher)


# --- studies ----------------------------------------------------------------------------------------------


def test_studies_list_shows_only_the_requesters_studies(study, researcher, rc, clips):
    StudyFactory()  # someone else's
    annotated_elsewhere = StudyFactory()
    MembershipFactory(study=annotated_elsewhere, user=researcher)  # an annotator there: not listed
    body = rc.get("/api/studies/").json()
    assert [s["id"] for s in body["results"]] == [study.pk]
    item = body["results"][0]
    assert item["scheme"]["version"] == 1 and item["scheme"]["spec"]["instrument"] == "sam"
    assert item["clip_count"] == 5 and item["annotation_count"] == 0
    assert item["overlap_k"] == 3 and item["slug"] == study.slug


def test_lists_are_cursor_paginated_with_a_capped_page_size(db):
    user = UserFactory()
    studies = [StudyFactory() for _ in range(5)]
    for s in studies:
        MembershipFactory(study=s, user=user, role="researcher")
    api = client_for(user)
    first = api.get("/api/studies/?page_size=2").json()
    assert len(first["results"]) == 2 and "cursor=" in first["next"] and first["previous"] is None
    seen = [s["id"] for s in first["results"]]
    page = first
    while page["next"]:
        page = api.get(page["next"]).json()
        seen += [s["id"] for s in page["results"]]
    assert seen == sorted((s.pk for s in studies), reverse=True)
    # the page size is capped at 500
    big = studies[0]
    Clip.objects.bulk_create(ClipFactory.build_batch(501, study=big))
    capped = api.get(f"/api/studies/{big.pk}/clips/?page_size=100000").json()
    assert len(capped["results"]) == 500 and capped["next"]
    assert len(api.get(capped["next"]).json()["results"]) == 1
    assert len(api.get(f"/api/studies/{big.pk}/clips/").json()["results"]) == 100  # default


def test_staff_create_a_study_and_become_its_researcher(db):
    staff = UserFactory(is_staff=True)
    resp = client_for(staff).post(
        "/api/studies/",
        {"title": "Dinner talk", "overlap_k": 5, "scheme": {"instrument": "slider", "ask_confidence": False}},
        format="json",
    )
    assert resp.status_code == 201, resp.content
    body = resp.json()
    study = Study.objects.get(pk=body["id"])
    assert body["slug"] == "dinner-talk" and body["overlap_k"] == 5 and body["created_by"] == staff.username
    assert body["scheme"]["version"] == 1 and body["scheme"]["spec"]["instrument"] == "slider"
    assert Membership.objects.get(study=study, user=staff).role == "researcher"
    assert client_for(staff).get(f"/api/studies/{study.pk}/").status_code == 200


def test_non_staff_cannot_create_studies(user):
    resp = client_for(user).post("/api/studies/", {"title": "Mine"}, format="json")
    assert resp.status_code == 403
    assert not Study.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "X", "overlap_k": 0}, "overlap_k"),
        ({"title": "X", "completion_url": "not a url"}, "completion_url"),
        ({"title": "X", "scheme": {"instrument": "sam", "points": 8}}, "scheme.points"),
        ({"title": "X", "scheme": {"colour": "red"}}, "scheme"),
        ({"title": "X", "scheme": [1, 2]}, "scheme"),
        ({"title": "X", "slug": "taken"}, "slug"),
    ],
)
def test_bad_study_input_is_400_and_creates_nothing(db, payload, field):
    StudyFactory(slug="taken")
    before = state()
    resp = client_for(UserFactory(is_staff=True)).post("/api/studies/", payload, format="json")
    assert resp.status_code == 400, resp.content
    assert field in resp.json()["errors"]
    assert state() == before


def test_patch_changes_settings_and_edits_an_unused_scheme_in_place(study, rc):
    resp = rc.patch(
        f"/api/studies/{study.pk}/",
        {"title": "Renamed", "scheme": {"instrument": "grid", "points": 7}},
        format="json",
    )
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert body["title"] == "Renamed" and body["scheme"]["version"] == 1
    assert body["scheme"]["spec"]["instrument"] == "grid" and body["scheme"]["spec"]["points"] == 7
    assert study.schemes.count() == 1


def test_patch_of_a_used_scheme_makes_a_new_version(study, rc, clips, make_annotator):
    rated = rate(make_annotator(study))
    resp = rc.patch(f"/api/studies/{study.pk}/", {"scheme": {"instrument": "slider"}}, format="json")
    assert resp.status_code == 200
    assert resp.json()["scheme"]["version"] == 2 and resp.json()["scheme"]["spec"]["instrument"] == "slider"
    old = SchemeVersion.objects.get(study=study, version=1)
    assert old.spec["instrument"] == "sam"  # frozen
    rated.refresh_from_db()
    assert rated.scheme_version == old
    # the next claim uses the new version
    fresh = make_annotator(study)
    claimed = client_for(fresh.user).post(f"/api/studies/{study.pk}/assignments/next/", format="json").json()
    assert claimed["scheme_version"] == 2 and claimed["scheme"]["instrument"] == "slider"


def test_patch_overlap_k_retargets_clips(study, rc, clips, make_annotator):
    full = clips[0]
    Clip.objects.filter(pk=full.pk).update(n_assigned=3)
    resp = rc.patch(f"/api/studies/{study.pk}/", {"overlap_k": 2}, format="json")
    assert resp.status_code == 200 and resp.json()["overlap_k"] == 2
    targets = dict(Clip.objects.filter(study=study).values_list("id", "target_k"))
    assert targets.pop(full.pk) == 3  # never below the annotators a clip already has
    assert set(targets.values()) == {2}
    rc.patch(f"/api/studies/{study.pk}/", {"overlap_k": 4}, format="json")
    assert set(Clip.objects.filter(study=study).values_list("target_k", flat=True)) == {4}


def test_a_bad_patch_changes_nothing(study, rc):
    before = state()
    resp = rc.patch(
        f"/api/studies/{study.pk}/", {"title": "New", "scheme": {"instrument": "harp"}}, format="json"
    )
    assert resp.status_code == 400
    assert "scheme.instrument" in resp.json()["errors"]
    assert state() == before
    resp = rc.patch(f"/api/studies/{study.pk}/", {"lease_minutes": -1}, format="json")
    assert resp.status_code == 400 and "lease_minutes" in resp.json()["errors"]
    assert state() == before


# --- clips -------------------------------------------------------------------------------------------------


def test_clip_list_and_detail(study, rc, clips):
    body = rc.get(f"/api/studies/{study.pk}/clips/").json()
    assert [c["id"] for c in body["results"]] == sorted((c.pk for c in clips), reverse=True)
    one = rc.get(f"/api/studies/{study.pk}/clips/{clips[0].pk}/").json()
    assert (
        one["id"] == clips[0].pk
        and one["study"] == study.pk
        and one["media_url"] == f"/media/clips/{clips[0].pk}/"
    )
    assert one["target_k"] == 3 and one["n_submitted"] == 0 and one["participant"] is None


def test_clip_detail_has_the_observers_summary_and_the_self_reports(study, rc, clips):
    who = participant(study, "P-7")
    Clip.objects.filter(pk=clips[0].pk).update(participant=who)
    users = [MembershipFactory(study=study).user for _ in range(3)]
    rate_many(study, [(clips[0], u, v, -0.5, []) for u, v in zip(users, [0.5, 0.0, 0.25], strict=True)])
    whole = self_report(clips[0], who, 0.75, 0.25, valence_confidence=4, confidence_points=5,
                        context_tags=["setting:home"], context_note="after the call")  # fmt: skip
    self_report(clips[0], who, -1.0, None, window=(0.0, 1.5), instrument="slider", scale_points=None,
                valence_raw=-1.0)  # fmt: skip
    self_report(clips[1], who, 0.5, 0.5)  # another clip's
    body = rc.get(f"/api/studies/{study.pk}/clips/{clips[0].pk}/").json()
    assert body["id"] == clips[0].pk and body["participant"] == "P-7"
    got = body["self_reports"]
    assert [r["start_s"] for r in got] == [None, 0.0] and {r["participant"] for r in got} == {"P-7"}
    first = next(r for r in got if r["id"] == whole.pk)
    assert (first["instrument"], first["scale_points"], first["valence_raw"], first["valence"]) == (
        "sam",
        9,
        8.0,
        0.75,
    )
    assert (first["valence_confidence"], first["confidence_points"], first["context_tags"]) == (
        4,
        5,
        ["setting:home"],
    )
    assert (
        first["context_note"] == "after the call" and first["source"] == "imported" and first["reported_at"]
    )
    observers = body["observers"]
    assert (observers["n_ratings"], observers["n_cannot_judge"]) == (3, 0)
    valence = observers["dimensions"]["valence"]
    # observers .5, 0, .25: mean .25, sd .25, range [0, .5]; the whole-clip report (.75) wins over the window
    assert (valence["n"], valence["mean"], valence["sd"], valence["min"], valence["max"]) == (
        3,
        0.25,
        0.25,
        0.0,
        0.5,
    )
    assert (valence["self"], valence["reports_used"], valence["gap"]) == (0.75, 1, 0.5)
    assert valence["outside_range"] is True and valence["outside_sd"] is True
    arousal = observers["dimensions"]["arousal"]
    assert (arousal["mean"], arousal["sd"], arousal["self"], arousal["gap"]) == (-0.5, 0.0, 0.25, 0.75)

    bare = rc.get(f"/api/studies/{study.pk}/clips/{clips[2].pk}/").json()
    assert bare["self_reports"] == [] and bare["observers"]["dimensions"]["valence"]["self"] is None


@pytest.mark.parametrize("who", ["annotator", "other_researcher"])
def test_clip_detail_with_self_reports_is_404_for_annotators_and_other_researchers(study, clips, who):
    self_report(clips[0], participant(study, "P-7"), 0.75, 0.25)
    if who == "annotator":
        user = MembershipFactory(study=study).user  # an annotator of this very study
    else:
        user = MembershipFactory(study=StudyFactory(), role="researcher").user
    response = client_for(user).get(f"/api/studies/{study.pk}/clips/{clips[0].pk}/")
    assert response.status_code == 404
    assert "self" not in response.content.decode() and "P-7" not in response.content.decode()


@pytest.fixture(scope="module")
def video_bytes(tmp_path_factory) -> bytes:
    return render_demo_clip(tmp_path_factory.mktemp("api") / "v.mp4", seconds=1.0, fps=10).read_bytes()


def test_clip_upload(study, rc, researcher, media_root, video_bytes):
    upload = SimpleUploadedFile("street.mp4", video_bytes, content_type="video/mp4")
    resp = rc.post(
        f"/api/studies/{study.pk}/clips/", {"file": upload, "participant": "P-01"}, format="multipart"
    )
    assert resp.status_code == 201, resp.content
    body = resp.json()
    clip = Clip.objects.get(pk=body["id"])
    assert body["original_name"] == "street.mp4" and body["participant"] == "P-01"
    assert (
        body["uploaded_by"] == researcher.username and body["poster_url"] == f"/media/clips/{clip.pk}/poster/"
    )
    assert body["width"] == 320 and body["height"] == 240 and body["target_k"] == study.overlap_k
    assert clip.participant.code == "P-01"


def test_clip_upload_of_a_non_video_is_400_with_the_reason(study, rc, media_root, video_bytes):
    before = state()
    fake = SimpleUploadedFile("clip.mp4", b"just some text, not a video\n" * 50, content_type="video/mp4")
    resp = rc.post(f"/api/studies/{study.pk}/clips/", {"file": fake}, format="multipart")
    assert resp.status_code == 400
    assert "video" in resp.json()["detail"].lower()
    assert state() == before
    leftovers = [p for p in media_root.rglob("*") if p.is_file()] if media_root.exists() else []
    assert leftovers == []
    missing = rc.post(f"/api/studies/{study.pk}/clips/", {}, format="multipart")
    assert missing.status_code == 400 and "file" in missing.json()["errors"]


# --- members -----------------------------------------------------------------------------------------------


def test_members_list_with_counts_and_add_by_username(study, rc, clips, researcher):
    annotator = MembershipFactory(study=study)
    rate(annotator)
    body = rc.get(f"/api/studies/{study.pk}/members/").json()
    counts = {m["username"]: (m["role"], m["annotation_count"]) for m in body["results"]}
    assert counts == {researcher.username: ("researcher", 0), annotator.user.username: ("annotator", 1)}

    newcomer = UserFactory()
    url = f"/api/studies/{study.pk}/members/"
    resp = rc.post(url, {"username": newcomer.username}, format="json")
    assert (
        resp.status_code == 201 and resp.json()["role"] == "annotator" and resp.json()["user"] == newcomer.pk
    )
    assert (
        rc.post(url, {"username": newcomer.username, "role": "annotator"}, format="json").status_code == 200
    )
    before = state()
    clash = rc.post(url, {"username": newcomer.username, "role": "researcher"}, format="json")
    assert clash.status_code == 409 and "already a member" in clash.json()["detail"]
    unknown = rc.post(url, {"username": "nobody-here"}, format="json")
    assert unknown.status_code == 400 and "username" in unknown.json()["errors"]
    bad_role = rc.post(url, {"username": newcomer.username, "role": "owner"}, format="json")
    assert bad_role.status_code == 400 and "role" in bad_role.json()["errors"]
    assert state() == before


def test_a_members_labels_are_withdrawn_and_reinstated_with_a_reason(study, rc, clips, researcher):
    annotator = MembershipFactory(study=study)
    rate(annotator)
    url = f"/api/studies/{study.pk}/members/{annotator.pk}/labels/"
    before = state()
    missing = rc.post(url + "withdraw/", {}, format="json")
    assert assert_error_shape(missing, 400)["errors"] == {"note": "This field is required."}
    blank = rc.post(url + "withdraw/", {"note": "  "}, format="json")
    assert "note" in assert_error_shape(blank, 400)["errors"]
    assert state() == before

    done = rc.post(url + "withdraw/", {"note": "straight-lined"}, format="json")
    assert done.status_code == 200, done.content
    body = done.json()
    assert body["labels_withdrawn_at"] and body["annotation_count"] == 0 and body["id"] == annotator.pk
    assert rc.get(f"/api/studies/{study.pk}/annotations/").json()["results"] == []
    again = rc.post(url + "withdraw/", {"note": "again"}, format="json")
    assert "already withdrawn" in assert_error_shape(again, 409)["detail"]

    back = rc.post(url + "reinstate/", {"note": "mistake"}, format="json")
    assert back.status_code == 200 and back.json()["labels_withdrawn_at"] is None
    assert back.json()["annotation_count"] == 1
    twice = rc.post(url + "reinstate/", {"note": "mistake"}, format="json")
    assert "not been withdrawn" in assert_error_shape(twice, 409)["detail"]
    gone = rc.post(f"/api/studies/{study.pk}/members/999999/labels/withdraw/", {"note": "x"}, format="json")
    assert_error_shape(gone, 404)


def test_crowd_account_of_another_study_cannot_be_added_as_member(study, rc):
    crowd = UserFactory(
        username="crowd-elsewhere", is_pseudonymous=True, crowd_study=StudyFactory(), crowd_pid="5f1a2b3c4d"
    )
    before = state()
    for role in ("annotator", "researcher"):
        resp = rc.post(
            f"/api/studies/{study.pk}/members/", {"username": crowd.username, "role": role}, format="json"
        )
        assert resp.status_code == 400 and "crowd participant" in resp.json()["errors"]["username"]
    assert state() == before and not Membership.objects.filter(user=crowd, study=study).exists()


# --- annotations -------------------------------------------------------------------------------------------


def test_annotations_show_every_field_to_researchers(study, rc, clips):
    a1, a2 = MembershipFactory(study=study), MembershipFactory(study=study)
    first = rate(a1)
    rate(a2, valence=2)
    body = rc.get(f"/api/studies/{study.pk}/annotations/").json()
    assert len(body["results"]) == 2
    item = next(r for r in body["results"] if r["id"] == first.pk)
    assert item["annotator"] == a1.user_id and item["annotator_username"] == a1.user.username
    assert item["scheme_version"] == 1 and item["study"] == study.pk and item["clip"] == first.clip_id
    assert item["valence_raw"] == 7.0 and item["valence"] == 0.5 and item["arousal_raw"] == 3.0
    assert item["submission_id"] == str(first.submission_id) and item["assignment"] == first.assignment_id
    assert {"context_tags", "context_note", "cannot_judge", "cannot_judge_reason", "time_on_task_ms"} <= set(
        item
    )
    assert {
        "watched_fraction",
        "valence_confidence",
        "arousal_confidence",
        "created_at",
        "user_agent",
    } <= set(item)


def test_annotation_filters(study, rc, clips):
    a1, a2 = MembershipFactory(study=study), MembershipFactory(study=study)
    old, new = rate(a1), rate(a2)
    Annotation.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=2))
    url = f"/api/studies/{study.pk}/annotations/"

    def ids(query):
        resp = rc.get(url, query)
        assert resp.status_code == 200, resp.content
        return [r["id"] for r in resp.json()["results"]]

    assert ids({"annotator": a1.user_id}) == [old.pk]
    assert ids({"clip": new.clip_id}) == [new.pk]
    assert ids({"since": (timezone.now() - timedelta(days=1)).isoformat()}) == [new.pk]
    assert ids({"clip": new.clip_id, "annotator": a1.user_id}) == (
        [old.pk] if old.clip_id == new.clip_id else []
    )
    bad = rc.get(url, {"since": "last tuesday", "clip": "x"})
    assert bad.status_code == 400 and {"since", "clip"} <= set(bad.json()["errors"])


def test_annotators_cannot_list_annotations_even_in_their_own_study(study, clips):
    annotator = MembershipFactory(study=study)
    rate(annotator)
    rate(MembershipFactory(study=study))
    api = client_for(annotator.user)
    for url in ("annotations/", "", "clips/", "members/"):
        assert api.get(f"/api/studies/{study.pk}/{url}").status_code == 404
    assert api.get("/api/studies/").json()["results"] == []


# --- every object endpoint: another user's id is 404, and nothing changes ----------------------------------

OBJECT_ENDPOINTS = [
    ("post", "/api/studies/{study}/assignments/next/", {}),
    ("post", "/api/assignments/{assignment}/heartbeat/", {}),
    ("post", "/api/assignments/{assignment}/annotation/", rating()),
    ("get", "/api/studies/{study}/", None),
    ("patch", "/api/studies/{study}/", {"title": "Hijacked", "overlap_k": 1}),
    ("get", "/api/studies/{study}/clips/", None),
    ("post", "/api/studies/{study}/clips/", {}),
    ("get", "/api/studies/{study}/clips/{clip}/", None),
    ("get", "/api/studies/{own_study}/clips/{clip}/", None),  # a foreign clip under one's own study
    ("get", "/api/studies/{study}/members/", None),
    ("post", "/api/studies/{study}/members/", {"username": "{intruder}", "role": "researcher"}),
    ("post", "/api/studies/{study}/members/{member}/labels/withdraw/", {"note": "spam"}),
    ("post", "/api/studies/{own_study}/members/{member}/labels/withdraw/", {"note": "spam"}),
    ("post", "/api/studies/{study}/members/{withdrawn}/labels/reinstate/", {"note": "mistake"}),
    ("get", "/api/studies/{study}/annotations/", None),
]


INTRUDERS = ["stranger", "annotator of the study", "researcher elsewhere"]
CASES = [
    (kind, *endpoint)
    for kind in INTRUDERS
    for endpoint in OBJECT_ENDPOINTS
    # an annotator of the study may claim in it: that is the annotation-client tests' subject
    if not (kind == "annotator of the study" and "assignments/next" in endpoint[1])
]


@pytest.mark.parametrize(("intruder_kind", "method", "template", "payload"), CASES)
def test_another_users_id_is_404(study, clips, intruder_kind, method, template, payload):
    owner = MembershipFactory(study=study)
    assignment = services.assignment_claim_next(membership=owner)
    own_study = StudyFactory()
    intruder = UserFactory()
    MembershipFactory(study=own_study, user=intruder, role="researcher")
    if intruder_kind == "annotator of the study":
        MembershipFactory(study=study, user=intruder)
    elif intruder_kind == "stranger":
        Membership.objects.filter(user=intruder).delete()
    withdrawn = MembershipFactory(study=study)
    services.annotator_labels_withdraw(membership=withdrawn, by=None, note="spam")
    ids = {
        "study": study.pk,
        "assignment": assignment.pk,
        "clip": clips[0].pk,
        "own_study": own_study.pk,
        "member": owner.pk,
        "withdrawn": withdrawn.pk,
    }
    url = template.format(**ids)
    if isinstance(payload, dict) and payload.get("username") == "{intruder}":
        payload = {**payload, "username": intruder.username}
    before = state()
    response = getattr(client_for(intruder), method)(url, payload, format="json")
    assert response.status_code == 404, (url, response.status_code, response.content)
    assert state() == before


# --- accounts ----------------------------------------------------------------------------------------------


def test_me_lists_memberships(study, clips):
    m = MembershipFactory(study=study)
    body = client_for(m.user).get("/api/me/").json()
    assert body["id"] == m.user_id and body["username"] == m.user.username and body["is_staff"] is False
    assert body["memberships"] == [
        {
            "study": study.pk,
            "title": study.title,
            "slug": study.slug,
            "study_is_active": True,
            "role": "annotator",
            "consented_at": body["memberships"][0]["consented_at"],
            "completed_at": None,
        }
    ]


def fresh_address() -> str:
    """A client address of its own, so throttle counts left in a shared cache by other runs do not matter."""
    return "10.{}.{}.{}".format(*secrets.token_bytes(3))


def test_token_from_username_and_password_then_token_auth(db):
    user = UserFactory(password="a-long-test-password")
    anon = APIClient(REMOTE_ADDR=fresh_address())
    assert anon.get("/api/me/").status_code == 401
    wrong = anon.post("/api/auth/token/", {"username": user.username, "password": "nope"}, format="json")
    assert wrong.status_code == 400 and "credentials" in wrong.json()["detail"] + str(wrong.json()["errors"])
    resp = anon.post(
        "/api/auth/token/",
        {"username": user.username, "password": "a-long-test-password", "name": "pipeline"},
        format="json",
    )
    assert resp.status_code == 201
    body = resp.json()
    token = body["token"]
    assert body["name"] == "pipeline" and body["prefix"] == token[:8] and body["expires_at"]
    again = anon.post("/api/auth/token/", {"username": user.username, "password": "a-long-test-password"})
    assert again.status_code == 201 and again.json()["token"] != token  # a new token each time
    authed = APIClient()
    authed.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert authed.get("/api/me/").json()["username"] == user.username
    authed.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert authed.get("/api/me/").status_code == 401


def test_token_requests_are_throttled(db, monkeypatch):
    monkeypatch.setattr(TokenThrottle, "rate", "2/min")
    anon = APIClient(REMOTE_ADDR=fresh_address())
    guesses = [
        anon.post("/api/auth/token/", {"username": "x", "password": str(i)}).status_code for i in range(3)
    ]
    assert guesses == [400, 400, 429]
    assert not ApiToken.objects.exists()


def test_list_endpoints_make_no_query_per_row(study, rc, researcher, make_annotator):
    """Queries per page are the same for 2 rows as for 12 (no N+1 in serializers)."""
    urls = [f"/api/studies/{study.pk}/{part}" for part in ("clips/", "members/", "annotations/")] + [
        "/api/studies/"
    ]

    def counts():
        out = []
        for url in urls:
            with CaptureQueriesContext(connection) as q:
                assert rc.get(url).status_code == 200
            out.append(len(q))
        return out

    def grow(n):
        for _ in range(n):
            ClipFactory(study=study)
            rate(make_annotator(study))
            other = StudyFactory()
            MembershipFactory(study=other, user=researcher, role="researcher")

    grow(2)
    small = counts()
    grow(10)
    assert counts() == small


# --- bad input is a 4xx in the error shape, never a 500 (issue 6, item 12) --------------------------------


def send_json(client, method: str, url: str, data):
    """JSON with ASCII escapes (\\ud800), as a client would send a lone surrogate."""
    return getattr(client, method)(url, json.dumps(data), content_type="application/json")


def assert_error_shape(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    assert set(body) <= {"detail", "errors"}
    return body


def test_deeply_nested_json_to_token_endpoint_is_400(db):
    nested = "[" * 100_000 + "]" * 100_000
    response = APIClient().post("/api/auth/token/", nested, content_type="application/json")
    assert "nested too deeply" in assert_error_shape(response, 400)["detail"]


def test_json_nested_past_the_limit_is_400_even_when_python_could_parse_it(study, rc):
    before = state()
    label: object = 1
    for _ in range(40):
        label = [label]
    deep = {"scheme": {"context_groups": [{"name": "x", "tags": ["a"], "label": label}]}}
    response = rc.patch(f"/api/studies/{study.pk}/", deep, format="json")
    assert "nested more than" in assert_error_shape(response, 400)["detail"]
    assert state() == before


@pytest.mark.parametrize("bad", ["a\x00b", "a\ud800b"], ids=["nul", "lone-surrogate"])
@pytest.mark.parametrize("field", ["title", "instructions", "consent_text", "completion_code"])
def test_nul_byte_or_lone_surrogate_in_study_text_is_400(study, rc, field, bad):
    before = state()
    response = send_json(rc, "patch", f"/api/studies/{study.pk}/", {field: bad})
    body = assert_error_shape(response, 400)
    assert body["errors"][field].startswith(("Null characters", "Surrogate characters"))
    assert state() == before


@pytest.mark.parametrize("tag", ["street\ud800", "street\x00"], ids=["lone-surrogate", "nul"])
def test_lone_surrogate_in_scheme_tag_is_refused(study, rc, researcher, tag):
    researcher.is_staff = True
    researcher.save(update_fields=["is_staff"])
    before = state()
    scheme = {"context_groups": [{"name": "setting", "label": "Setting", "tags": ["home", tag]}]}
    created = send_json(rc, "post", "/api/studies/", {"title": "New", "scheme": scheme})
    assert "scheme.context_groups.0.tags.1" in assert_error_shape(created, 400)["errors"]
    changed = send_json(rc, "patch", f"/api/studies/{study.pk}/", {"scheme": scheme})
    assert "scheme.context_groups.0.tags.1" in assert_error_shape(changed, 400)["errors"]
    assert state() == before
    assert rc.get(f"/api/studies/{study.pk}/").status_code == 200  # the study still reads


def test_lone_surrogate_in_member_username_and_token_credentials_is_400(study, rc):
    member = send_json(rc, "post", f"/api/studies/{study.pk}/members/", {"username": "x\ud800"})
    assert "username" in assert_error_shape(member, 400)["errors"]
    token = send_json(APIClient(), "post", "/api/auth/token/", {"username": "x\x00", "password": "y\ud800"})
    assert set(assert_error_shape(token, 400)["errors"]) == {"username", "password"}


@pytest.mark.parametrize(
    "raw", ["p=abc", "p=1\x00", "p=" + "9" * 40, "r=maybe", "o=-1&p=1", "not base64 at all!"]
)
def test_forged_pagination_cursor_is_400(study, rc, clips, raw):
    import base64

    cursor = raw if raw.endswith("!") else base64.b64encode(raw.encode()).decode()
    for url in [f"/api/studies/{study.pk}/clips/", "/api/studies/", f"/api/studies/{study.pk}/annotations/"]:
        response = rc.get(url, {"cursor": cursor})
        assert "cursor" in assert_error_shape(response, 400)["errors"]


def test_real_cursors_still_page_through_everything(study, rc, clips):
    seen, url = [], f"/api/studies/{study.pk}/clips/?page_size=2"
    while url:
        body = rc.get(url).json()
        seen += [c["id"] for c in body["results"]]
        url = body["next"]
    assert sorted(seen) == sorted(c.pk for c in clips)


@pytest.mark.parametrize("path", ["/api/studies/", "clips/", "members/", "annotations/"])
def test_html_accept_and_options_on_researcher_list_views_are_not_500(study, rc, clips, path):
    url = path if path.startswith("/") else f"/api/studies/{study.pk}/{path}"
    html = rc.get(url, HTTP_ACCEPT="text/html")
    assert_error_shape(html, 406)
    options = rc.options(url)
    assert options.status_code == 200 and options.json()["renders"] == ["application/json"]
    assert rc.get(url, HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8").status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        "clip=99999999999999999999999",
        "annotator=99999999999999999999999",
        "since=99999999999999999999999",
        "page_size=99999999999999999999999",
        "clip=-99999999999999999999999",
        "page_size=" + "9" * 5000,
    ],
)
def test_huge_integer_in_query_parameter_is_not_500(study, rc, researcher, query):
    response = rc.get(f"/api/studies/{study.pk}/annotations/?{query}")
    if query.startswith("page_size"):
        assert response.status_code == 200  # capped at the maximum page size
    else:
        assert query.split("=")[0] in assert_error_shape(response, 400)["errors"]


def test_six_megabyte_json_body_is_413_in_the_error_shape(study, rc):
    before = state()
    response = rc.patch(f"/api/studies/{study.pk}/", {"instructions": "x" * 6_000_000}, format="json")
    assert "too large" in assert_error_shape(response, 413)["detail"]
    assert state() == before


def test_json_body_over_djangos_memory_limit_inside_the_budget_is_413_in_the_error_shape(study, rc, settings):
    settings.REQUEST_MAX_BYTES = 10 * 1024 * 1024  # the guard lets it through; Django's own limit stops it
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
    response = rc.patch(f"/api/studies/{study.pk}/", {"instructions": "x" * 2_000_000}, format="json")
    assert "too large" in assert_error_shape(response, 413)["detail"]


def test_more_than_100_files_in_one_upload_is_400_in_the_error_shape(study, rc, media_root):
    before = state()
    files = {f"file{i}": SimpleUploadedFile(f"c{i}.mp4", b"x") for i in range(101)}
    response = rc.post(f"/api/studies/{study.pk}/clips/", files, format="multipart")
    assert "100 files" in assert_error_shape(response, 400)["errors"]["file"]
    assert state() == before
