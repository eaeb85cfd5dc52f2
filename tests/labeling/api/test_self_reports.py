"""The self-report API through HTTP: import a file (multipart, or the body as text/csv or application/json;
dry run; every bad row in a 400), list a study's self-reports; another researcher's study and the study's own
annotators get 404; a researcher may send a file past the small body budget, an annotator may not."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from labeling.models import SelfReport
from labeling.services import participant_withdraw, self_reports_import
from tests.annotator.test_request_guard import CountingInput, wsgi
from tests.factories import MembershipFactory, StudyFactory, api_key_for
from tests.labeling.self_report_helpers import csv_bytes, json_bytes, row, world

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_key_for(user)}")
    return client


@pytest.fixture
def w():
    return world()


@pytest.fixture
def rc(w):
    return client_for(MembershipFactory(study=w.study, role="researcher").user)


def url(w, dry_run: bool = False) -> str:
    return f"/api/studies/{w.study.pk}/self-reports/import/" + ("?dry_run=1" if dry_run else "")


def test_a_multipart_upload_imports_and_a_second_one_creates_nothing(w, rc):
    content = csv_bytes([row(w, id="a"), row(w, id="b", start_s="0", end_s="1.5")])
    first = rc.post(url(w), {"file": SimpleUploadedFile("reports.csv", content)}, format="multipart")
    assert first.status_code == 201, first.content
    body = first.json()
    assert (body["format"], body["rows"], body["created"], body["unchanged"], body["imported"]) == (
        "csv",
        2,
        2,
        0,
        True,
    )
    assert body["errors"] == [] and "header is line 1" in body["lines"]
    assert SelfReport.objects.filter(study=w.study, source="imported").count() == 2
    again = rc.post(url(w), {"file": SimpleUploadedFile("reports.csv", content)}, format="multipart")
    assert again.status_code == 200 and (again.json()["created"], again.json()["unchanged"]) == (0, 2)
    assert SelfReport.objects.count() == 2


def test_the_body_may_be_the_file_as_text_csv_or_application_json(w, rc):
    csv_body = csv_bytes([row(w, id="a")])
    response = rc.generic("POST", url(w), csv_body, content_type="text/csv; charset=utf-8")
    assert response.status_code == 201 and response.json()["format"] == "csv"
    json_body = json_bytes([row(w, id="a"), row(w, id="b", clip=str(w.clip2.pk))])
    response = rc.generic("POST", url(w), json_body, content_type="application/json")
    assert response.status_code == 201, response.content
    assert (response.json()["format"], response.json()["created"], response.json()["unchanged"]) == (
        "json",
        1,
        1,
    )
    uploaded = rc.post(url(w), {"file": SimpleUploadedFile("r.json", json_body)}, format="multipart")
    assert uploaded.status_code == 200 and uploaded.json()["unchanged"] == 2


def test_a_dry_run_writes_nothing_and_answers_200_with_the_report(w, rc):
    content = csv_bytes([row(w, id="a")])
    response = rc.generic("POST", url(w, dry_run=True), content, content_type="text/csv")
    assert response.status_code == 200
    assert (response.json()["dry_run"], response.json()["created"], response.json()["imported"]) == (
        True,
        1,
        False,
    )
    assert not SelfReport.objects.exists()


def test_a_file_with_bad_rows_is_a_400_listing_every_one_and_imports_nothing(w, rc):
    content = csv_bytes(
        [row(w, id="ok"), row(w, participant="P-99"), row(w, clip=str(w.clip3.pk), valence="11")]
    )
    for dry_run in (False, True):
        response = rc.generic("POST", url(w, dry_run=dry_run), content, content_type="text/csv")
        assert response.status_code == 400
        body = response.json()
        assert (
            body["detail"]
            == "Nothing was imported: 2 of 3 rows have problems; the report lists each with its line and why."
        )
        assert body["errors"] == {"file": body["detail"]}
        assert [(e["line"], e["field"]) for e in body["report"]["errors"]] == [
            (3, "participant"),
            (4, "clip"),
            (4, "valence"),
        ]
    assert not SelfReport.objects.exists()


def test_a_file_that_cannot_be_read_is_a_400_with_one_message(w, rc):
    response = rc.generic(
        "POST", url(w), "participant;clip\nP-01;1\n".encode("utf-16"), content_type="text/csv"
    )
    assert response.status_code == 400 and "not UTF-8" in response.json()["report"]["errors"][0]["message"]
    response = rc.post(
        url(w), {"file": SimpleUploadedFile("r.csv", b"colour,participant\n")}, format="multipart"
    )
    assert response.status_code == 400 and "Unknown column(s): 'colour'" in response.json()["detail"]


def test_no_file_is_a_400_saying_how_to_send_one(w, rc):
    for response in (
        rc.post(url(w), {}, format="multipart"),
        rc.post(url(w), {"other": "x"}, format="multipart"),
        rc.generic("POST", url(w), b"", content_type="text/csv"),
        rc.post(url(w), {"file": SimpleUploadedFile("empty.csv", b"")}, format="multipart"),
    ):
        assert response.status_code == 400, response.content
        assert "multipart field `file`" in response.json()["detail"] or "empty" in response.json()["detail"]
    assert rc.post(url(w) + "?dry_run=maybe", {}, format="multipart").status_code == 400


def test_another_researchers_study_and_the_studys_annotators_get_404(w):
    content = csv_bytes([row(w)])
    outsider = client_for(MembershipFactory(study=StudyFactory(), role="researcher").user)
    annotator = client_for(MembershipFactory(study=w.study).user)
    for client in (outsider, annotator):
        assert client.generic("POST", url(w), content, content_type="text/csv").status_code == 404
        assert client.get(f"/api/studies/{w.study.pk}/self-reports/").status_code == 404
    assert APIClient().generic("POST", url(w), content, content_type="text/csv").status_code == 401
    assert not SelfReport.objects.exists()


def test_the_list_pages_and_filters_the_self_reports_that_count(w, rc):
    self_reports_import(
        study=w.study,
        content=csv_bytes([
            row(w, id="a"), row(w, id="b", start_s="0", end_s="1"), row(w, id="c", clip=str(w.clip2.pk)),
            row(w, id="d", participant="P-02", clip=str(w.clip3.pk)),
        ]),
        filename_or_format="csv",
    )  # fmt: skip
    listed = f"/api/studies/{w.study.pk}/self-reports/"
    body = rc.get(listed, {"page_size": 2}).json()
    assert len(body["results"]) == 2 and body["next"]
    item = next(r for r in rc.get(listed).json()["results"] if r["id_in_file"] == "a")
    assert item["participant"] == "P-01" and item["clip"] == w.clip1.pk and item["study"] == w.study.pk
    assert (item["instrument"], item["scale_points"], item["valence_raw"], item["valence"]) == (
        "sam",
        9,
        7,
        0.5,
    )
    assert (item["start_s"], item["end_s"], item["source"]) == (None, None, "imported")

    def ids(**params):
        return sorted(r["id_in_file"] for r in rc.get(listed, params).json()["results"])

    assert ids() == ["a", "b", "c", "d"]
    assert ids(clip=w.clip1.pk) == ["a", "b"]
    assert ids(participant="P-02") == ["d"]
    assert ids(participant="P-01", clip=w.clip2.pk) == ["c"]
    assert rc.get(listed, {"clip": "x"}).status_code == 400
    participant_withdraw(participant=w.p2, note="asked")
    assert ids() == ["a", "b", "c"]  # a withdrawn participant's self-reports are out


def test_a_researcher_may_send_a_file_past_the_small_body_budget_and_an_annotator_may_not(
    db, settings, spool_dir
):
    settings.REQUEST_MAX_BYTES = 1000
    settings.SELF_REPORT_IMPORT_MAX_BYTES = 10_000
    study = StudyFactory()
    researcher = {
        "HTTP_AUTHORIZATION": f"Token {api_key_for(MembershipFactory(study=study, role='researcher').user)}"
    }
    annotator = {"HTTP_AUTHORIZATION": f"Token {api_key_for(MembershipFactory(study=study).user)}"}
    path = f"/api/studies/{study.pk}/self-reports/import/"
    csv_type = {"CONTENT_TYPE": "text/csv"}
    body = CountingInput(5000)
    status, _, content = wsgi("POST", path, body=body, length=body.size, headers={**researcher, **csv_type})
    assert status == 400 and body.read_bytes == 5000  # read, and refused by the service: a header of x's
    assert "Unknown column(s): 'xxxx" in json.loads(content)["detail"]
    body = CountingInput(5000)
    assert wsgi("POST", path, body=body, length=body.size, headers={**annotator, **csv_type})[0] == 413
    assert body.read_bytes == 0
    over = CountingInput(10_000 + 2 * 1024 * 1024)
    assert wsgi("POST", path, body=over, length=over.size, headers={**researcher, **csv_type})[0] == 413
    assert over.read_bytes == 0


@pytest.fixture
def spool_dir(settings, tmp_path):
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    return tmp_path
