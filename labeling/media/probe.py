"""Untrusted video files: spool with a size cap and sha256, sniff the content, probe and decode with PyAV in a
child process under a time limit, and make a poster JPEG.

No Django imports, so the child process (`python -m labeling.media.probe`) starts fast and cannot touch the
database. A hostile file can at worst burn the child's CPU until the parent kills it.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

CHUNK = 1024 * 1024
POSTER_MAX_SIDE = 1280
CHILD_MEMORY_BYTES = 3 * 1024**3
CHILD_OUTPUT_BYTES = 64 * 1024**2  # the poster is the only file the child writes

# Container (FFmpeg demuxer name) -> video codecs Chromium, Firefox and Safari play in it.
MP4_FAMILY = "mov,mp4,m4a,3gp,3g2,mj2"
WEBM_FAMILY = "matroska,webm"
BROWSER_PLAYABLE: dict[str, set[str]] = {
    MP4_FAMILY: {"h264", "av1", "vp9"},
    WEBM_FAMILY: {"vp8", "vp9", "av1"},
}
# H.264 plays in browsers only as 8-bit 4:2:0.
H264_PIX_FMTS = {"yuv420p", "yuvj420p"}
STORAGE = {MP4_FAMILY: ("mp4", "video/mp4"), WEBM_FAMILY: ("webm", "video/webm")}
CONVERT_HINT = "convert it to MP4 with H.264 (e.g. ffmpeg -i IN -c:v libx264 -pix_fmt yuv420p -movflags +faststart OUT.mp4)"


class MediaRefused(Exception):
    """The file is refused; `message` says why, in words a researcher understands."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class Spooled:
    path: Path
    sha256: str
    size: int


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:.0f} MB" if n >= 1024 * 1024 else f"{n} bytes"


def _chunks(file):
    if hasattr(file, "chunks"):
        if hasattr(file, "seek"):
            try:
                file.seek(0)
            except (OSError, ValueError):
                pass
        yield from file.chunks(CHUNK)
        return
    while block := file.read(CHUNK):
        yield block


def spool(file, *, directory: Path, max_bytes: int) -> Spooled:
    """Copy an upload (Django UploadedFile or binary file object) to a new file in `directory`, hashing it.

    Stops reading as soon as the file passes `max_bytes`; then nothing is left on disk.
    """
    declared = getattr(file, "size", None)
    if isinstance(declared, int) and declared > max_bytes:
        raise MediaRefused(f"This file is {_mb(declared)}, larger than the limit of {_mb(max_bytes)}.")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"upload-{uuid.uuid4().hex}.part"
    digest = hashlib.sha256()
    size = 0
    try:
        with open(path, "xb") as out:
            for block in _chunks(file):
                size += len(block)
                if size > max_bytes:
                    raise MediaRefused(f"This file is larger than the limit of {_mb(max_bytes)}.")
                digest.update(block)
                out.write(block)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return Spooled(path=path, sha256=digest.hexdigest(), size=size)


_NOT_VIDEO = [
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (or an Office document)"),
    (b"ID3", "an MP3 audio file"),
    (b"fLaC", "a FLAC audio file"),
    (b"\x1f\x8b", "a gzip archive"),
]


