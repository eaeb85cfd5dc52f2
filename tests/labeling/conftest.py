from pathlib import Path

import pytest

from labeling.demo import render_demo_clip
from labeling.models import Clip
from labeling.tasks import compute_agreement
from tests.factories import ClipFactory, MembershipFactory, rate_next
from tests.labeling.report_helpers import SMALL_STUDY, study_from_matrix


@pytest.fixture
def rated(db):
    """A study rated by three annotators on five clips (SMALL_STUDY), for the agreement-run tests."""
    study, users, clips = study_from_matrix(SMALL_STUDY)
    return study


@pytest.fixture
def sent(monkeypatch):
    """Messages the services send to the broker (report ids), instead of sending them."""
    calls = []
    monkeypatch.setattr(compute_agreement, "apply_async", lambda args, **kw: calls.append(args[0]))
    return calls


@pytest.fixture(scope="session")
def good_mp4(tmp_path_factory) -> Path:
    """A 3-second H.264 clip, 320×240 at 25 fps, made once per test session."""
    return render_demo_clip(
        tmp_path_factory.mktemp("src") / "good.mp4", seconds=3.0, tempo=1.5, hue=0.1, seed=1
    )


def only_active(study, *clips):
    Clip.objects.filter(study=study).exclude(pk__in=[c.pk for c in clips]).update(is_active=False)
    Clip.objects.filter(pk__in=[c.pk for c in clips]).update(is_active=True)


@pytest.fixture
def dashboard_setup(study, make_annotator):
    """The study page's known set-up, for its page tests and the dashboard selectors.

    K=3. Clip a: 3 ratings, b: 2, c: 1, d: 0 with an open lease, e: 0, f: inactive."""
    a, b, c, d, e, f = ClipFactory.create_batch(6, study=study)
    m1, m2, m3, m4 = (make_annotator(study) for _ in range(4))
    only_active(study, a)
    for m in (m1, m2, m3):
        rate_next(m)
    only_active(study, a, b)
    rate_next(m1)
    rate_next(m2)
    only_active(study, a, b, c)
    rate_next(m1)
    only_active(study, a, b, c, d)
    lease = rate_next(m4, submit=False)
    only_active(study, a, b, c, d, e)
    researcher = MembershipFactory(study=study, role="researcher").user
    return {
        "study": study,
        "clips": (a, b, c, d, e, f),
        "members": (m1, m2, m3, m4),
        "lease": lease,
        "researcher": researcher,
    }
