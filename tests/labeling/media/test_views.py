"""Permission-checked, ranged serving of clips and posters (labeling/media/views.py), and Chromium playing
and seeking a served clip."""

from pathlib import Path

import pytest
from django.urls import reverse

from labeling import services
from labeling.media.views import UNSATISFIABLE, parse_range
from labeling.models import Assignment
from tests.factories import MembershipFactory, StudyFactory, UserFactory, api_key_for
from tests.labeling.upload_helpers import create


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-99", (0, 99)),
        ("bytes=100-", (100, 999)),
        ("bytes=-100", (900, 999)),
        ("bytes=-5000", (0, 999)),
        ("bytes=990-5000", (990, 999)),
        ("bytes=1000-", UNSATISFIABLE),
        ("bytes=-0", UNSATISFIABLE),
        ("bytes=5-2", None),
        ("bytes=0-1,5-9", None),
        ("items=0-5", None),
        ("bytes=x-y", None),
    ],
)
def test_parse_range(header, expected):
    assert parse_range(header, 1000) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=-100", (900, 999)),
        ("bytes=5-2", UNSATISFIABLE),
        ("bytes=0-1,5-9", UNSATISFIABLE),
        ("items=0-5", UNSATISFIABLE),
        ("bytes=x-y", UNSATISFIABLE),
        ("bytes=-", UNSATISFIABLE),
    ],
)
def test_parse_range_strict_refuses_what_it_would_ignore(header, expected):
    """The export downloads' reading: a Range that is not one satisfiable byte range is a 416."""
    assert parse_range(header, 1000, strict=True) == expected