def sniff(path: Path) -> str:
    """The container family the first bytes announce, or MediaRefused naming what the file looks like."""
    with open(path, "rb") as f:
        head = f.read(4096)
    if not head:
        raise MediaRefused("This file is empty.")
    if head[4:8] in {b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot"}:
        return "isobmff"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "matroska"
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return "avi"
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"\x00\x00\x01\xba"):
        return "mpeg-ps"
    if head[:1] == b"\x47" and head[188:189] == b"\x47" and head[376:377] == b"\x47":
        return "mpeg-ts"
    if head.startswith(b"FLV"):
        return "flv"
    if head.startswith(b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"):
        return "asf"
    for magic, what in _NOT_VIDEO:
        if head.startswith(magic):
            raise MediaRefused(f"This file is not a video: it is {what}.")
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        raise MediaRefused("This file is not a video: it is a WAV audio file.")
    try:
        head.decode("utf-8")
        looks = "it looks like a text file"
    except UnicodeDecodeError as exc:
        looks = (
            "it looks like a text file"
            if exc.start > len(head) - 4
            else "its content is not a known video format"
        )
    raise MediaRefused(f"This file is not a video: {looks}.")


def storage_for(container: str) -> tuple[str, str]:
    """(file extension, HTTP content type) for a probed container."""
    return STORAGE.get(container, ("bin", "application/octet-stream"))


def content_type_for(container: str) -> str:
    return storage_for(container)[1]


def check_playable(info: dict, playable: dict[str, set[str]] | None = None) -> None:
    playable = BROWSER_PLAYABLE if playable is None else playable
    container, codec = info["container"], info["video_codec"]
    if codec not in playable.get(container, set()):
        raise MediaRefused(
            f"This video is {codec or 'an unknown codec'} in a {container.split(',')[0].upper()} container, which web "
            f"browsers do not play; {CONVERT_HINT}."
        )
    if codec == "h264" and info.get("pix_fmt") not in H264_PIX_FMTS:
        raise MediaRefused(
            f"This H.264 video uses pixel format {info.get('pix_fmt')}, which web browsers do not play; {CONVERT_HINT}."
        )


def check_limits(info: dict, *, max_seconds: float, max_pixels: int, max_fps: float | None = None) -> None:
    if max_fps is not None and info.get("fps", 0) > max_fps:
        raise MediaRefused(
            f"This video has {info['fps']:g} frames per second; the limit is {max_fps:g} frames per second."
        )
    pixels = info["width"] * info["height"]
    if pixels > max_pixels:
        raise MediaRefused(
            f"This video is {info['width']}×{info['height']} ({pixels / 1e6:.1f} megapixels); "
            f"the limit is {max_pixels / 1e6:.1f} megapixels per frame."
        )
    if info["duration_s"] > max_seconds:
        raise MediaRefused(f"This video is {info['duration_s']:.1f} s long; the limit is {max_seconds:g} s.")


def probe(
    path: Path,
    *,
    poster_path: Path,
    timeout: float,
    max_seconds: float,
    max_pixels: int,
    max_fps: float = float("inf"),
) -> dict:
    """Probe and decode `path` in a child process killed after `timeout` seconds; write the poster JPEG.

    Returns {container, video_codec, pix_fmt, duration_s, fps, width, height, has_audio}, with width and height
    as displayed (a rotated phone video reports its upright size); raises MediaRefused.
    A file over the duration, pixel or frame-rate limits is reported without being decoded (check_limits
    refuses it).
    """
    root = str(Path(__file__).resolve().parents[2])
    code = f"import sys; sys.path.insert(0, {root!r}); from labeling.media.probe import _child_main; _child_main()"
    args = [
        sys.executable,
        "-P",
        "-c",
        code,
        str(path),
        str(poster_path),
        repr(float(max_seconds)),
        str(int(max_pixels)),
        repr(float(max_fps)),
    ]
    try:
        done = subprocess.run(
            args, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False
        )
    except subprocess.TimeoutExpired:
        raise MediaRefused(f"This video took longer than {timeout:g} s to check and was refused.") from None
    lines = done.stdout.decode("utf-8", "replace").strip().splitlines()
    try:
        result = json.loads(lines[-1])
    except (IndexError, ValueError):
        result = None
    if done.returncode != 0 or not isinstance(result, dict):
        raise MediaRefused("This video could not be decoded (the decoder stopped on it).")
    if not result.get("ok"):
        raise MediaRefused(result.get("message") or "This video could not be decoded.")
    return result["info"]


# ---- child process ---------------------------------------------------------------------------------------


def _short(exc: Exception) -> str:
    text = re.sub(r"^\[Errno -?\d+\]\s*", "", str(exc).split("'")[0].strip().rstrip(":"))
    return (text or type(exc).__name__)[:160]


def _decode_checks(path: str, poster_path: str, info: dict, ends: dict) -> None:
    """Decode the start, a poster frame near 10 % in, and the last second; refuse a file whose end is missing."""
    import av

    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        first = next((f for f in container.decode(stream)), None)
        if first is None:
            raise MediaRefused("This video has no frames that can be decoded.")
        start, end, frame_s = ends["start"], ends["end"], 1.0 / max(info["fps"], 1.0)

        def frames_from(t: float):
            if t > start + frame_s:
                container.seek(int(t / stream.time_base), stream=stream, backward=True)
            return container.decode(stream)

        poster_at = start + 0.1 * (end - start)
        poster = first
        for frame in frames_from(poster_at):
            poster = frame
            if frame.time is None or frame.time >= poster_at - frame_s / 2:
                break
        image = poster.to_image()
        rotation = int(getattr(poster, "rotation", 0) or 0) % 360  # display matrix, counter-clockwise
        if rotation:
            image = image.rotate(rotation, expand=True)  # as the browser shows it
            if rotation in (90, 270):
                info["width"], info["height"] = info["height"], info["width"]
        image.thumbnail((POSTER_MAX_SIDE, POSTER_MAX_SIDE))
        image.convert("RGB").save(poster_path, "JPEG", quality=85, optimize=True)

        last = None
        for frame in frames_from(max(start, end - 1.0)):
            if frame.time is not None:
                last = frame.time if last is None else max(last, frame.time)
        if last is None or last < ends["last_pts"] - frame_s * 1.01:
            seen = "no frames" if last is None else f"frames up to {last - start:.2f} s"
            raise MediaRefused(
                f"This video is incomplete or damaged: it lasts {end - start:.2f} s but its last second decodes to {seen}."
            )


def _probe_file(
    path: str, poster_path: str, max_seconds: float, max_pixels: int, max_fps: float = float("inf")
) -> dict:
    import av

    try:
        container = av.open(path)
    except av.error.FFmpegError as exc:
        raise MediaRefused(
            f"This file is not a readable video, or it is incomplete: {_short(exc)}."
        ) from None
    with container:
        if not container.streams.video:
            raise MediaRefused("This file has no video stream.")
        stream = container.streams.video[0]
        ctx = stream.codec_context
        tb = stream.time_base
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        start = float(stream.start_time * tb) if stream.start_time is not None else 0.0
        declared = float(stream.duration * tb) if stream.duration else None
        if declared is None and container.duration:
            declared = container.duration / av.time_base
        info = {
            "container": container.format.name,
            "video_codec": ctx.name or "",
            "pix_fmt": ctx.pix_fmt or "",
            "width": int(ctx.width or 0),
            "height": int(ctx.height or 0),
            "fps": float(rate) if rate else 0.0,
            "duration_s": declared or 0.0,
            "has_audio": bool(container.streams.audio),
        }
        if info["width"] <= 0 or info["height"] <= 0:
            raise MediaRefused("This video does not say how large its frames are.")
        too_big = info["width"] * info["height"] > max_pixels or info["duration_s"] > max_seconds
        if too_big or info["fps"] > max_fps:
            return info  # the parent refuses it by its limits; do not spend time decoding
        # Demux the whole video stream (no decoding): where the data really ends, and whether it is intact.
        data_end, last_pts, packets = start, None, 0
        for packet in container.demux(stream):
            if packet.pts is None or packet.size == 0:
                continue
            packets += 1
            t = float(packet.pts * tb)
            if packet.is_corrupt:
                where = f"{t - start:.2f} s" + (f" of {declared:.2f} s" if declared else "")
                raise MediaRefused(
                    f"This video is incomplete (truncated) or damaged: its data breaks off at {where}."
                )
            last_pts = t if last_pts is None else max(last_pts, t)
            data_end = max(data_end, float((packet.pts + (packet.duration or 0)) * tb))
            if data_end - start > max_seconds + 1:
                info["duration_s"] = data_end - start
                return info
    if not packets:
        raise MediaRefused("This video has no frames.")
    if not info["fps"]:
        info["fps"] = packets / max(data_end - start, 1e-3)
    frame_s = 1.0 / max(info["fps"], 1.0)
    if declared and data_end - start < declared - 2 * frame_s - 0.05:
        raise MediaRefused(
            f"This video is incomplete (truncated): it declares {declared:.2f} s but its data ends at {data_end - start:.2f} s."
        )
    info["duration_s"] = round(declared or (data_end - start), 3)
    _decode_checks(
        path, poster_path, info, {"start": start, "end": start + info["duration_s"], "last_pts": last_pts}
    )
    return info


def _child_main() -> None:
    import resource

    path, poster_path, max_seconds, max_pixels, max_fps = (
        sys.argv[1],
        sys.argv[2],
        float(sys.argv[3]),
        int(sys.argv[4]),
        float(sys.argv[5]),
    )
    for limit, value in (
        (resource.RLIMIT_AS, CHILD_MEMORY_BYTES),
        (resource.RLIMIT_FSIZE, CHILD_OUTPUT_BYTES),
    ):
        try:
            resource.setrlimit(limit, (value, value))
        except (ValueError, OSError):
            pass
    try:
        out = {"ok": True, "info": _probe_file(path, poster_path, max_seconds, max_pixels, max_fps)}
    except MediaRefused as exc:
        out = {"ok": False, "message": exc.message}
    except Exception as exc:  # anything the decoder throws is a refusal, not a crash of the web process
        out = {"ok": False, "message": f"This video could not be decoded ({_short(exc)})."}
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    _child_main()
