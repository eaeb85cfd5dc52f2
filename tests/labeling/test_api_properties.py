"""Property-based API test: schemathesis generates requests from the OpenAPI schema (/api/schema/) for every
operation, valid and invalid, and sends them through the whole WSGI stack (middleware included) against the
real test database, once with a researcher's token and once with an annotator's. Any 5xx fails.

Bounded for CI: few examples per operation, derandomized (the same requests on every run), no deadline.
Path ids are pinned to the fixtures' real study, clip, assignment and (finished) export, so the generated
bodies and query parameters reach the views' real work instead of stopping at a 404.
"""

import itertools
from datetime import timedelta

import pytest
import schemathesis
from django.core import signals
from django.core.cache import cache
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from exports import services as export_services
from labeling import services
from tests.exports.helpers import finish_by_hand
from tests.factories import ClipFactory, MembershipFactory, StudyFactory, UserFactory

application = get_wsgi_application()
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)

# Fuzzed examples per operation and role, after schemathesis's coverage phase (boundary and invalid values:
# ~1,000 requests per role over the 24 operations). The module takes a few minutes on a 2-core machine.
EXAMPLES = 8

PROPERTY_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def obtain_token(username: str) -> str:
    """Through the HTTP endpoint, as a script would."""
    response = Client().post(
        "/api/auth/token/",
        {"username": username, "password": "pw-for-tests-only"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    return response.json()["token"]


@pytest.fixture
def world(db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.EXPORTS_ROOT = tmp_path / "exports"
    cache.clear()  # the token endpoint's throttle must not carry over from other tests
    study = StudyFactory()
    clips = ClipFactory.create_batch(3, study=study)
    researcher = MembershipFactory(study=study, role="researcher").user
    researcher.is_staff = True
    researcher.save(update_fields=["is_staff"])
    annotator = MembershipFactory(study=study)
    assignment = services.assignment_claim_next(membership=annotator)
    export = finished_export(study)
    ids = {
        "study_id": study.pk,
        "clip_id": clips[0].pk,
        "assignment_id": assignment.pk,
        "member_id": annotator.pk,
        "export_id": export.pk,
    }
    tokens = {
        "researcher": obtain_token(researcher.username),
        "annotator": obtain_token(annotator.user.username),
    }
    # As Django's test client does: a request's start and end must not close the test's database connection.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield {
            "ids": ids,
            "study": study,
            "annotator_membership": annotator,
            "spare": UserFactory(),  # whose tokens the revoking operations spend
            **tokens,
        }
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def finished_export(study):
    """A finished export (stand-in files): its build is not what these requests test."""
    return finish_by_hand(export_services.export_start(study=study, parameters={}, enqueue=False))


def fresh_assignment(world) -> int:
    """An open lease for the generated rating: the one still open, else one on a new clip (claimed as of
    tomorrow, so leases the generated claims took meanwhile have lapsed and do not stand in the way)."""
    ClipFactory(study=world["study"])
    later = timezone.now() + timedelta(days=1)
    return services.assignment_claim_next(membership=world["annotator_membership"], now=later).pk


# Text PostgreSQL cannot store: hypothesis rarely draws a NUL by chance, so every third generated JSON body
# gets one, in one of its strings (a different one each time, so the other fields can stay valid). Lone
# surrogates cannot travel through schemathesis's own encoder; api/test_annotation_client.py and
# api/test_research.py send them.
CALLS = itertools.count()


def poison(body, bad: str, which: int):
    """`body` with `bad` inside its which-th string (counting strings depth-first, modulo their number)."""
    leaves: list[tuple[object, object]] = []

    def walk(container):
        items = container.items() if isinstance(container, dict) else enumerate(container)
        for key, item in items:
            if isinstance(item, str):
                leaves.append((container, key))
            elif isinstance(item, (dict, list)):
                walk(item)

    walk(body)
    if leaves:
        container, key = leaves[which % len(leaves)]
        container[key] = container[key][:1] + bad + container[key][1:]
    return body


def check(case, world, role: str) -> None:
    n = next(CALLS)
    if n % 3 == 2 and isinstance(case.body, dict) and "json" in (case.media_type or ""):
        case.body = poison(case.body, "\x00", n // 3)
    for name in case.path_parameters or {}:
        if name in world["ids"]:
            case.path_parameters[name] = world["ids"][name]
    if role == "annotator" and case.operation.label.endswith("/annotation/"):
        case.path_parameters["assignment_id"] = fresh_assignment(world)
    if case.operation.label == "DELETE /api/exports/{export_id}/":
        case.path_parameters["export_id"] = finished_export(world["study"]).pk  # the pinned one lives on
    if "path" in (case.path_parameters or {}) and n % 2:
        case.path_parameters["path"] = "manifest.json"  # half the time, a file the export has
    token = world[role]
    if case.method.upper() == "DELETE" and case.operation.label.split(" ", 1)[-1].startswith(
        "/api/auth/token"
    ):
        # Revoking a token (the one in use, or one by id): spend a spare user's, so the role's token lives on.
        row, token = services.api_token_create(user=world["spare"])
        if "token_id" in (case.path_parameters or {}) and n % 2:
            case.path_parameters["token_id"] = row.pk  # half the time, the token's own id
    response = case.call(headers={"Authorization": f"Token {token}"})
    case.validate_response(response, checks=[not_a_server_error])


@schema.parametrize()
@PROPERTY_SETTINGS
def test_no_operation_is_a_server_error_for_a_researcher(case, world):
    check(case, world, "researcher")


@schema.parametrize()
@PROPERTY_SETTINGS
def test_no_operation_is_a_server_error_for_an_annotator(case, world):
    check(case, world, "annotator")
