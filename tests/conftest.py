import hashlib
import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.factories import (
    ClipFactory,
    MembershipFactory,
    ParticipantFactory,
    StudyFactory,
    UserFactory,
    self_report_link,
)

ON_POSTGRES = bool(os.environ.get("DATABASE_URL", "").startswith(("postgres", "postgresql")))


def pytest_collection_modifyitems(config, items):
    """PostgreSQL-only tests say why they skip on SQLite; CI sets REQUIRE_POSTGRES=1 so they can never skip there."""
    if ON_POSTGRES:
        return
    if os.environ.get("REQUIRE_POSTGRES") == "1":
        raise pytest.UsageError("REQUIRE_POSTGRES=1 but DATABASE_URL does not point at PostgreSQL")
    skip = pytest.mark.skip(
        reason="needs PostgreSQL row locks: set DATABASE_URL=postgresql://... (CI runs it)"
    )
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


# On PostgreSQL claim and submit have two write paths: the one-statement fast path (labeling/services/_pg.py)
# and the ORM path that SQLite runs. Tests of the queue's invariants run against both; on SQLite there is one.
WRITE_PATHS = ["fast-path", "orm-path"] if ON_POSTGRES else ["sqlite"]


@pytest.fixture(params=WRITE_PATHS)
def write_path(request, settings):
    """Parametrizes a test over the write paths the database has (settings.LABELING_PG_FAST_PATH)."""
    settings.LABELING_PG_FAST_PATH = request.param != "orm-path"
    return request.param


@pytest.fixture
def study(db):
    return StudyFactory()


@pytest.fixture
def make_annotator(db):
    def make(study, **kwargs):
        return MembershipFactory(study=study, **kwargs)

    return make


@pytest.fixture
def clips(study):
    return ClipFactory.create_batch(5, study=study)


@pytest.fixture
def researcher(study):
    return MembershipFactory(study=study, role="researcher").user


@pytest.fixture
def linked(study):
    """A participant with two clips and a consented self-report link (`link`, `key`); another participant of
    the same study with a clip (`other_clip`); another study's participant with a clip (`foreign_clip`)."""
    participant = ParticipantFactory(study=study)
    clips = [ClipFactory(study=study, participant=participant) for _ in range(2)]
    other_clip = ClipFactory(study=study, participant=ParticipantFactory(study=study))
    elsewhere = StudyFactory()
    foreign_clip = ClipFactory(study=elsewhere, participant=ParticipantFactory(study=elsewhere))
    link, key = self_report_link(participant)
    return SimpleNamespace(
        study=study,
        participant=participant,
        clips=clips,
        other_clip=other_clip,
        foreign_clip=foreign_clip,
        link=link,
        key=key,
    )


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def media_root(settings, tmp_path) -> Path:
    """Uploaded clips and their posters go to a folder of this test's own."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture(scope="session")
def _rendered_clips(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("rendered-clips")


@pytest.fixture
def render_once(monkeypatch, _rendered_clips):
    """labeling.demo's render_demo_clip, each distinct clip encoded once per test run and copied after: equal
    arguments give an equal file (tests/labeling/test_commands.py checks that), and the demo's twelve clips cost
    seconds of CPU each time. Patched where the demo calls it too."""
    from labeling.demo import study as demo_study

    real = demo_study.render_demo_clip

    def render(path, **kwargs) -> Path:
        key = hashlib.sha256(repr(sorted(kwargs.items())).encode()).hexdigest()[:16]
        cached = _rendered_clips / f"{key}.mp4"
        if not cached.exists():
            made = real(_rendered_clips / f"{key}.{os.getpid()}.part.mp4", **kwargs)
            made.replace(cached)  # whole or not at all (the demo renders on two threads)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cached, path)
        return path

    monkeypatch.setattr(demo_study, "render_demo_clip", render)
    return render


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Full-strength PBKDF2 costs ~0.5 s per user made; tests need passwords that work, not that resist cracking."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttle counts (log-in failures, API rates) live in the cache: no test inherits another's."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def admin_client_(client):
    """The test client logged in as a superuser named root."""
    client.force_login(UserFactory(username="root", is_superuser=True, is_staff=True))
    return client
