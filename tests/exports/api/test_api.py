"""The exports API (exports/api.py): start, list, poll, latest, delete; bad input is a 400 that creates
nothing; every route is a 404 to anyone but the study's researchers (and superusers), 401 without login."""

import pytest
from django.utils import timezone

from exports import services
from exports.models import Export
from exports.params import DEFAULTS
from tests.exports.helpers import api, finish_by_hand

pytestmark = pytest.mark.django_db


def exports_url(study_id) -> str:
    return f"/api/studies/{study_id}/exports/"


def test_post_starts_a_pending_export_and_answers_202_with_its_location(
    world, queued, django_capture_on_commit_callbacks
):
    study = world["study"]
    with django_capture_on_commit_callbacks(execute=True):
        resp = api(world["researcher"]).post(
            exports_url(study.pk), {"grid": [4, 6], "formats": ["csv"]}, format="json"
        )
    assert resp.status_code == 202, resp.content
    body = resp.json()
    export = Export.objects.get()
    assert queued == [export.pk]
    assert resp["Location"] == f"http://testserver/api/exports/{export.pk}/" == body["url"]
    assert (body["id"], body["version"], body["status"], body["progress"]) == (export.pk, 1, "pending", 0.0)
    assert body["parameters"] == {**DEFAULTS, "grid": [4, 6], "formats": ["parquet", "csv"]}
    last = study.annotations.order_by("-id")[0].pk
    assert body["watermark"]["last_annotation_id"] == last
    assert body["created_by"] == world["researcher"].username
    assert body["files"] == [] and body["zip_url"] is None and body["manifest_url"] is None
    assert body["withdrawn"] is False and body["withdrawn_note"] == "" and body["supersedes"] is None
    assert "salt" not in body  # the salt is a secret of the server


def test_post_with_no_body_uses_the_defaults(world, queued):
    resp = api(world["researcher"]).post(exports_url(world["study"].pk))
    assert resp.status_code == 202 and resp.json()["parameters"] == DEFAULTS


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"gird": [5, 5]}, "parameters", "unknown parameters: gird"),
        ({"grid": [0, 0]}, "grid", "from 2 to 20"),
        ({"grid": [100, 100]}, "grid", "at most 400 cells"),  # 10,000 cells
        ({"grid": 100}, "grid", "from 2 to 20"),
        ({"splits": {"train": 0.8, "validation": 0.1, "test": 0.2}}, "splits", "sum to 1 (they sum to 1.1)"),
        ({"splits": {"train": 1.0}}, "splits", "each of train, validation and test"),
        ({"formats": ["xlsx"]}, "formats", "unknown formats: xlsx"),
        ({"split_seed": -1}, "split_seed", "whole number"),
        ({"include_media": "yes"}, "include_media", "true or false"),
    ],
)
def test_bad_parameters_are_400_naming_the_field_and_create_nothing(world, queued, body, field, words):
    resp = api(world["researcher"]).post(exports_url(world["study"].pk), body, format="json")
    assert resp.status_code == 400, resp.content
    data = resp.json()
    assert "nothing was started" in data["detail"]
    assert words in data["errors"][field]
    assert not Export.objects.exists() and queued == []


def test_every_bad_field_is_named_at_once(world, queued):
    body = {"grid": [1, 1], "splits": {"train": 0.5, "validation": 0.1, "test": 0.1}, "colour": "red"}
    resp = api(world["researcher"]).post(exports_url(world["study"].pk), body, format="json")
    assert resp.status_code == 400
    assert set(resp.json()["errors"]) == {"grid", "splits", "parameters"}
    assert not Export.objects.exists()


@pytest.mark.parametrize("body", ["[1, 2]", '"grid"', "{not json", '{"grid": [5, 5], "formats": "\\u0000"}'])
def test_a_body_that_is_not_an_object_of_parameters_is_400(world, queued, body):
    resp = api(world["researcher"]).post(
        exports_url(world["study"].pk), body, content_type="application/json"
    )
    assert resp.status_code == 400, resp.content
    assert not Export.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_post_with_the_broker_down_is_503_and_leaves_nothing(world, broker_down):
    resp = api(world["researcher"]).post(exports_url(world["study"].pk))
    assert resp.status_code == 503 and "broker" in resp.json()["detail"]
    assert not Export.objects.exists()


