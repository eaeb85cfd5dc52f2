"""Downloads of an export's files (exports/api.py, exports/downloads.py): one file with Range (206/416), ETag =
sha256 (304), attachment names and content types; the folder as one streamed zip whose files match the
manifest; only files the manifest lists; refusals for exports that did not finish (404) or hold withdrawn
data (410); never through a public URL."""

import hashlib
import io
import json
import os
import shutil
import zipfile

import pyarrow.parquet as pq
import pytest
from django.utils import timezone

from exports import services
from exports.checks import exports_root_is_private
from exports.downloads import DamagedExport
from exports.models import Export
from exports.verify import verify_folder
from tests.exports.helpers import FILES, api, finish_by_hand

pytestmark = pytest.mark.django_db

TRAIN = "data/ratings/train.parquet"


def file_url(export, path=TRAIN) -> str:
    return f"/api/exports/{export.pk}/files/{path}"


def content(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.fixture
def client(world):
    return api(world["researcher"])


def test_a_whole_file_with_its_etag_type_length_and_name(done_export, client):
    resp = client.get(file_url(done_export))
    data = FILES[TRAIN]
    assert resp.status_code == 200
    assert content(resp) == data and resp["Content-Length"] == str(len(data))
    assert resp["ETag"] == f'"{hashlib.sha256(data).hexdigest()}"'
    assert resp["Content-Type"] == "application/vnd.apache.parquet"
    assert resp["Accept-Ranges"] == "bytes" and resp["Cache-Control"].startswith("private")
    assert resp["Content-Disposition"] == 'attachment; filename="faces-at-home-v1-data-ratings-train.parquet"'


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("README.md", "text/markdown; charset=utf-8"),
        ("croissant.json", "application/ld+json"),
        ("manifest.json", "application/json"),
    ],
)
def test_content_types(done_export, client, path, content_type):
    resp = client.get(file_url(done_export, path))
    assert resp.status_code == 200 and resp["Content-Type"] == content_type


def test_the_manifest_is_served_with_its_own_sha256_as_etag(done_export, client, exports_root):
    resp = client.get(file_url(done_export, "manifest.json"))
    on_disk = (exports_root / done_export.folder / "manifest.json").read_bytes()
    assert content(resp) == on_disk
    assert resp["ETag"] == f'"{hashlib.sha256(on_disk).hexdigest()}"'
    listed = {f["path"]: f["sha256"] for f in json.loads(on_disk)["files"]}
    assert listed[TRAIN] == hashlib.sha256(FILES[TRAIN]).hexdigest()


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=-100", 10140, 10239),
        ("bytes=10000-", 10000, 10239),
        ("bytes=10200-99999", 10200, 10239),
    ],
)
def test_one_byte_range_is_206(done_export, client, header, start, end):
    resp = client.get(file_url(done_export), HTTP_RANGE=header)
    assert resp.status_code == 206
    assert content(resp) == FILES[TRAIN][start : end + 1]
    assert resp["Content-Range"] == f"bytes {start}-{end}/10240"
    assert resp["Content-Length"] == str(end - start + 1)


@pytest.mark.parametrize(
    "header",
    [
        "bytes=0-1,5-9",
        "bytes=10240-",
        "bytes=-0",
        "bytes=5-2",
        "bytes=x-y",
        "items=0-5",
        "bytes=",
        "bytes=--1",
    ],
)
def test_several_ranges_and_bad_ones_are_416(done_export, client, header):
    resp = client.get(file_url(done_export), HTTP_RANGE=header)
    assert resp.status_code == 416, header
    assert resp["Content-Range"] == "bytes */10240"


