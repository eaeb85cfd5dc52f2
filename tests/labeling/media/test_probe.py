"""What an upload must be (labeling/media/probe.py), through clip_create with real files made with PyAV:
containers and codecs browsers play, audio and rotation detected, non-videos, truncated and empty files,
size, length, resolution and frame-rate limits, the probe's time limit. Nothing refused leaves a file."""

import av
import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from labeling import services
from labeling.errors import ValidationFailed
from labeling.models import Clip
from tests.labeling.upload_helpers import assert_refused, create, files_under, write_video


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