def test_list_is_newest_first_and_paginated(world, queued):
    study = world["study"]
    for _ in range(3):
        services.export_start(study=study, parameters={}, created_by=world["researcher"])
    services.export_start(study=world["other_study"], parameters={})
    client = api(world["researcher"])
    first = client.get(exports_url(study.pk), {"page_size": 2}).json()
    assert [e["version"] for e in first["results"]] == [3, 2]
    assert "files" not in first["results"][0] and first["results"][0]["n_files"] == 0  # the detail has them
    rest = client.get(first["next"]).json()
    assert [e["version"] for e in rest["results"]] == [1] and rest["next"] is None


def test_detail_shows_progress_then_files_with_download_urls(world, queued):
    export = services.export_start(study=world["study"], parameters={})
    Export.objects.filter(pk=export.pk).update(
        status="running", progress=0.4, progress_message="ratings: 400 of 1,000", started_at=timezone.now()
    )
    client = api(world["researcher"])
    running = client.get(f"/api/exports/{export.pk}/").json()
    assert (running["status"], running["progress"], running["progress_message"]) == (
        "running",
        0.4,
        "ratings: 400 of 1,000",
    )
    assert running["zip_url"] is None
    finish_by_hand(export)
    done = client.get(f"/api/exports/{export.pk}/").json()
    assert done["status"] == "done" and done["duration_s"] == 0.5
    assert done["zip_url"] == f"http://testserver/api/exports/{export.pk}/download.zip"
    assert done["manifest_url"] == f"http://testserver/api/exports/{export.pk}/files/manifest.json"
    ratings = next(f for f in done["files"] if f["path"] == "data/ratings/train.parquet")
    assert ratings["url"] == f"http://testserver/api/exports/{export.pk}/files/data/ratings/train.parquet"
    assert len(ratings["sha256"]) == 64 and ratings["bytes"] == 10240
    assert done["total_bytes"] == sum(f["bytes"] for f in done["files"])


def test_a_failed_export_says_why(world, queued):
    export = services.export_start(study=world["study"], parameters={})
    Export.objects.filter(pk=export.pk).update(status="failed", error="disk full", finished_at=timezone.now())
    body = api(world["researcher"]).get(f"/api/exports/{export.pk}/").json()
    assert body["status"] == "failed" and body["error"] == "disk full" and body["zip_url"] is None


def test_withdrawn_data_is_flagged_and_its_urls_withheld(done_export, world):
    Export.objects.filter(pk=done_export.pk).update(
        withdrawn_data_at=timezone.now(), withdrawn_note="1 participant withdrawn on 2026-03-01"
    )
    body = api(world["researcher"]).get(f"/api/exports/{done_export.pk}/").json()
    assert body["withdrawn"] is True and body["withdrawn_note"] == "1 participant withdrawn on 2026-03-01"
    assert body["zip_url"] is None and all(f["url"] is None for f in body["files"])


def test_latest_is_the_newest_done_export_without_withdrawn_data(world, queued):
    study, client = world["study"], api(world["researcher"])
    none = client.get(exports_url(study.pk) + "latest/")
    assert none.status_code == 404 and "no finished export" in none.json()["detail"]
    v1 = finish_by_hand(services.export_start(study=study, parameters={}))
    v2 = finish_by_hand(services.export_start(study=study, parameters={}))
    services.export_start(study=study, parameters={})  # v3 pending
    assert client.get(exports_url(study.pk) + "latest/").json()["id"] == v2.pk
    Export.objects.filter(pk=v2.pk).update(withdrawn_data_at=timezone.now())
    latest = client.get(exports_url(study.pk) + "latest/").json()
    assert latest["id"] == v1.pk and latest["manifest_url"].endswith(
        f"/api/exports/{v1.pk}/files/manifest.json"
    )