def test_if_none_match_is_304_and_a_stale_if_range_gets_the_whole_file(done_export, client):
    etag = client.get(file_url(done_export))["ETag"]
    not_modified = client.get(file_url(done_export), HTTP_IF_NONE_MATCH=etag)
    assert not_modified.status_code == 304 and not_modified.content == b"" and not_modified["ETag"] == etag
    changed = client.get(file_url(done_export), HTTP_IF_NONE_MATCH='"0000"')
    assert changed.status_code == 200
    resumed = client.get(file_url(done_export), HTTP_RANGE="bytes=100-", HTTP_IF_RANGE=etag)
    assert resumed.status_code == 206
    stale = client.get(file_url(done_export), HTTP_RANGE="bytes=100-", HTTP_IF_RANGE='"0000"')
    assert stale.status_code == 200 and content(stale) == FILES[TRAIN]


def test_head_gives_the_headers_without_the_body(done_export, client):
    resp = client.head(file_url(done_export))
    assert resp.status_code == 200 and resp["Content-Length"] == "10240" and resp.content == b""


def test_a_download_ignores_what_the_client_accepts(done_export, client):
    resp = client.get(file_url(done_export), HTTP_ACCEPT="text/html")
    assert resp.status_code == 200
    zipped = client.get(f"/api/exports/{done_export.pk}/download.zip", HTTP_ACCEPT="application/zip")
    assert zipped.status_code == 200
    refused = client.get(file_url(done_export, "nope.parquet"), HTTP_ACCEPT="application/zip")
    assert refused.status_code == 404 and refused.json()["detail"] == "No such file in this export."


@pytest.mark.parametrize(
    "path",
    [
        "data/ratings",
        "data/ratings/",
        "data",
        "unlisted.txt",
        "data/ratings/train.parquet/",
        "../../../../etc/passwd",
        "data/../README.md",
        "data/ratings/../../README.md",
        "%2e%2e/%2e%2e/etc/passwd",
        "/etc/passwd",
    ],
)
def test_only_files_the_manifest_lists_are_served(done_export, client, exports_root, path):
    (exports_root / done_export.folder / "unlisted.txt").write_text("not in the manifest")
    resp = client.get(f"/api/exports/{done_export.pk}/files/{path}")
    assert resp.status_code == 404, path


def test_a_nul_in_the_path_is_refused_before_any_file_is_looked_for(done_export, client):
    assert client.get(file_url(done_export, "README.md%00")).status_code == 400


