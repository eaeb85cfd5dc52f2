import numpy as np
import pytest

from tests.factories import ClipFactory, MembershipFactory, StudyFactory
from tests.labeling.report_helpers import rate_many


@pytest.fixture
def crowd_study(db):
    """12 annotators, 40 clips, 3 ratings per clip from a random subset, some 'cannot judge', tags."""
    rng = np.random.default_rng(7)
    study = StudyFactory(overlap_k=3)
    users = [MembershipFactory(study=study).user for _ in range(12)]
    clips = ClipFactory.create_batch(40, study=study)
    tags = ["setting:home", "setting:outdoors", "social:alone", "social:small group", "activity:talking"]
    rows = []
    for i, clip in enumerate(clips):
        truth = rng.uniform(-0.8, 0.8)
        count = 1 if i == 0 else 3 + (i % 7 == 0)  # clip 0 has one rating; some have 4
        for u in rng.choice(len(users), size=count, replace=False):
            if rng.random() < 0.08:
                rows.append((clip, users[u], None, None, []))
                continue
            v = float(np.clip(np.round((truth + rng.normal(0, 0.3)) * 4) / 4, -1, 1))
            a = float(np.clip(np.round((-truth + rng.normal(0, 0.4)) * 4) / 4, -1, 1))
            picked = [t for j, t in enumerate(tags) if rng.random() < (0.6 if (j + i) % 2 else 0.2)]
            rows.append((clip, users[u], v, a, picked))
    order = rng.permutation(len(rows))  # submission order is not clip order
    rate_many(study, [rows[i] for i in order])
    return study
