"""Annotators never see a self-report, nor learn which clips have one, nor anything of the filmed person.

Two annotators go through every page and endpoint an annotator touches for the same clip — the queue, the
rating page, the clip's media and poster, the claim, heartbeat and submit calls of the annotation API, the
end page, the home page, /api/me/ — the first before the clip's participant gave a self-report through their
link, the second after (with the link consented, a second link revoked, and the participant's consent and
demographics filled in). The two walks must be identical, response by response — status, content type,
redirect, body and the number of database queries — once the few things that differ by nature are masked
(user name and id, assignment id, CSRF tokens, timestamps, submission id). And no response ever carries the
participant's code, demographics, link or self-report.
"""

import json
import re
import uuid

import pytest
from django.core.files import File
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from labeling import services
from labeling.models import SelfReport
from tests.factories import MembershipFactory, UserFactory, rating_data, self_report_link

pytestmark = pytest.mark.django_db

CODE = "P-Q7ZX-SECRET"
GENDER = "self-described-XQ9"


@pytest.fixture
def world(study, media_root, render_once, tmp_path):
    """The study (K=2) with one real clip of participant CODE, and two annotators."""
    study.overlap_k = 2
    study.save(update_fields=["overlap_k"])
    path = render_once(tmp_path / "clip.mp4", seconds=1.2, fps=25, tempo=1.3, hue=0.4, seed=3)
    with path.open("rb") as fh:
        clip = services.clip_create(
            study=study, file=File(fh, name="clip.mp4"), original_name="clip.mp4", participant_code=CODE
        )
    participant = clip.participant
    type(participant).objects.filter(pk=participant.pk).update(
        gender=GENDER, age_band="25-34", consent_version="v3-XQ", consent_self_reports_export=True
    )
    annotators = [
        MembershipFactory(study=study, user=UserFactory(username=name))
        for name in ("annotator-a", "annotator-b")
    ]
    return study, clip, participant, annotators


MASKS = [
    (re.compile(r'(csrfmiddlewaretoken" value=")[^"]+'), r"\1<csrf>"),
    (re.compile(r'("X-CSRFToken": ")[^"]+'), r"\1<csrf>"),
    (re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?"), "<time>"),
    (re.compile(r"/a/\d+/"), "/a/<assignment>/"),
    (re.compile(r"/api/assignments/\d+/"), "/api/assignments/<assignment>/"),
    (re.compile(r'"(assignmentId|userId|id|assignment|annotator)": \d+'), r'"\1": <id>'),
    (re.compile(r'data-assignment="\d+"'), 'data-assignment="<assignment>"'),
    (re.compile(r"annotator-[ab]"), "<annotator>"),
    (re.compile(r'"submission_id": "[0-9a-f-]{36}"'), '"submission_id": "<submission>"'),
]


def masked(text: str) -> str:
    for pattern, replacement in MASKS:
        text = pattern.sub(replacement, text)
    return text


def body_of(response) -> str:
    raw = b"".join(response.streaming_content) if response.streaming else response.content
    if response.get("Content-Type", "").startswith("application/json") and raw:
        raw = json.dumps(json.loads(raw), sort_keys=True).encode()
    return raw.decode("latin-1")


def walk(client, study, clip) -> list[tuple]:
    """Every annotator page and endpoint for the clip, in the order a rating takes; one row per response."""
    rows = []

    def call(label, method, url, **kwargs):
        with CaptureQueriesContext(connection) as queries:
            response = getattr(client, method)(url, **kwargs)
        text = body_of(response)
        rows.append(
            (
                label,
                response.status_code,
                response.get("Content-Type"),
                masked(response.get("Location", "")),
                masked(text),
                len(queries),
            )
        )
        return response, text

    call("home before", "get", reverse("home"))
    queue, _ = call("queue", "get", reverse("study-queue", args=[study.pk]))
    rate_url = queue["Location"]
    assignment_id = int(rate_url.rstrip("/").rsplit("/", 1)[1])
    call("rate page", "get", rate_url)
    call("media", "get", reverse("clip-media", args=[clip.pk]), HTTP_RANGE="bytes=0-99")
    call("media whole", "get", reverse("clip-media", args=[clip.pk]))
    call("poster", "get", reverse("clip-poster", args=[clip.pk]))
    call("claim api", "post", f"/api/studies/{study.pk}/assignments/next/", content_type="application/json")
    call("heartbeat api", "post", f"/api/assignments/{assignment_id}/heartbeat/")
    call(
        "submit api",
        "post",
        f"/api/assignments/{assignment_id}/annotation/",
        data=rating_data(submission_id=str(uuid.uuid4())),
        content_type="application/json",
    )
    call("queue after", "get", reverse("study-queue", args=[study.pk]))
    call("done page", "get", reverse("study-done", args=[study.pk]))
    call("rate page after", "get", rate_url)
    call("media after", "get", reverse("clip-media", args=[clip.pk]), HTTP_RANGE="bytes=0-99")
    call(
        "claim api after",
        "post",
        f"/api/studies/{study.pk}/assignments/next/",
        content_type="application/json",
    )
    call("me api", "get", "/api/me/")
    call("home after", "get", reverse("home"))
    return rows


def test_every_annotator_response_is_the_same_whether_or_not_the_participant_self_reported(client, world):
    study, clip, participant, (first, second) = world
    client.force_login(first.user)
    without = walk(client, study, clip)

    # The participant opens their link, agrees, and rates this clip; a second link of theirs is revoked.
    link, key = self_report_link(participant)
    data = rating_data(valence=2, arousal=8, context_note="I was nervous")
    services.self_report_submit(link=link, clip=clip, data=data, submission_id=data["submission_id"])
    spare, _ = self_report_link(participant, consent=False)
    services.participant_link_revoke(link=spare, by=None)
    assert SelfReport.objects.filter(clip=clip).count() == 1

    client.force_login(second.user)
    with_report = walk(client, study, clip)

    assert [row[0] for row in with_report] == [row[0] for row in without]
    for before, after in zip(without, with_report, strict=True):
        assert before[1:4] == after[1:4], f"{before[0]}: status, type or redirect differ"
        assert before[4] == after[4], f"{before[0]}: the body differs"
        assert before[5] == after[5], (
            f"{before[0]}: {before[5]} queries without a self-report, {after[5]} with"
        )
    statuses = {row[0]: row[1] for row in without}  # the walk did reach every page and endpoint
    assert statuses == {
        "home before": 200,
        "queue": 302,
        "rate page": 200,
        "media": 206,
        "media whole": 200,
        "poster": 200,
        "claim api": 201,
        "heartbeat api": 200,
        "submit api": 201,
        "queue after": 302,
        "done page": 200,
        "rate page after": 302,
        "media after": 206,
        "claim api after": 204,
        "me api": 200,
        "home after": 200,
    }

    leaks = (CODE, GENDER, "v3-XQ", "I was nervous", key, link.prefix, "self-report", "self_report", "/p/")
    for label, *_, body, _ in (*without, *with_report):
        found = [leak for leak in leaks if leak in body]
        assert not found, f"{label} shows {found}"
