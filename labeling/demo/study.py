"""The demo: synthetic clips (moving shapes whose tempo, colour and brightness differ, so ratings differ) and
the demo study with its log-ins and simulated ratings (`manage.py demo`).

Clips are H.264 (libx264, yuv420p, Main profile) in MP4 with the index at the front ("faststart"), which
Chromium plays and seeks. Frames are drawn with numpy; a 3-s 320x240 clip takes about 0.1 s.
"""

from __future__ import annotations

import colorsys
import math
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
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
            x0, x1 = max(0, int(cx - r)), min(width, int(cx + r) + 2)
            y0, y1 = max(0, int(cy - r)), min(height, int(cy + r) + 2)
            if x0 >= x1 or y0 >= y1:
                continue
            mask = (xx[y0:y1, x0:x1] - cx) ** 2 + (yy[y0:y1, x0:x1] - cy) ** 2 <= r * r
            frame[y0:y1, x0:x1][mask] = colours[k]
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
    """Write a small H.264 MP4 of moving shapes to `path` and return it. Equal arguments give an equal file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    width, height = _even(size[0]), _even(size[1])
    # mbtree=0: x264's macroblock-tree rate control is not bit-for-bit repeatable here, and equal arguments
    # must give an equal file (an equal sha256), so that re-running the demo finds its clips again.
    with av.open(str(path), mode="w", format="mp4", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream(
            "libx264",
            rate=int(fps),
            options={
                "preset": "veryfast",
                "crf": "23",
                "profile": "main",
                "threads": "1",
                "x264-params": "mbtree=0",
            },
        )
        stream.width = width
        stream.height = height
        stream.pix_fmt = "yuv420p"
        frames = render_frames(
            seconds=seconds,
            fps=fps,
            size=(width, height),
            tempo=tempo,
            hue=hue,
            brightness=brightness,
            seed=seed,
        )
        for i, frame_rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(frame_rgb, format="rgb24").reformat(format="yuv420p")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


# ---- the demo study ---------------------------------------------------------------------------------------

DEMO_SLUG = "demo"
DEMO_CROWD_KEY = "demo"  # the README's and `make run`'s crowd link: /crowd/demo/?key=demo&PROLIFIC_PID=...
DEMO_TITLE = "Demo: how does this person feel?"
RESEARCHER_LOGIN = ("researcher", "demo-researcher")
ANNOTATOR_LOGINS = [(f"annotator{i}", "demo-annotator") for i in (1, 2, 3)]
# The filmed "people" of the demo clips: two clips each, pseudonymous codes. Some (never all) consented to
# their videos being shared in dataset exports, so an export with media shows both cases.
DEMO_CLIPS_PER_PARTICIPANT = 2
DEMO_MEDIA_SHARING = {"D-01", "D-03", "D-04"}
SIMULATED_ANNOTATORS = 5
SIMULATED_PER_ANNOTATOR = 4  # 20 of the 36 ratings wanted (12 clips x K=3): work is left for the demo log-ins
DEMO_INSTRUCTIONS = """\
Each clip shows a short scene. Watch it to the end, then rate **how the person in it feels**:

- **Valence**: how pleasant or unpleasant the feeling is (1 = very unpleasant, 9 = very pleasant).
- **Arousal**: how calm or activated they are (1 = very calm, 9 = very activated).

Say how sure you are of each rating, tick what you can tell about the *context* (setting, who else is there,
what they are doing, what happened before), and choose *cannot judge* when the clip does not let you tell.
There are no right answers: we want your own impression. (The demo clips are abstract moving shapes.)
"""
DEMO_CONSENT = """\
This is a demonstration study. Your ratings are stored under a pseudonymous account and used only to show how
the platform works. You can stop at any time by closing the page.
"""


@dataclass
class DemoResult:
    study: object
    created: list[str] = field(default_factory=list)
    clips_added: int = 0
    simulated: object = None
    self_reports_added: int = 0


def _user(username: str, password_hash: str, *, superuser: bool = False):
    from django.contrib.auth import get_user_model

    User = get_user_model()
    user = User.objects.filter(username=username).first()
    if user is not None:
        return user, False
    return User.objects.create(
        username=username, password=password_hash, is_staff=superuser, is_superuser=superuser
    ), True


def _rendered(directory: Path, todo: list[tuple[str, int, dict]]):
    """Yield (name, path) as clips finish rendering on two threads (PyAV encodes outside the GIL)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [
            pool.submit(render_demo_clip, directory / name, seed=seed, **params)
            for name, seed, params in todo
        ]
        for (name, _, _), future in zip(todo, futures, strict=True):
            yield name, future.result()


