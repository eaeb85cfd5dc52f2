"""Clip upload validation (real files made with PyAV) and permission-checked ranged media serving."""

import hashlib
from pathlib import Path

import av
import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from labeling import services
from labeling.demo import render_demo_clip
from labeling.errors import ValidationFailed
from labeling.media.views import UNSATISFIABLE, parse_range
from labeling.models import Assignment, Clip, Participant
from tests.factories import MembershipFactory, StudyFactory, UserFactory, api_key_for


@pytest.fixture(scope="session")
def good_mp4(tmp_path_factory) -> Path:
    return render_demo_clip(
        tmp_path_factory.mktemp("src") / "good.mp4", seconds=3.0, tempo=1.5, hue=0.1, seed=1
    )


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def create(study, path: Path, name: str | None = None, **kwargs) -> Clip:
    with open(path, "rb") as f:
        return services.clip_create(study=study, file=f, original_name=name or path.name, **kwargs)


def assert_refused(study, root: Path, path: Path, *words: str, name: str = "bad.mp4") -> ValidationFailed:
    before = files_under(root)
    n_clips = Clip.objects.count()
    with pytest.raises(ValidationFailed) as info:
        create(study, path, name)
    message = info.value.message
    for word in words:
        assert word in message, message
    assert info.value.errors["file"] == message
    assert files_under(root) == before, "a refused upload left files behind"
    assert Clip.objects.count() == n_clips
    return info.value


def write_video(
    path: Path, *, codec: str, fmt: str, size=(64, 48), frames=10, pix_fmt="yuv420p", rotation=0, rate=10
) -> Path:
    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], pix_fmt
        if rotation:
            stream.set_display_rotation(rotation)
        for i in range(frames):
            image = np.full((size[1], size[0], 3), (i * 20) % 256, dtype=np.uint8)
            image[:8, :, 0] = 255  # a red band along the top edge
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode(None))
    return path


# ---- upload validation -----------------------------------------------------------------------------------


def test_good_clip_is_accepted_with_metadata_and_poster(study, media_root, good_mp4):
    user = UserFactory()
    clip = create(study, good_mp4, "folder/My clip.MP4", uploaded_by=user)
    clip.refresh_from_db()
    assert clip.original_name == "My clip.MP4"
    assert clip.sha256 == hashlib.sha256(good_mp4.read_bytes()).hexdigest()
    assert clip.size_bytes == good_mp4.stat().st_size
    assert clip.container == "mov,mp4,m4a,3gp,3g2,mj2" and clip.video_codec == "h264"
    assert clip.duration_s == pytest.approx(3.0, abs=0.05)
    assert clip.fps == pytest.approx(25.0)
    assert (clip.width, clip.height, clip.has_audio) == (320, 240, False)
    assert clip.target_k == study.overlap_k and clip.uploaded_by == user
    stored = Path(clip.file.path)
    assert stored.suffix == ".mp4" and stored.read_bytes() == good_mp4.read_bytes()
    assert good_mp4.name not in clip.file.name  # generated storage name
    with Image.open(clip.poster.path) as poster:
        assert poster.format == "JPEG" and poster.size == (320, 240)
    assert files_under(media_root) == sorted([stored, Path(clip.poster.path)])  # nothing left in tmp/


def test_django_upload_object_and_participant(study, media_root, good_mp4):
    participant = services.participant_get_or_create(study=study, code=" P-007 ")
    assert services.participant_get_or_create(study=study, code="P-007") == participant
    upload = SimpleUploadedFile("up.mp4", good_mp4.read_bytes(), content_type="video/mp4")
    clip = services.clip_create(study=study, file=upload, original_name=upload.name, participant=participant)
    assert clip.participant == participant and clip.duration_s == pytest.approx(3.0, abs=0.05)


def test_participant_of_another_study_is_refused(study, media_root, good_mp4):
    stranger = Participant.objects.create(study=StudyFactory(), code="X")
    with pytest.raises(ValidationFailed, match="another study"):
        create(study, good_mp4, participant=stranger)
    assert not Clip.objects.exists() and files_under(media_root) == []


def test_webm_vp8_is_accepted(study, media_root, tmp_path):
    path = write_video(tmp_path / "a.webm", codec="libvpx", fmt="webm")
    clip = create(study, path)
    assert clip.container == "matroska,webm" and clip.video_codec == "vp8"
    assert clip.file.name.endswith(".webm") and (clip.width, clip.height) == (64, 48)
    assert clip.duration_s == pytest.approx(1.0, abs=0.11)


def test_audio_is_detected(study, media_root, tmp_path):
    path = tmp_path / "talk.mp4"
    with av.open(str(path), "w", format="mp4") as container:
        video = container.add_stream("libx264", rate=10)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        audio = container.add_stream("aac", rate=16000, layout="mono")
        for i in range(10):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 20, dtype=np.uint8), format="rgb24")
            frame.pts = i
            container.mux(video.encode(frame))
        for i in range(16):
            samples = np.sin(np.arange(1024, dtype=np.float32) / 8)[None, :] * 0.1
            frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 16000, i * 1024
            container.mux(audio.encode(frame))
        container.mux(video.encode(None))
        container.mux(audio.encode(None))
    clip = create(study, path)
    assert clip.has_audio and clip.duration_s == pytest.approx(1.0, abs=0.11)