def test_delete_removes_the_folder_and_the_row(done_export, world, exports_root):
    folder = exports_root / done_export.folder
    assert folder.is_dir()
    resp = api(world["researcher"]).delete(f"/api/exports/{done_export.pk}/")
    assert resp.status_code == 204
    assert not Export.objects.filter(pk=done_export.pk).exists() and not folder.exists()
    assert list(folder.parent.iterdir()) == []  # nothing left aside
    assert api(world["researcher"]).delete(f"/api/exports/{done_export.pk}/").status_code == 404


@pytest.mark.parametrize("state", ["pending", "running"])
def test_an_export_being_built_cannot_be_deleted(world, queued, state):
    export = services.export_start(study=world["study"], parameters={})
    Export.objects.filter(pk=export.pk).update(status=state)
    resp = api(world["researcher"]).delete(f"/api/exports/{export.pk}/")
    assert resp.status_code == 409 and "still being built" in resp.json()["detail"]
    assert Export.objects.filter(pk=export.pk, status=state).exists()


def test_a_failed_export_can_be_deleted(world, queued):
    export = services.export_start(study=world["study"], parameters={})
    Export.objects.filter(pk=export.pk).update(status="failed", error="x", finished_at=timezone.now())
    assert api(world["researcher"]).delete(f"/api/exports/{export.pk}/").status_code == 204
    assert not Export.objects.exists()


def routes(export, study_id):
    return [
        ("get", exports_url(study_id)),
        ("post", exports_url(study_id)),
        ("get", exports_url(study_id) + "latest/"),
        ("get", f"/api/exports/{export.pk}/"),
        ("delete", f"/api/exports/{export.pk}/"),
        ("get", f"/api/exports/{export.pk}/files/manifest.json"),
        ("get", f"/api/exports/{export.pk}/files/data/ratings/train.parquet"),
        ("get", f"/api/exports/{export.pk}/download.zip"),
    ]


@pytest.mark.parametrize("who", ["annotator", "crowd", "other_researcher"])
def test_everyone_but_the_studys_researchers_gets_404_on_every_route(done_export, world, queued, who):
    client = api(world[who])
    for method, url in routes(done_export, world["study"].pk):
        resp = getattr(client, method)(url)
        assert resp.status_code == 404, (who, method, url, resp.status_code)
        assert resp.json()["detail"] in {"No such study.", "No such export."}, url
    assert Export.objects.filter(pk=done_export.pk).exists() and Export.objects.count() == 1


def test_another_studys_export_is_404_for_a_researcher_through_their_own_study(done_export, world, queued):
    theirs = finish_by_hand(services.export_start(study=world["other_study"], parameters={}))
    client = api(world["researcher"])
    assert client.get(f"/api/exports/{theirs.pk}/").status_code == 404
    assert client.get(f"/api/exports/{theirs.pk}/files/manifest.json").status_code == 404
    assert client.get(f"/api/exports/{theirs.pk}/download.zip").status_code == 404
    assert client.delete(f"/api/exports/{theirs.pk}/").status_code == 404
    assert Export.objects.filter(pk=theirs.pk).exists()


def test_anonymous_requests_are_401(done_export, world):
    for method, url in routes(done_export, world["study"].pk):
        resp = getattr(api(), method)(url)
        assert resp.status_code == 401, (method, url)
        assert resp["WWW-Authenticate"] == "Token"


def test_a_superuser_may_see_and_download_any_export(done_export, world):
    client = api(world["superuser"])
    assert client.get(f"/api/exports/{done_export.pk}/").status_code == 200
    assert client.get(f"/api/exports/{done_export.pk}/files/manifest.json").status_code == 200
    assert client.get(exports_url(world["study"].pk)).json()["results"][0]["id"] == done_export.pk


def test_a_token_works_for_a_pipeline(done_export, world):
    from tests.factories import api_key_for

    client = api()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_key_for(world['researcher'])}")
    latest = client.get(exports_url(world["study"].pk) + "latest/").json()
    manifest = client.get(latest["manifest_url"])
    assert manifest.status_code == 200 and manifest["ETag"].startswith('"')
