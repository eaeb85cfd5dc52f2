"""Simulated annotators: stimulus-driven ratings with individual bias, gain and noise, through the real queue.

Each clip's "true" valence and arousal come from what it shows: brightness and warm colour read as pleasant,
apparent speed of motion as activated (measured from the decoded frames; a clip without a readable file
gets a value derived from its hash). Each simulated annotator adds their own bias, gain and noise, says
"cannot judge" now and then (more often for dark clips), is more or less sure of themselves, and picks
context tags that mostly agree with the clip's own. Claims and submissions go through
assignment_claim_next and annotation_submit, so the simulation obeys K, leases and every constraint.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from dataclasses import dataclass, field

import numpy as np
from django.contrib.auth import get_user_model
from django.utils import timezone

from labeling.models import Clip, Membership, Role, Study
from labeling.services import annotation_submit, assignment_claim_next, membership_add

MAX_FRAMES = 150
CANNOT_JUDGE_REASONS = [
    "too dark to see",
    "nothing to judge in this clip",
    "the video stuttered",
    "too fast to follow",
]
NOTES = ["hard to tell", "lots of movement", "dim light", "bright colours", "calm scene", "looks tense"]


@dataclass
class Stimulus:
    valence: float  # [-1, 1]
    arousal: float  # [-1, 1]
    brightness: float  # [0, 1]
    key: int  # stable per clip: picks the clip's "true" context tags


@dataclass
class SimulatedAnnotator:
    membership: Membership
    bias: np.ndarray  # (valence, arousal) offsets on the canonical scale
    gain: float
    noise: float
    p_cannot_judge: float
    confidence_style: float
    tag_agreement: float
    rng: np.random.Generator
    done: int = 0


@dataclass
class SimulationResult:
    annotators: list[str] = field(default_factory=list)
    annotations: int = 0
    cannot_judge: int = 0


def _hash_stimulus(clip: Clip) -> Stimulus:
    digest = hashlib.sha256(f"{clip.sha256}:{clip.pk}".encode()).digest()
    v, a, b = (int.from_bytes(digest[i : i + 4], "big") / 2**32 for i in (0, 4, 8))
    return Stimulus(2 * v - 1, 2 * a - 1, b, int.from_bytes(digest[12:16], "big"))


def clip_stimulus(clip: Clip) -> Stimulus:
    """The clip's stimulus-driven valence/arousal, from its first frames (at most MAX_FRAMES, at 80x60)."""
    import av

    key = int(hashlib.sha256(clip.sha256.encode()).hexdigest()[:8], 16)
    try:
        with clip.file.open("rb") as f, av.open(f) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            gray, rgb = [], []
            for i, frame in enumerate(container.decode(stream)):
                if i >= MAX_FRAMES:
                    break
                small = (
                    frame.reformat(width=80, height=60, format="rgb24").to_ndarray().astype(np.float32) / 255
                )
                rgb.append(small.mean(axis=(0, 1)))
                gray.append(small.mean(axis=2))
    except Exception:  # no file (factory clips), unreadable file: a stable pseudo-random stimulus instead
        return _hash_stimulus(clip)
    if len(gray) < 2:
        return _hash_stimulus(clip)
    frames = np.stack(gray)
    colour = np.stack(rgb).mean(axis=0)
    brightness = float(frames.mean())
    warmth = float(colour[0] - colour[2])
    # Apparent speed: |dI/dt| / |grad I| is the typical displacement per frame of the visible edges.
    temporal = float(np.abs(np.diff(frames, axis=0)).mean())
    spatial = float(np.abs(np.diff(frames, axis=1)).mean() + np.abs(np.diff(frames, axis=2)).mean())
    speed = temporal / max(spatial, 1e-4)
    valence = math.tanh(3.0 * (brightness - 0.28) + 2.5 * warmth)
    arousal = math.tanh(1.5 * math.log(max(speed, 1e-3) / 2.0))
    return Stimulus(valence, arousal, brightness, key)


def _raw(spec: dict, value: float) -> float:
    value = float(np.clip(value, -1.0, 1.0))
    if spec["instrument"] == "slider":
        return round(value, 3)
    points = spec["points"]
    return float(int(round(1 + (value + 1) / 2 * (points - 1))))


