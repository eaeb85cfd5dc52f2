"""What the rating page needs from the scheme the annotator was shown (or, on a participant's self-report
page, the study's current scheme): scales, icons, tags, JS config."""

from __future__ import annotations

import math
from typing import Any

from django.urls import reverse
from django.utils.safestring import mark_safe

from labeling.models import Assignment, Clip, Membership, ParticipantLink
from labeling.scheme import (
    CANNOT_JUDGE_REASONS,
    CONFIDENCE_ANCHORS,
    DEFAULT_SPEC,
    GRID_PROMPT,
    GRID_QUADRANTS,
    MIDDLE,
    PROMPTS,
    SELF_REPORT_GRID_PROMPT,
    SELF_REPORT_QUESTIONS,
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


def instrument_context(*, spec: dict[str, Any], self_report: bool = False) -> dict[str, Any]:
    """The scales, icons, tags and words of the rating form for a scheme `spec`: what the annotators' rating
    page and the participants' self-report page share (the same template, templates/annotator/rate.html).
    `self_report`: the questions ask about the participant's own feeling, and there is no "cannot judge"."""
    spec = {**DEFAULT_SPEC, **spec}
    points = spec["points"]
    dims = []
    for dim in DIMENSIONS:
        d = dict(dim)
        if self_report:
            d["question"] = SELF_REPORT_QUESTIONS[dim["name"]]
        d["points"] = _scale_points(dim["name"], points) if spec["instrument"] == "sam" else []
        dims.append(d)
    grid_rows = []
    if spec["instrument"] == "grid":
        grid_rows = [[(x, y) for x in range(1, points + 1)] for y in range(points, 0, -1)]
    return {
        "spec": spec,
        "dims": dims,
        "confidence": list(range(1, spec["confidence_points"] + 1)),
        "grid_rows": grid_rows,
        "quadrants": GRID_QUADRANTS,
        "reasons": [] if self_report else CANNOT_JUDGE_REASONS,
        "cannot_judge": not self_report,
        "middle": MIDDLE,
        "confidence_anchors": CONFIDENCE_ANCHORS,
        "grid_prompt": SELF_REPORT_GRID_PROMPT if self_report else GRID_PROMPT,
        "context_heading": "What was the situation?"
        if self_report
        else "What could you see of the situation?",
        "self_report": self_report,
        # The server's threshold, as the client reads it (data-full-view-fraction): the two cannot drift.
        "full_view_fraction": repr(float(FULL_VIEW_FRACTION)),
    }


def _form_config(*, study, clip, spec: dict[str, Any]) -> dict[str, Any]:
    """The rating script's settings that come from the scheme and the clip (rating-config in the page)."""
    return {
        "studyId": study.pk,
        "clipId": clip.pk,
        "instrument": spec["instrument"],
        "points": spec["points"],
        "askConfidence": spec["ask_confidence"],
        "confidencePoints": spec["confidence_points"],
        "contextNote": spec["context_note"],
        "requireFullView": study.require_full_view,
        "duration": clip.duration_s,
    }


def rating_page_context(*, assignment: Assignment, membership: Membership, progress: dict[str, int]) -> dict:
    study, clip = assignment.study, assignment.clip
    context = instrument_context(spec=assignment.scheme_version.spec)
    config = {
        **_form_config(study=study, clip=clip, spec=context["spec"]),
        "userId": membership.user_id,  # pending ratings in localStorage are kept per user and study
        "assignmentId": assignment.pk,
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
        **context,
        "study": study,
        "membership": membership,
        "assignment": assignment,
        "clip": clip,
        "progress": progress,
        "position": min(progress["done"] + 1, max(progress["total"], 1)),
        "media_url": reverse("clip-media", args=[clip.pk]),
        "poster_url": reverse("clip-poster", args=[clip.pk]),
        "config": config,
    }


def self_report_page_context(
    *, link: ParticipantLink, key: str, clip: Clip, spec: dict[str, Any], progress: dict[str, int]
) -> dict:
    """The rating page as a participant sees it for one of their own clips, through their link: the same
    template and instrument as the annotators', posting to the link's report endpoint; no lease, so no
    heartbeat and no preload; "next" is the link's next unrated clip."""
    study = link.participant.study
    context = instrument_context(spec=spec, self_report=True)
    config = {
        **_form_config(study=study, clip=clip, spec=context["spec"]),
        # Pending reports in localStorage are kept per link and clip (never mixed with an account's).
        "userId": f"link{link.pk}",
        "assignmentId": f"clip{clip.pk}",
        "urls": {
            "annotation": reverse("participant-report", args=[key, clip.pk]),
            "queue": reverse("participant-next", args=[key]),
        },
        "heartbeatSeconds": None,
        "preload": False,
    }
    return {
        **context,
        "study": study,
        "clip": clip,
        "progress": progress,
        "position": min(progress["done"] + 1, max(progress["total"], 1)),
        "media_url": reverse("participant-clip-media", args=[key, clip.pk]),
        "poster_url": reverse("participant-clip-poster", args=[key, clip.pk]),
        "config": config,
        "home_url": reverse("participant-home", args=[key]),
    }
