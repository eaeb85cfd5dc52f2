"""Real exports for the card, Croissant and docs tests: a study rated through the services (with its
agreement report) and built by the real services (tests/exports/conftest.py); Hugging Face `datasets`
loaded offline."""

from __future__ import annotations

import os
from pathlib import Path

from exports.models import Export
from labeling.models import Annotation
from labeling.services.agreement import agreement_run_now
from tests.exports.conftest import build as build_export
from tests.exports.conftest import folder_of
from tests.factories import ClipFactory, MembershipFactory, StudyFactory, rate_next

N_CLIPS = 12
OFFLINE = {"HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}


def rated_study(*, report: bool = True, **study_fields):
    """A study of N_CLIPS clips, each rated by its K = 3 annotators through the real queue; the last rating is
    turned into a cannot-judge; the agreement report computed when `report`."""
    study = StudyFactory(overlap_k=3, **study_fields)
    ClipFactory.create_batch(N_CLIPS, study=study)
    members = MembershipFactory.create_batch(3, study=study)
    for i in range(N_CLIPS):
        for j, member in enumerate(members):
            rate_next(
                member,
                valence=1 + (i * 3 + j * 5) % 9,
                arousal=1 + (i * 7 + j * 2) % 9,
                context_tags=["setting:home"] if (i + j) % 2 else [],
            )
    last = Annotation.objects.filter(study=study).latest("id")
    Annotation.objects.filter(pk=last.pk).update(
        cannot_judge=True, valence=None, arousal=None, valence_raw=None, arousal_raw=None
    )
    if report:
        agreement_run_now(study=study, n_resamples=20)
    return study


def build(study, **parameters) -> tuple[Export, Path]:
    """A finished export of `study` built by the real services, and its folder."""
    export = build_export(study, **parameters)
    return export, folder_of(export)


def hf_datasets(monkeypatch):
    """The `datasets` module, offline (nothing may be fetched), whether or not it was imported before."""
    for key, value in OFFLINE.items():
        monkeypatch.setenv(key, value)
    import datasets
    import huggingface_hub.constants

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True, raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    return datasets


def offline_env(home: Path) -> dict[str, str]:
    """The environment for a child process that runs `datasets` offline with its caches under `home`."""
    return {**os.environ, **OFFLINE, "HF_HOME": str(home), "HF_DATASETS_CACHE": str(home / "datasets")}