@pytest.fixture
def served(study, media_root, good_mp4, researcher, client):
    clip = create(study, good_mp4)
    client.force_login(researcher)
    return clip, good_mp4.read_bytes(), client


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_full_get(served):
    clip, data, client = served
    response = client.get(reverse("clip-media", args=[clip.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "video/mp4" and response["Accept-Ranges"] == "bytes"
    assert response["Content-Length"] == str(len(data)) and body(response) == data
    assert response["Cache-Control"].startswith("private") and response["ETag"] == f'"{clip.sha256}"'


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=-100", None, None),
        ("bytes=1000-", 1000, None),
        ("bytes=10-99999999", 10, None),
    ],
)
def test_partial_get(served, header, start, end):
    clip, data, client = served
    size = len(data)
    if start is None:
        start = size - 100
    end = size - 1 if end is None else end
    response = client.get(reverse("clip-media", args=[clip.pk]), HTTP_RANGE=header)
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes {start}-{end}/{size}"
    assert response["Content-Length"] == str(end - start + 1)
    assert body(response) == data[start : end + 1]


@pytest.mark.parametrize(
    ("header", "status"),
    [
        ("bytes=" + "9" * 5000 + "-", 416),  # a start past any file
        ("bytes=0-" + "9" * 5000, 206),  # an end past the file: up to its last byte
        ("bytes=-" + "9" * 5000, 206),  # a suffix longer than the file: all of it
        ("bytes=" + "0" * 5000 + "5-9", 206),  # leading zeros are still a small number
    ],
)
def test_range_header_with_thousands_of_digits_is_not_500(served, header, status):
    clip, data, client = served
    response = client.get(reverse("clip-media", args=[clip.pk]), HTTP_RANGE=header)
    assert response.status_code == status
    if status == 206:
        assert body(response) == (data[5:10] if header.endswith("5-9") else data)


def test_unsatisfiable_range(served):
    clip, data, client = served
    response = client.get(reverse("clip-media", args=[clip.pk]), HTTP_RANGE=f"bytes={len(data)}-")
    assert response.status_code == 416 and response["Content-Range"] == f"bytes */{len(data)}"


def test_head_if_range_and_if_none_match(served):
    clip, data, client = served
    url = reverse("clip-media", args=[clip.pk])
    head = client.head(url, HTTP_RANGE="bytes=0-9")
    assert head.status_code == 206 and head["Content-Length"] == "10" and body(head) == b""
    stale = client.get(url, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE='"something-else"')
    assert stale.status_code == 200 and body(stale) == data
    fresh = client.get(url, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE=f'"{clip.sha256}"')
    assert fresh.status_code == 206 and body(fresh) == data[:10]
    assert client.get(url, HTTP_IF_NONE_MATCH=f'"{clip.sha256}"').status_code == 304
    assert client.post(url).status_code == 405


def test_poster(served):
    clip, _, client = served
    response = client.get(reverse("clip-poster", args=[clip.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert body(response) == Path(clip.poster.path).read_bytes()


def test_missing_file_is_404_not_500(served):
    clip, _, client = served
    Path(clip.file.path).unlink()
    assert client.get(reverse("clip-media", args=[clip.pk])).status_code == 404


def test_media_permissions(study, media_root, good_mp4, client):
    clip = create(study, good_mp4)
    urls = [reverse("clip-media", args=[clip.pk]), reverse("clip-poster", args=[clip.pk])]

    def statuses(user=None, **headers):
        client.logout()
        if user is not None:
            client.force_login(user)
        return [client.get(url, **headers).status_code for url in urls]

    assert statuses() == [404, 404]  # anonymous
    assert statuses(UserFactory()) == [404, 404]  # not a member
    assert statuses(MembershipFactory(study=StudyFactory(), role="researcher").user) == [
        404,
        404,
    ]  # other study
    member = MembershipFactory(study=study)
    assert statuses(member.user) == [404, 404]  # annotator without a lease on this clip
    assert (
        reverse("clip-media", args=[999999])
        and client.get(reverse("clip-media", args=[999999])).status_code == 404
    )
    lease = services.assignment_claim_next(membership=member)
    assert lease.clip_id == clip.pk
    assert statuses(member.user) == [200, 200]
    Assignment.objects.filter(pk=lease.pk).update(status=Assignment.Status.EXPIRED)
    assert statuses(member.user) == [404, 404]  # a lapsed lease, never rated: no longer theirs to watch
    Assignment.objects.filter(pk=lease.pk).update(status=Assignment.Status.ACTIVE)
    assert statuses(HTTP_AUTHORIZATION=f"Token {api_key_for(member.user)}") == [200, 200]
    assert statuses(HTTP_AUTHORIZATION="Token not-a-token") == [404, 404]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_chromium_plays_and_seeks(live_server, settings, tmp_path, good_mp4, client):
    """Debian's Chromium loads the clip through the ranged view and seeks into it."""
    from playwright.sync_api import sync_playwright

    settings.MEDIA_ROOT = tmp_path / "media"
    study = StudyFactory()
    clip = create(study, good_mp4)
    researcher = MembershipFactory(study=study, role="researcher").user
    client.force_login(researcher)
    cookie = {"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}
    statuses = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        try:
            context = browser.new_context()
            context.add_cookies([cookie])
            page = context.new_page()
            page.on("response", lambda r: statuses.append(r.status) if "/media/clips/" in r.url else None)
            page.goto(live_server.url + reverse("clip-poster", args=[clip.pk]))
            result = page.evaluate(
                """(src) => new Promise((resolve) => {
                    const v = document.createElement('video');
                    v.muted = true; v.preload = 'auto';
                    v.onerror = () => resolve({error: v.error && v.error.code});
                    v.onloadedmetadata = () => { v.currentTime = 2.0; };
                    v.onseeked = () => { v.play(); };
                    v.onended = () => resolve({time: v.currentTime, duration: v.duration, width: v.videoWidth});
                    setTimeout(() => resolve({timeout: v.readyState}), 15000);
                    v.src = src; document.body.appendChild(v);
                })""",
                reverse("clip-media", args=[clip.pk]),
            )
        finally:
            browser.close()
    assert result.get("duration") == pytest.approx(3.0, abs=0.05), result
    assert result["width"] == 320 and result["time"] == pytest.approx(3.0, abs=0.05)
    assert 206 in statuses, statuses
