"""Set-up for upload tests: real video files written with PyAV, clips made from them through clip_create, and
the check that a refused upload left nothing behind."""

from pathlib import Path

import av
import numpy as np
import pytest

from labeling import services
from labeling.errors import ValidationFailed
from labeling.models import Clip


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
