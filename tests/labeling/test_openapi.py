"""The OpenAPI schema generates cleanly and describes the API; the docs page loads nothing from the internet."""

import re

import pytest
import yaml
from django.contrib.staticfiles import finders
from django.core.management import call_command
from rest_framework.test import APIClient

EXPECTED_OPERATIONS = {
    ("post", "/api/studies/{study_id}/assignments/next/"): "assignment_claim_next",
    ("post", "/api/assignments/{assignment_id}/heartbeat/"): "assignment_heartbeat",
    ("post", "/api/assignments/{assignment_id}/annotation/"): "annotation_submit",
    ("get", "/api/studies/"): "studies_list",
    ("post", "/api/studies/"): "studies_create",
    ("get", "/api/studies/{study_id}/"): "studies_retrieve",
    ("patch", "/api/studies/{study_id}/"): "studies_partial_update",
    ("get", "/api/studies/{study_id}/clips/"): "clips_list",
    ("post", "/api/studies/{study_id}/clips/"): "clips_upload",
    ("get", "/api/studies/{study_id}/clips/{clip_id}/"): "clips_retrieve",
    ("get", "/api/studies/{study_id}/members/"): "members_list",
    ("post", "/api/studies/{study_id}/members/"): "members_add",
    ("post", "/api/studies/{study_id}/members/{member_id}/labels/withdraw/"): "members_labels_withdraw",
    ("post", "/api/studies/{study_id}/members/{member_id}/labels/reinstate/"): "members_labels_reinstate",
    ("get", "/api/studies/{study_id}/participants/"): "participants_list",
    ("post", "/api/studies/{study_id}/participants/"): "participants_create",
    ("get", "/api/studies/{study_id}/participants/{participant_id}/"): "participants_retrieve",
    ("patch", "/api/studies/{study_id}/participants/{participant_id}/"): "participants_partial_update",
    ("post", "/api/studies/{study_id}/participants/{participant_id}/withdraw/"): "participants_withdraw",
    ("post", "/api/studies/{study_id}/participants/{participant_id}/reinstate/"): "participants_reinstate",
    ("get", "/api/studies/{study_id}/annotations/"): "annotations_list",
    ("get", "/api/studies/{study_id}/agreement/"): "agreement_retrieve",
    ("post", "/api/studies/{study_id}/agreement/"): "agreement_compute",
    ("get", "/api/studies/{study_id}/self-reports/"): "self_reports_list",
    ("post", "/api/studies/{study_id}/self-reports/import/"): "self_reports_import",
    ("get", "/api/studies/{study_id}/exports/"): "exports_list",
    ("post", "/api/studies/{study_id}/exports/"): "exports_create",
    ("get", "/api/studies/{study_id}/exports/latest/"): "exports_latest",
    ("get", "/api/exports/{export_id}/"): "exports_retrieve",
    ("delete", "/api/exports/{export_id}/"): "exports_delete",
    ("get", "/api/exports/{export_id}/files/{path}"): "exports_file",
    ("get", "/api/exports/{export_id}/download.zip"): "exports_zip",
    ("get", "/api/studies/{study_id}/participants/{participant_id}/links/"): "participant_links_list",
    ("post", "/api/studies/{study_id}/participants/{participant_id}/links/"): "participant_links_issue",
    (
        "post",
        "/api/studies/{study_id}/participants/{participant_id}/links/{link_id}/revoke/",
    ): "participant_links_revoke",
    ("get", "/api/me/"): "me",
    ("post", "/api/auth/token/"): "auth_token_obtain",
    ("delete", "/api/auth/token/"): "auth_token_revoke_current",
    ("get", "/api/auth/tokens/"): "auth_tokens_list",
    ("delete", "/api/auth/tokens/{token_id}/"): "auth_tokens_revoke",
}


@pytest.fixture(scope="module")
def schema(tmp_path_factory):
    """`manage.py spectacular --validate --fail-on-warn`: any warning or invalid schema fails here."""
    out = tmp_path_factory.mktemp("schema") / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    return yaml.safe_load(out.read_text())


def test_schema_has_every_operation(schema):
    found = {
        (method, path): op["operationId"]
        for path, ops in schema["paths"].items()
        for method, op in ops.items()
        if path.startswith("/api/") and path != "/api/ping/"
    }
    assert found == EXPECTED_OPERATIONS