def test_a_listed_path_that_leads_out_of_the_folder_is_404(world, queued, client, exports_root, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("outside the export")
    export = finish_by_hand(services.export_start(study=world["study"], parameters={}))
    link = exports_root / export.folder / "data" / "link.parquet"
    os.symlink(secret, link)
    Export.objects.filter(pk=export.pk).update(
        files=[*export.files, {"path": "data/link.parquet", "bytes": 1}]
    )
    assert client.get(file_url(export, "data/link.parquet")).status_code == 404


@pytest.mark.parametrize(
    ("state", "error", "words"),
    [
        ("pending", "", "did not finish: it is waiting for a worker to start it"),
        ("running", "", "did not finish: it is still being built (40%)"),
        ("failed", "the database went away", "did not finish: the build failed: the database went away"),
    ],
)
def test_downloads_of_an_export_that_did_not_finish_are_404_saying_so(
    world, queued, client, state, error, words
):
    export = services.export_start(study=world["study"], parameters={})
    Export.objects.filter(pk=export.pk).update(status=state, progress=0.4, error=error)
    for url in (
        file_url(export, "manifest.json"),
        file_url(export),
        f"/api/exports/{export.pk}/download.zip",
    ):
        resp = client.get(url)
        assert resp.status_code == 404, url
        assert resp.json()["detail"] == f"Export v1 {words}.", url


def test_downloads_of_an_export_with_withdrawn_data_are_410_with_the_note(done_export, client):
    when = timezone.now()
    note = "Holds the labels of 1 participant withdrawn after it was built."
    Export.objects.filter(pk=done_export.pk).update(withdrawn_data_at=when, withdrawn_note=note)
    for url in (
        file_url(done_export, "manifest.json"),
        file_url(done_export),
        f"/api/exports/{done_export.pk}/download.zip",
    ):
        resp = client.get(url)
        assert resp.status_code == 410, url
        body = resp.json()
        assert body["detail"].startswith(f"Export v1 holds data withdrawn on {when:%Y-%m-%d}")
        assert "Build a new one" in body["detail"]
        assert body["withdrawn_note"] == note and body["withdrawn_at"] == when.isoformat()
    assert client.get(f"/api/exports/{done_export.pk}/").status_code == 200  # still visible, and deletable
    assert client.delete(f"/api/exports/{done_export.pk}/").status_code == 204


def test_a_missing_folder_or_file_is_404_not_500(done_export, client, exports_root):
    (exports_root / done_export.folder / TRAIN).unlink()
    assert client.get(file_url(done_export)).status_code == 404
    zipped = client.get(f"/api/exports/{done_export.pk}/download.zip")
    assert zipped.status_code == 404 and f"damaged on the server ({TRAIN} missing" in zipped.json()["detail"]
    shutil.rmtree(exports_root / done_export.folder)
    resp = client.get(file_url(done_export, "README.md"))
    assert resp.status_code == 404 and "missing on the server" in resp.json()["detail"]


def test_a_file_of_another_size_than_its_manifest_says_is_not_served(done_export, client, exports_root):
    (exports_root / done_export.folder / TRAIN).write_bytes(b"PAR1 truncated")
    resp = client.get(file_url(done_export))
    assert resp.status_code == 404 and "damaged on the server" in resp.json()["detail"]
    assert client.get(f"/api/exports/{done_export.pk}/download.zip").status_code == 404


def test_a_damaged_file_of_the_same_size_breaks_the_zip_rather_than_passing_in_it(
    done_export, client, exports_root
):
    path = exports_root / done_export.folder / TRAIN
    data = bytearray(path.read_bytes())
    data[7] ^= 0x01
    path.write_bytes(bytes(data))
    resp = client.get(f"/api/exports/{done_export.pk}/download.zip")
    assert resp.status_code == 200  # the size matches: the damage shows only as the file streams
    with pytest.raises(DamagedExport, match=TRAIN):
        b"".join(resp.streaming_content)


def test_the_zip_holds_every_file_under_one_top_folder_matching_the_manifest(
    done_export, client, exports_root
):
    resp = client.get(f"/api/exports/{done_export.pk}/download.zip")
    assert resp.status_code == 200 and resp.streaming
    assert resp["Content-Type"] == "application/zip"
    assert resp["Content-Disposition"] == 'attachment; filename="faces-at-home-v1.zip"'
    assert not resp.has_header("Content-Length")
    archive = zipfile.ZipFile(io.BytesIO(content(resp)))
    assert archive.testzip() is None
    names = archive.namelist()
    assert all(n.startswith("faces-at-home-v1/") for n in names)
    manifest = json.loads(archive.read("faces-at-home-v1/manifest.json"))
    assert sorted(names) == sorted(
        ["faces-at-home-v1/manifest.json"] + [f"faces-at-home-v1/{f['path']}" for f in manifest["files"]]
    )
    for entry in manifest["files"]:
        data = archive.read(f"faces-at-home-v1/{entry['path']}")
        assert hashlib.sha256(data).hexdigest() == entry["sha256"] and len(data) == entry["bytes"]
    assert {i.compress_type for i in archive.infolist()} == {zipfile.ZIP_STORED}
    # the same export always zips to the same bytes
    assert content(client.get(f"/api/exports/{done_export.pk}/download.zip")) == content(
        client.get(f"/api/exports/{done_export.pk}/download.zip")
    )


def test_the_zip_is_streamed_in_bounded_chunks(world, queued, client):
    """A 12 MB file leaves in chunks of about 1 MB: the zip is never held whole in memory."""
    big = os.urandom(12 * 1024 * 1024)
    export = finish_by_hand(
        services.export_start(study=world["study"], parameters={}), {"data/big.parquet": big}
    )
    resp = client.get(f"/api/exports/{export.pk}/download.zip")
    sizes = []
    parts = []
    for chunk in resp.streaming_content:
        sizes.append(len(chunk))
        parts.append(chunk)
    assert len(sizes) >= 12 and max(sizes) <= 1024 * 1024 + 4096 and min(sizes) > 0
    archive = zipfile.ZipFile(io.BytesIO(b"".join(parts)))
    assert archive.read(f"{world['study'].slug}-v1/data/big.parquet") == big


def test_head_of_the_zip_sends_no_body(done_export, client):
    resp = client.head(f"/api/exports/{done_export.pk}/download.zip")
    assert resp.status_code == 200 and resp.content == b"" and resp["Content-Type"] == "application/zip"


def test_exports_are_never_served_by_a_public_url(done_export, client, exports_root):
    """Neither /media/ nor /static/ serves a file of an export."""
    rel = f"{done_export.folder}/{TRAIN}"
    for url in (f"/static/{rel}", f"/media/{rel}", f"/static/exports/{rel}", f"/media/exports/{rel}"):
        assert client.get(url).status_code == 404, url


def test_the_default_exports_root_is_private_and_a_public_one_fails_the_system_check(settings, tmp_path):
    """EXPORTS_ROOT must lie outside MEDIA_ROOT, STATIC_ROOT and the static folders (exports.E001)."""
    import annotator.settings as defaults

    settings.EXPORTS_ROOT, settings.MEDIA_ROOT = defaults.EXPORTS_ROOT, defaults.MEDIA_ROOT
    settings.STATIC_ROOT, settings.STATICFILES_DIRS = defaults.STATIC_ROOT, defaults.STATICFILES_DIRS
    assert exports_root_is_private() == []
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.EXPORTS_ROOT = tmp_path / "media" / "exports"
    assert [e.id for e in exports_root_is_private()] == ["exports.E001"]
    settings.EXPORTS_ROOT = defaults.STATICFILES_DIRS[0] / "exports"
    assert "STATICFILES_DIRS[0]" in exports_root_is_private()[0].msg
    settings.EXPORTS_ROOT = tmp_path  # containing a public folder is as bad
    assert exports_root_is_private()[0].id == "exports.E001"


def test_a_real_export_zips_to_a_folder_that_verifies(built_export, client, tmp_path):
    """The zip of a real build unpacks to a folder that matches its manifest (exports.verify), and a Parquet
    file downloaded alone has the rows its manifest says."""
    resp = client.get(f"/api/exports/{built_export.pk}/download.zip")
    archive = zipfile.ZipFile(io.BytesIO(content(resp)))
    top = f"faces-at-home-v{built_export.version}"
    manifest = json.loads(archive.read(f"{top}/manifest.json"))
    assert manifest["export"]["id"] == built_export.pk
    listed = {f"{top}/{f['path']}": f for f in manifest["files"]}
    assert set(archive.namelist()) == {*listed, f"{top}/manifest.json"}
    for name, entry in listed.items():
        assert hashlib.sha256(archive.read(name)).hexdigest() == entry["sha256"], name
    archive.extractall(tmp_path / "unzipped")
    assert verify_folder(tmp_path / "unzipped" / top) == []

    ratings = next(f for f in manifest["files"] if f.get("table") == "ratings" and f.get("split") == "train")
    one = client.get(f"/api/exports/{built_export.pk}/files/{ratings['path']}")
    assert one["ETag"] == f'"{ratings["sha256"]}"'
    assert pq.read_table(io.BytesIO(content(one))).num_rows == ratings["rows"]
    csv = next(f for f in manifest["files"] if f.get("format") == "csv")
    assert (
        client.get(f"/api/exports/{built_export.pk}/files/{csv['path']}")["Content-Type"]
        == "text/csv; charset=utf-8"
    )