PRODUCTION_REFUSAL = (
    "Refusing to run the demo under DJANGO_ENV=production: it creates a superuser with a published "
    "password and a crowd link with the key 'demo'. Nothing was created. Run the demo on a development "
    "install; in production create accounts with `manage.py createsuperuser`."
)


def demo_participant(clip_name: str) -> str:
    """The demo participant filmed in a demo clip: demo-01.mp4 and demo-02.mp4 show D-01, and so on."""
    number = int(clip_name.removeprefix("demo-").removesuffix(".mp4"))
    return f"D-{(number - 1) // DEMO_CLIPS_PER_PARTICIPANT + 1:02d}"


def demo_refused() -> bool:
    """The demo's published log-ins must never exist on a production install."""
    from django.conf import settings

    return bool(getattr(settings, "PRODUCTION", False))


def demo_setup(*, simulate: bool = True) -> DemoResult:
    """Create (or complete) the demo study. Idempotent: a second run changes nothing."""
    if demo_refused():
        raise RuntimeError(PRODUCTION_REFUSAL)
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from labeling.demo.self_reports import demo_self_reports
    from labeling.demo.simulate import simulate_annotations
    from labeling.models import Annotation, Participant, Role, Study
    from labeling.scheme import DEFAULT_SPEC
    from labeling.services import clip_create, membership_add, study_create

    hashes = {
        password: make_password(password)
        for password in {RESEARCHER_LOGIN[1], *dict(ANNOTATOR_LOGINS).values()}
    }
    researcher, created = _user(RESEARCHER_LOGIN[0], hashes[RESEARCHER_LOGIN[1]], superuser=True)
    result = DemoResult(study=None, created=[RESEARCHER_LOGIN[0]] if created else [])
    study = Study.objects.filter(slug=DEMO_SLUG).first()
    if study is None:
        study = study_create(
            title=DEMO_TITLE,
            slug=DEMO_SLUG,
            created_by=researcher,
            scheme=dict(DEFAULT_SPEC),
            instructions=DEMO_INSTRUCTIONS,
            consent_text=DEMO_CONSENT,
            overlap_k=3,
            completion_code="DEMO-COMPLETE",
            crowd_key=DEMO_CROWD_KEY,
        )
        result.created.append(f"study {DEMO_SLUG}")
    elif study.crowd_key != DEMO_CROWD_KEY:  # a demo study made before crowd keys existed
        Study.objects.filter(pk=study.pk).update(crowd_key=DEMO_CROWD_KEY)
        study.crowd_key = DEMO_CROWD_KEY
        result.created.append("crowd key")
    result.study = study
    membership_add(study=study, user=researcher, role=Role.RESEARCHER, consented_at=timezone.now())
    for username, password in ANNOTATOR_LOGINS:
        user, created = _user(username, hashes[password])
        if created:
            result.created.append(username)
        membership_add(study=study, user=user, role=Role.ANNOTATOR, consented_at=timezone.now())

    have = set(study.clips.values_list("original_name", flat=True))
    todo = [
        (f"demo-{i + 1:02d}.mp4", i, p)
        for i, p in enumerate(DEMO_CLIP_PARAMS)
        if f"demo-{i + 1:02d}.mp4" not in have
    ]
    with tempfile.TemporaryDirectory(prefix="demo-clips-") as tmp:
        for name, path in _rendered(Path(tmp), todo):
            with open(path, "rb") as f:
                clip_create(
                    study=study,
                    file=f,
                    original_name=name,
                    uploaded_by=researcher,
                    participant_code=demo_participant(name),
                )
            result.clips_added += 1
    Participant.objects.filter(study=study, code__in=DEMO_MEDIA_SHARING).update(consent_media_sharing=True)
    result.self_reports_added = demo_self_reports(study=study)

    simulated_before = Annotation.objects.filter(
        study=study, annotator__username__startswith=f"sim-{study.pk}-"
    ).exists()
    if simulate and not simulated_before:
        result.simulated = simulate_annotations(
            study=study, n_annotators=SIMULATED_ANNOTATORS, seed=0, max_per_annotator=SIMULATED_PER_ANNOTATOR
        )
    return result