def test_schema_describes_bodies_errors_and_pagination(schema):
    paths = schema["paths"]
    claim = paths["/api/studies/{study_id}/assignments/next/"]["post"]
    assert set(claim["responses"]) == {"201", "204", "400", "403", "404", "409"}
    assert claim["responses"]["201"]["content"]["application/json"]["schema"]["$ref"].endswith("/Assignment")
    submit = paths["/api/assignments/{assignment_id}/annotation/"]["post"]
    assert {"200", "201", "400", "404", "409"} <= set(submit["responses"])
    body = schema["components"]["schemas"]["AnnotationInputRequest"]
    assert {"submission_id", "time_on_task_ms", "watched_fraction"} <= set(body["required"])
    annotations = paths["/api/studies/{study_id}/annotations/"]["get"]
    params = {p["name"] for p in annotations["parameters"]}
    assert {"cursor", "page_size", "clip", "annotator", "since", "study_id"} <= params
    page = schema["components"]["schemas"]["PaginatedResearchAnnotationList"]
    assert {"next", "previous", "results"} <= set(page["properties"])
    upload = paths["/api/studies/{study_id}/clips/"]["post"]["requestBody"]["content"]
    assert list(upload) == ["multipart/form-data"]
    error = schema["components"]["schemas"]["Error"]
    assert set(error["properties"]) == {"detail", "errors"}
    assert {"tokenAuth", "cookieAuth"} <= set(schema["components"]["securitySchemes"])


def test_schema_describes_the_exports_api(schema):
    paths = schema["paths"]
    create = paths["/api/studies/{study_id}/exports/"]["post"]
    assert set(create["responses"]) == {"202", "400", "404", "503"}
    body = schema["components"]["schemas"]["ExportParametersRequest"]
    assert set(body["properties"]) == {
        "formats", "grid", "splits", "split_seed", "include_free_text", "include_media", "stable_salt",
    }  # fmt: skip
    assert "required" not in body  # every parameter has a default
    export = schema["components"]["schemas"]["Export"]["properties"]
    assert {"status", "progress", "watermark", "files", "withdrawn", "withdrawn_note", "zip_url"} <= set(
        export
    )
    assert "salt" not in export
    listing = paths["/api/studies/{study_id}/exports/"]["get"]
    assert {"cursor", "page_size"} <= {p["name"] for p in listing["parameters"]}
    one = paths["/api/exports/{export_id}/files/{path}"]["get"]["responses"]
    assert {"200", "206", "304", "404", "410", "416"} == set(one)
    assert one["410"]["content"]["application/json"]["schema"]["$ref"].endswith("/WithdrawnError")
    zipped = paths["/api/exports/{export_id}/download.zip"]["get"]["responses"]
    assert list(zipped["200"]["content"]) == ["application/zip"] and {"404", "410"} <= set(zipped)
    assert set(paths["/api/exports/{export_id}/"]["delete"]["responses"]) == {"204", "404", "409"}


@pytest.mark.django_db
def test_schema_endpoint_serves_it():
    resp = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert resp.status_code == 200
    assert "/api/studies/{study_id}/assignments/next/" in resp.json()["paths"]


@pytest.mark.django_db
def test_docs_page_loads_swagger_ui_from_our_own_static_files(client):
    resp = client.get("/api/docs/")
    assert resp.status_code == 200
    html = resp.content.decode()
    sources = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    assert sources, "the docs page should load Swagger UI"
    assert not [s for s in sources if re.match(r"(https?:)?//", s)], sources
    assert not re.search(r"https?://(?!localhost|testserver)", re.sub(r"<!--.*?-->", "", html, flags=re.S)), (
        "the page mentions an outside URL"
    )
    # The start-up script is a separate response (no inline script: the Content-Security-Policy forbids it).
    assert "<script>" not in html
    init = client.get("/api/docs/?script=")
    assert init.status_code == 200 and init["Content-Type"].startswith("application/javascript")
    assert '"validatorUrl": null' in init.content.decode()  # no badge fetched from the online validator
    scripts = [s for s in sources if s.endswith(".js")]
    assert any("swagger-ui-bundle" in s for s in scripts)
    for src in scripts:
        assert src.startswith("/static/"), src
        assert finders.find(src.removeprefix("/static/")), f"{src} is not a static file we serve"
