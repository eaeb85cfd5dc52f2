"""What the rating page needs from the scheme the annotator was shown: scales, icons, tags, JS config."""

from __future__ import annotations

import math
from typing import Any

from django.urls import reverse
from django.utils.safestring import mark_safe

from labeling.models import Assignment, Membership
from labeling.scheme import (
    CANNOT_JUDGE_REASONS,
    CONFIDENCE_ANCHORS,
    DEFAULT_SPEC,
    GRID_PROMPT,
    GRID_QUADRANTS,
    MIDDLE,
    PROMPTS,
)
from labeling.scheme import DIMENSIONS as SCHEME_DIMENSIONS
from labeling.services.annotations import FULL_VIEW_FRACTION

DIMENSIONS = [{"name": name, "key": name[0], **PROMPTS[name]} for name in SCHEME_DIMENSIONS]


def _manikin(dimension: str, t: float) -> str:
    """A small SAM-like figure for scale position t in [0, 1] (inline SVG; numbers only, no user input)."""
    parts = [
        '<svg viewBox="0 0 32 40" aria-hidden="true" focusable="false" class="manikin">',
        '<path d="M4 40 C5 27 10 22.5 16 22.5 C22 22.5 27 27 28 40 Z" class="body"/>',
        '<circle cx="16" cy="12.5" r="10" class="head"/>',
    ]
    if dimension == "valence":
        mouth = 18 + (t - 0.5) * 9
        parts.append(
            '<circle cx="12.3" cy="11" r="1.4" class="ink"/><circle cx="19.7" cy="11" r="1.4" class="ink"/>'
        )
        parts.append(f'<path d="M11 18 Q16 {mouth:.1f} 21 18" class="stroke"/>')
    else:
        eye = 0.5 + 1.5 * t
        if t < 0.15:
            parts.append('<path d="M10.5 11 h3.6 M17.9 11 h3.6" class="stroke"/>')
        else:
            parts.append(
                f'<circle cx="12.3" cy="11" r="{eye:.2f}" class="ink"/><circle cx="19.7" cy="11" r="{eye:.2f}" class="ink"/>'
            )
        parts.append(f'<ellipse cx="16" cy="18" rx="{1.6 + t:.2f}" ry="{0.35 + 2.2 * t:.2f}" class="ink"/>')
        radius = 1.2 + 5.2 * t  # the "explosion" in the belly grows with arousal
        points = []
        for i in range(16):
            r = radius if i % 2 == 0 else radius * 0.45
            angle = math.pi * i / 8
            points.append(f"{16 + r * math.cos(angle):.2f},{32 + r * math.sin(angle):.2f}")
        parts.append(f'<polygon points="{" ".join(points)}" class="burst"/>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - built from numbers only


def _scale_points(dimension: str, n: int) -> list[dict[str, Any]]:
    step = 2 if n > 5 else 1
    return [
        {
            "value": v,
            "icon": _manikin(dimension, (v - 1) / (n - 1)) if (v - 1) % step == 0 else None,
            "digit": v if v <= 9 else None,
        }
        for v in range(1, n + 1)
    ]


def rating_page_context(*, assignment: Assignment, membership: Membership, progress: dict[str, int]) -> dict:
    spec = {**DEFAULT_SPEC, **assignment.scheme_version.spec}
    study, clip = assignment.study, assignment.clip
    points = spec["points"]
    dims = []
    for dim in DIMENSIONS:
        d = dict(dim)
        d["points"] = _scale_points(dim["name"], points) if spec["instrument"] == "sam" else []
        dims.append(d)
    confidence = list(range(1, spec["confidence_points"] + 1))
    grid_rows = []
    if spec["instrument"] == "grid":
        grid_rows = [[(x, y) for x in range(1, points + 1)] for y in range(points, 0, -1)]
    config = {
        "studyId": study.pk,
        "userId": membership.user_id,  # pending ratings in localStorage are kept per user and study
        "assignmentId": assignment.pk,
        "clipId": clip.pk,
        "instrument": spec["instrument"],
        "points": points,
        "askConfidence": spec["ask_confidence"],
        "confidencePoints": spec["confidence_points"],
        "contextNote": spec["context_note"],
        "requireFullView": study.require_full_view,
        "duration": clip.duration_s,
        "urls": {
            "annotation": f"/api/assignments/{assignment.pk}/annotation/",
            "heartbeat": f"/api/assignments/{assignment.pk}/heartbeat/",
            "next": f"/api/studies/{study.pk}/assignments/next/",
            "queue": reverse("study-queue", args=[study.pk]),
        },
        "heartbeatSeconds": 60,
        # The queue gives a second clip only after the first rating (labeling.services.assignments): before it,
        # the page does not ask (a refused preload would only be an error in the console).
        "preload": progress["done"] > 0,
    }
    return {
        "study": study,
        "membership": membership,
        "assignment": assignment,
        "clip": clip,
        "spec": spec,
        "dims": dims,
        "confidence": confidence,
        "grid_rows": grid_rows,
        "quadrants": GRID_QUADRANTS,
        "reasons": CANNOT_JUDGE_REASONS,
        "middle": MIDDLE,
        "confidence_anchors": CONFIDENCE_ANCHORS,
        "grid_prompt": GRID_PROMPT,
        "progress": progress,
        "position": min(progress["done"] + 1, max(progress["total"], 1)),
        "media_url": reverse("clip-media", args=[clip.pk]),
        "poster_url": reverse("clip-poster", args=[clip.pk]),
        "config": config,
        # The server's threshold, as the client reads it (data-full-view-fraction): the two cannot drift.
        "full_view_fraction": repr(float(FULL_VIEW_FRACTION)),
    }