def _rating(sim: SimulatedAnnotator, stimulus: Stimulus, spec: dict, study: Study, duration_s: float) -> dict:
    rng = sim.rng
    data: dict = {"submission_id": str(uuid.uuid4())}
    p_cannot = sim.p_cannot_judge + (0.3 if stimulus.brightness < 0.15 else 0.0)
    if rng.random() < p_cannot:
        data.update(cannot_judge=True, cannot_judge_reason=str(rng.choice(CANNOT_JUDGE_REASONS)))
    else:
        truth = np.array([stimulus.valence, stimulus.arousal])
        draw = truth * sim.gain + sim.bias + rng.normal(0.0, sim.noise, size=2)
        data["valence"], data["arousal"] = _raw(spec, draw[0]), _raw(spec, draw[1])
        if spec["ask_confidence"]:
            points = spec["confidence_points"]
            for dim, k in (("valence", 0), ("arousal", 1)):
                sure = 0.55 + 0.2 * sim.confidence_style + 0.25 * abs(truth[k]) + rng.normal(0.0, 0.15)
                data[f"{dim}_confidence"] = int(np.clip(round(1 + sure * (points - 1)), 1, points))
    tags = []
    for i, group in enumerate(spec.get("context_groups", [])):
        options = group["tags"]
        if not options or rng.random() > 0.8:
            continue
        true_tag = options[(stimulus.key >> (3 * i)) % len(options)]
        tag = true_tag if rng.random() < sim.tag_agreement else str(rng.choice(options))
        tags.append(f"{group['name']}:{tag}")
    data["context_tags"] = tags
    if spec.get("context_note") and rng.random() < 0.15:
        data["context_note"] = str(rng.choice(NOTES))
    data["time_on_task_ms"] = int(1000 * (duration_s + rng.lognormal(1.6, 0.5)))
    data["watched_fraction"] = (
        1.0 if study.require_full_view or rng.random() < 0.7 else round(rng.uniform(0.5, 1), 3)
    )
    return data


def _new_annotators(study: Study, n: int, rng: np.random.Generator) -> list[SimulatedAnnotator]:
    User = get_user_model()
    prefix = f"sim-{study.pk}-"
    taken = set(User.objects.filter(username__startswith=prefix).values_list("username", flat=True))
    out, number = [], 1
    while len(out) < n:
        username = f"{prefix}{number:03d}"
        number += 1
        if username in taken:
            continue
        user = User(username=username, first_name="Simulated", last_name=f"annotator {number - 1}")
        user.set_unusable_password()
        user.save()
        membership = membership_add(
            study=study,
            user=user,
            role=Role.ANNOTATOR,
            via=Membership.Via.ACCOUNT,
            consented_at=timezone.now(),
        )
        out.append(
            SimulatedAnnotator(
                membership=membership,
                bias=rng.normal(0.0, 0.15, size=2),
                gain=float(rng.uniform(0.7, 1.2)),
                noise=float(rng.uniform(0.08, 0.3)),
                p_cannot_judge=float(rng.uniform(0.02, 0.12)),
                confidence_style=float(rng.uniform(-1, 1)),
                tag_agreement=float(rng.uniform(0.55, 0.9)),
                rng=np.random.default_rng(rng.integers(2**32)),
            )
        )
    return out


def simulate_annotations(
    *, study: Study, n_annotators: int, seed: int = 0, max_per_annotator: int | None = None
) -> SimulationResult:
    """Add `n_annotators` new simulated annotators to the study; they take turns claiming and rating until
    the queue has nothing left for them or each has rated `max_per_annotator` clips."""
    if n_annotators < 1:
        raise ValueError("n_annotators must be at least 1")
    rng = np.random.default_rng([seed, study.pk])
    sims = _new_annotators(study, n_annotators, rng)
    result = SimulationResult(annotators=[s.membership.user.username for s in sims])
    stimuli: dict[int, Stimulus] = {}
    active = list(sims)
    while active:
        for sim in list(active):
            if max_per_annotator is not None and sim.done >= max_per_annotator:
                active.remove(sim)
                continue
            sim.membership.study = study
            assignment = assignment_claim_next(membership=sim.membership)
            if assignment is None:
                active.remove(sim)
                continue
            clip = assignment.clip
            if clip.pk not in stimuli:
                stimuli[clip.pk] = clip_stimulus(clip)
            data = _rating(sim, stimuli[clip.pk], assignment.scheme_version.spec, study, clip.duration_s)
            annotation, _ = annotation_submit(
                assignment=assignment, data=data, user_agent="simulated annotator"
            )
            sim.done += 1
            result.annotations += 1
            result.cannot_judge += int(annotation.cannot_judge)
    return result
