"""annotator/request_guard.py: bodies capped before they are read (413/411), NUL in URLs (400), and body
errors raised inside HTML views shown as a clear page. Requests go through Django's real WSGI handler with a
wsgi.input that counts what is read, so "nothing was read, nothing was written" is measured, not assumed."""

import io
import json
import tempfile

import pytest
from django.core import signals
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from django.urls import reverse

from labeling.models import Clip, Invite
from tests.factories import MembershipFactory, StudyFactory, UserFactory, api_key_for

MB = 1024 * 1024


class CountingInput(io.RawIOBase):
    """A request body of `size` bytes that is never materialised; counts what the server reads."""

    def __init__(self, size: int):
        self.size, self.read_bytes = size, 0

    def readable(self):
        return True

    def readinto(self, buffer):
        n = min(len(buffer), self.size - self.read_bytes)
        buffer[:n] = b"x" * n
        self.read_bytes += n
        return n


def wsgi(method: str, path: str, *, body: CountingInput | None = None, headers=None, length=None):
    """(status, headers, body bytes) from Django's WSGI handler."""
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "HTTP_HOST": "testserver",
        "wsgi.url_scheme": "http",
        "wsgi.input": body or io.BytesIO(b""),
        "wsgi.errors": io.StringIO(),
        "CONTENT_TYPE": "multipart/form-data; boundary=xyz",
    }
    if length is not None:
        environ["CONTENT_LENGTH"] = str(length)
    environ.update(headers or {})
    started = {}

    def start_response(status, response_headers, exc_info=None):
        started["status"], started["headers"] = int(status.split()[0]), dict(response_headers)

    # As Django's test client does: a request's start and end must not close the test's database connection.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        response = WSGIHandler()(environ, start_response)
        content = b"".join(response)
        response.close()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
    return started["status"], started["headers"], content


@pytest.fixture
def spool_dir(settings, tmp_path, monkeypatch):
    """Where Django would spool an uploaded body (FILE_UPLOAD_TEMP_DIR and tempfile's default)."""
    path = tmp_path / "spool"
    path.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(path)
    monkeypatch.setattr(tempfile, "tempdir", str(path))
    return path


def test_300_megabyte_post_to_the_token_endpoint_is_413_and_nothing_is_read_or_written(db, spool_dir):
    body = CountingInput(300 * MB)
    status, headers, content = wsgi("POST", "/api/auth/token/", body=body, length=body.size)
    assert status == 413
    assert headers["Content-Type"].startswith("application/json")
    assert "too large" in json.loads(content)["detail"]
    assert body.read_bytes == 0
    assert list(spool_dir.iterdir()) == []


def test_oversized_body_to_an_html_page_is_a_413_page(db, spool_dir):
    body = CountingInput(50 * MB)
    status, headers, content = wsgi("POST", "/login/", body=body, length=body.size)
    assert status == 413 and headers["Content-Type"].startswith("text/html")
    assert b"too large" in content and body.read_bytes == 0
    assert list(spool_dir.iterdir()) == []


def test_anonymous_clip_upload_gets_the_small_cap(db, spool_dir):
    study = StudyFactory()
    body = CountingInput(50 * MB)
    status, _, content = wsgi("POST", f"/api/studies/{study.pk}/clips/", body=body, length=body.size)
    assert status == 413 and body.read_bytes == 0
    assert "at most 5 MB" in json.loads(content)["detail"]


def test_annotator_token_gets_the_small_cap_on_the_clip_upload_endpoint(db, spool_dir):
    membership = MembershipFactory()  # an annotator of the study, not a researcher
    key = api_key_for(membership.user)
    body = CountingInput(50 * MB)
    status, _, _ = wsgi(
        "POST",
        f"/api/studies/{membership.study_id}/clips/",
        body=body,
        length=body.size,
        headers={"HTTP_AUTHORIZATION": f"Token {key}"},
    )
    assert status == 413 and body.read_bytes == 0