def test_rotated_phone_video_reports_upright_size_and_poster(study, media_root, tmp_path):
    path = write_video(tmp_path / "phone.mp4", codec="libx264", fmt="mp4", rotation=90)
    clip = create(study, path)
    assert (clip.width, clip.height) == (48, 64)  # as Chromium shows it (videoWidth x videoHeight)
    with Image.open(clip.poster.path) as poster:
        poster = poster.convert("RGB")
        assert poster.size == (48, 64)
        assert (
            poster.getpixel((2, 32))[0] > 200 and poster.getpixel((45, 32))[0] < 60
        )  # the band is now on the left


def test_text_file_renamed_mp4_is_refused(study, media_root, tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("This is not a video, just some notes.\n" * 40)
    assert_refused(study, media_root, path, "not a video", "text file")


def test_image_renamed_mp4_is_refused(study, media_root, tmp_path):
    path = tmp_path / "photo.mp4"
    Image.new("RGB", (32, 32), "red").save(path, "PNG")
    assert_refused(study, media_root, path, "not a video", "PNG image")


def test_empty_file_is_refused(study, media_root, tmp_path):
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    assert_refused(study, media_root, path, "empty")


@pytest.mark.parametrize("fraction", [0.5, 0.97])
def test_truncated_mp4_is_refused(study, media_root, tmp_path, good_mp4, fraction):
    data = good_mp4.read_bytes()
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: int(len(data) * fraction)])
    assert_refused(study, media_root, path, "incomplete")


def test_truncated_mp4_with_index_at_the_end_is_refused(study, media_root, tmp_path):
    full = write_video(
        tmp_path / "full.mp4", codec="libx264", fmt="mp4", frames=30
    )  # no faststart: moov last
    path = tmp_path / "cut.mp4"
    path.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    assert_refused(study, media_root, path, "incomplete")


def test_oversized_file_is_refused(study, media_root, good_mp4, settings):
    settings.CLIP_MAX_BYTES = good_mp4.stat().st_size - 1
    assert_refused(study, media_root, good_mp4, "larger than the limit")
    upload = SimpleUploadedFile("big.mp4", good_mp4.read_bytes(), content_type="video/mp4")
    with pytest.raises(ValidationFailed, match="larger than the limit"):
        services.clip_create(study=study, file=upload, original_name="big.mp4")
    assert files_under(media_root) == [] and not Clip.objects.exists()


def test_too_long_is_refused(study, media_root, good_mp4, settings):
    settings.CLIP_MAX_SECONDS = 2.5
    assert_refused(study, media_root, good_mp4, "3.0 s long", "limit is 2.5 s")


def test_resolution_too_high_is_refused(study, media_root, good_mp4, settings):
    settings.CLIP_MAX_PIXELS = 320 * 240 - 1
    assert_refused(study, media_root, good_mp4, "320×240", "megapixels")


def test_high_frame_rate_clip_is_refused(study, media_root, tmp_path, settings):
    settings.CLIP_MAX_FPS = 240
    path = write_video(tmp_path / "fast.mp4", codec="libx264", fmt="mp4", frames=20, rate=1000)
    assert_refused(study, media_root, path, "1000 frames per second", "limit is 240")


def test_frame_rate_at_the_limit_is_accepted(study, media_root, tmp_path, settings):
    settings.CLIP_MAX_FPS = 240
    clip = create(study, write_video(tmp_path / "ok.mp4", codec="libx264", fmt="mp4", frames=20, rate=240))
    assert clip.fps == 240


def test_codec_browsers_cannot_play_is_refused(study, media_root, tmp_path):
    path = write_video(tmp_path / "old.avi", codec="mpeg4", fmt="avi")
    assert_refused(study, media_root, path, "do not play", "H.264")


def test_h264_444_is_refused(study, media_root, tmp_path):
    path = write_video(tmp_path / "hi444.mp4", codec="libx264", fmt="mp4", pix_fmt="yuv444p")
    assert_refused(study, media_root, path, "yuv444p")


def test_probe_time_limit(study, media_root, good_mp4, settings):
    settings.CLIP_PROBE_TIMEOUT_SECONDS = 0.001
    assert_refused(study, media_root, good_mp4, "took longer than")


def test_duplicate_is_refused_naming_the_first(study, media_root, good_mp4):
    first = create(study, good_mp4, "first.mp4")
    error = assert_refused(study, media_root, good_mp4, f"duplicate of clip {first.pk}", "first.mp4")
    assert error.duplicate_of == first
    assert Clip.objects.count() == 1
    create(StudyFactory(), good_mp4)  # the same file is welcome in another study


# ---- ranged serving --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header,expected",
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
    "header,start,end",
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
    "header,status",
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
