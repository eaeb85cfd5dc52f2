"""Set-up shared by the exports tests: a folder of their own for EXPORTS_ROOT, a study with a researcher, an
annotator and a few ratings, and a way to finish an export without a worker."""

from __future__ import annotations

from pathlib import Path

import pytest

from annotator.models import User
from exports import services
from exports.tasks import build_export
from tests.exports.helpers import finish_by_hand
from tests.factories import ClipFactory, MembershipFactory, StudyFactory, rate_next


@pytest.fixture(autouse=True)
def _own_exports_root(exports_root) -> Path:
    return exports_root


@pytest.fixture
def queued(monkeypatch):
    """Export ids the services queue for a build, instead of sending them to the broker."""
    calls: list[int] = []
    monkeypatch.setattr(build_export, "apply_async", lambda args, **kw: calls.append(args[0]))
    return calls


@pytest.fixture
def broker_down(monkeypatch):
    """The broker refuses every message (as when Redis is down)."""

    def refuse(*args, **kwargs):
        raise OSError("connection refused")

    monkeypatch.setattr(build_export, "apply_async", refuse)


@pytest.fixture
def world(db):
    """A rated study with its researcher, one of its annotators, a crowd account of it, a researcher of
    another study, and a superuser."""
    study = StudyFactory(slug="faces-at-home")
    ClipFactory.create_batch(3, study=study)
    researcher = MembershipFactory(study=study, role="researcher").user
    annotators = [MembershipFactory(study=study) for _ in range(2)]
    for member in annotators:
        rate_next(member)
        rate_next(member)
    crowd = User.objects.create_user("crowd-x", crowd_study=study, crowd_pid="PID1", is_pseudonymous=True)
    MembershipFactory(study=study, user=crowd)
    other = StudyFactory()
    return {
        "study": study,
        "researcher": researcher,
        "annotator": annotators[0].user,
        "crowd": crowd,
        "other_researcher": MembershipFactory(study=other, role="researcher").user,
        "other_study": other,
        "superuser": User.objects.create_superuser("root-x", password="pw-for-tests-only"),
    }


@pytest.fixture
def done_export(world, queued):
    """A finished export of the world's study (stand-in files)."""
    export = services.export_start(study=world["study"], parameters={}, created_by=world["researcher"])
    return finish_by_hand(export)


@pytest.fixture
def built_export(world, queued):
    """An export of the world's study built for real, in this process (exports.services.export_build)."""
    export = services.export_start(study=world["study"], parameters={"formats": ["csv"]}, enqueue=False)
    built = services.export_build(export_id=export.pk)
    assert built is not None and built.status == "done", built and built.error
    return built
