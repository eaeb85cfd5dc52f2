"""Synthetic demo clips: moving shapes whose tempo, colour and brightness differ, so ratings differ.

Written as H.264 (libx264, yuv420p, Main profile) in MP4 with the index at the front ("faststart"), which
Chromium plays and seeks. Frames are drawn with numpy; a 3-s 320x240 clip takes a few tens of milliseconds.
No Django imports: usable from tests, management commands and benchmarks alike.
"""

from __future__ import annotations

import colorsys
import math
from pathlib import Path

import av
import numpy as np

# The dozen clips of the demo study: (tempo, hue, brightness). Tempo drives motion (arousal); warm hues and
# brightness read as pleasant (valence). Spread so that simulated ratings differ visibly.
DEMO_CLIP_PARAMS: list[dict[str, float]] = [
    {"tempo": 0.3, "hue": 0.60, "brightness": 0.25},
    {"tempo": 0.5, "hue": 0.08, "brightness": 0.80},
    {"tempo": 2.5, "hue": 0.00, "brightness": 0.45},
    {"tempo": 1.0, "hue": 0.33, "brightness": 0.60},
    {"tempo": 3.0, "hue": 0.12, "brightness": 0.85},
    {"tempo": 0.4, "hue": 0.70, "brightness": 0.40},
    {"tempo": 1.8, "hue": 0.95, "brightness": 0.30},
    {"tempo": 0.8, "hue": 0.15, "brightness": 0.70},
    {"tempo": 2.2, "hue": 0.55, "brightness": 0.55},
    {"tempo": 1.2, "hue": 0.05, "brightness": 0.20},
    {"tempo": 0.6, "hue": 0.45, "brightness": 0.90},
    {"tempo": 2.8, "hue": 0.80, "brightness": 0.65},
]


def _rgb(hue: float, saturation: float, value: float) -> np.ndarray:
    r, g, b = colorsys.hsv_to_rgb(hue % 1.0, min(max(saturation, 0.0), 1.0), min(max(value, 0.0), 1.0))
    return np.array([r, g, b], dtype=np.float32) * 255.0


def _even(n: int) -> int:
    return max(2, int(n) // 2 * 2)


def render_frames(
    *, seconds: float, fps: int, size: tuple[int, int], tempo: float, hue: float, brightness: float, seed: int
):
    """Yield RGB uint8 frames (height, width, 3)."""
    width, height = _even(size[0]), _even(size[1])
    rng = np.random.default_rng(seed)
    n_frames = max(1, round(seconds * fps))
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    background = _rgb(hue, 0.35, brightness * 0.6)
    # A soft vertical gradient so the background is not flat (flat frames compress to nothing).
    gradient = (0.75 + 0.5 * (yy / max(height - 1, 1)))[..., None]
    base = np.clip(background[None, None, :] * gradient, 0, 255)
    n_shapes = 3 + int(rng.integers(0, 3))
    phases = rng.uniform(0, 2 * math.pi, size=(n_shapes, 2))
    speeds = rng.uniform(0.6, 1.4, size=(n_shapes, 2))
    radii = rng.uniform(0.07, 0.16, size=n_shapes) * min(width, height)
    colours = [_rgb(hue + rng.uniform(-0.08, 0.08), 0.85, 0.35 + 0.65 * brightness) for _ in range(n_shapes)]
    for i in range(n_frames):
        t = i / fps
        frame = base.copy()
        for k in range(n_shapes):
            angle = 2 * math.pi * tempo * t * speeds[k]
            cx = width * (0.5 + 0.38 * math.sin(angle[0] + phases[k, 0]))
            cy = height * (0.5 + 0.38 * math.sin(angle[1] + phases[k, 1]))
            # Faster tempo also "pulses" the shapes, adding motion energy.
            r = radii[k] * (1.0 + 0.25 * math.sin(2 * math.pi * tempo * t * 2 + phases[k, 0]))
            mask = (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
            frame[mask] = colours[k]
        yield frame.astype(np.uint8)


def render_demo_clip(
    path,
    *,
    seconds: float = 3.0,
    fps: int = 25,
    size: tuple[int, int] = (320, 240),
    tempo: float = 1.0,
    hue: float = 0.0,
    brightness: float = 0.5,
    seed: int = 0,
) -> Path:
    """Write a small H.264 MP4 of moving shapes to `path` and return it. Deterministic for equal arguments."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    width, height = _even(size[0]), _even(size[1])
    with av.open(str(path), mode="w", format="mp4", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream(
            "libx264",
            rate=int(fps),
            options={"preset": "veryfast", "crf": "23", "profile": "main", "threads": "1"},
        )
        stream.width = width
        stream.height = height
        stream.pix_fmt = "yuv420p"
        for frame_rgb in render_frames(
            seconds=seconds,
            fps=fps,
            size=(width, height),
            tempo=tempo,
            hue=hue,
            brightness=brightness,
            seed=seed,
        ):
            frame = av.VideoFrame.from_ndarray(frame_rgb, format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path