def test_researcher_token_may_send_a_clip_sized_body_to_the_upload_endpoint(db, spool_dir, settings):
    settings.CLIP_MAX_BYTES = 20 * MB
    membership = MembershipFactory(role="researcher")
    key = api_key_for(membership.user)
    auth = {"HTTP_AUTHORIZATION": f"Token {key}"}
    url = f"/api/studies/{membership.study_id}/clips/"
    over = CountingInput(22 * MB)  # past CLIP_MAX_BYTES plus the form overhead
    assert wsgi("POST", url, body=over, length=over.size, headers=auth)[0] == 413
    assert over.read_bytes == 0
    within = CountingInput(12 * MB)  # past the small cap, within the clip budget: the view reads it
    status, _, _ = wsgi("POST", url, body=within, length=within.size, headers=auth)
    assert status == 400 and within.read_bytes > 0  # a body of x's is no multipart form; refused by the view


def test_chunked_body_without_content_length_is_411(db, spool_dir):
    body = CountingInput(10 * MB)
    status, _, content = wsgi(
        "POST", "/api/auth/token/", body=body, headers={"HTTP_TRANSFER_ENCODING": "chunked"}
    )
    assert status == 411 and "Content-Length" in json.loads(content)["detail"]
    assert body.read_bytes == 0


@pytest.mark.parametrize("length", ["12abc", "\u00b2", "-1"])
def test_content_length_that_is_not_a_number_is_400(db, length):
    status, _, content = wsgi("POST", "/api/auth/token/", length=length)
    assert status == 400 and json.loads(content)["detail"]


def test_upload_to_a_huge_study_id_gets_the_small_cap_not_a_500(db, spool_dir):
    membership = MembershipFactory(role="researcher")
    key = api_key_for(membership.user)
    body = CountingInput(50 * MB)
    status, _, _ = wsgi(
        "POST",
        f"/api/studies/{'9' * 30}/clips/",
        body=body,
        length=body.size,
        headers={"HTTP_AUTHORIZATION": f"Token {key}"},
    )
    assert status == 413 and body.read_bytes == 0


def test_nul_byte_in_invite_url_is_400_page(client, db):
    invite = Invite.objects.create(study=StudyFactory())
    response = client.get(f"/invite/{invite.token}%00/")
    assert response.status_code == 400
    assert "NUL" in response.content.decode() and "<html" in response.content.decode()
    assert client.post("/invite/ab%00cd/").status_code == 400


def test_nul_byte_in_query_string_is_400(client, db):
    study = StudyFactory()
    assert client.get(f"/crowd/{study.slug}/?key=a%00b&PROLIFIC_PID=x").status_code == 400
    api = client.get("/api/me/?x=%00")
    assert api.status_code == 400 and api.json()["errors"] == {"url": "Null characters are not allowed."}


def test_more_than_100_files_on_the_study_upload_page_is_a_400_page(client, db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    researcher = MembershipFactory(role="researcher")
    client.force_login(researcher.user)
    files = [SimpleUploadedFile(f"c{i}.mp4", b"x") for i in range(101)]
    response = client.post(reverse("study-clip-upload", args=[researcher.study_id]), {"files": files})
    assert response.status_code == 400
    assert "100 files" in response.content.decode() and "<html" in response.content.decode()
    assert not Clip.objects.exists()


def test_login_and_admin_forms_refuse_nul_without_a_server_error(client, db):
    UserFactory(username="someone")
    login = client.post("/login/", {"username": "some\x00one", "password": "pw-for-tests-only"})
    assert login.status_code == 200 and "_auth_user_id" not in client.session
    admin = UserFactory(username="root")
    admin.is_staff = admin.is_superuser = True
    admin.save()
    client.force_login(admin)
    response = client.post(reverse("admin:labeling_study_add"), {"title": "A\x00B", "slug": "ab"})
    assert response.status_code == 200  # the form again, with the field error
    assert "Null characters are not allowed." in response.content.decode()
