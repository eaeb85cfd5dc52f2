"""Real exports for the card, Croissant and docs tests: a study rated through the services (with its
agreement report) and built by the real services (tests/exports/conftest.py); Hugging Face `datasets`
loaded offline."""

from __future__ import annotations

import os
from pathlib import Path

from django.utils import timezone

from exports.models import Export
from labeling.models import Annotation, Participant, SelfReport
from labeling.services import participant_get_or_create
from labeling.services.agreement import agreement_run_now
from tests.exports.conftest import build as build_export
from tests.exports.conftest import folder_of
from tests.factories import ClipFactory, MembershipFactory, StudyFactory, rate_next

N_CLIPS = 12
OFFLINE = {"HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}


def canonical(raw: float, points: int = 9) -> float:
    return -1 + 2 * (raw - 1) / (points - 1)


def add_self_report(participant, clip, *, start_s=None, end_s=None, **over) -> SelfReport:
    """A stored self-report (the import and the participant link are other areas' tests): by default a
    whole-clip 9-point SAM report of raw valence 7 and arousal 3 with confidences and one tag; `valence` and
    `arousal` given raw on the instrument's scale (None = not given); the canonical values follow."""
    instrument = over.pop("instrument", "sam")
    points = None if instrument == "slider" else over.pop("scale_points", 9)
    fields = {
        "valence": 7,
        "arousal": 3,
        "valence_confidence": 4,
        "arousal_confidence": 3,
        "confidence_points": 5,
        "context_tags": ["setting:home"],
        "context_note": "at home after work",
        "reported_at": timezone.now(),
        "source": SelfReport.Source.IMPORTED,
        **over,
    }
    for dim in ("valence", "arousal"):
        raw = fields.pop(dim)
        fields[f"{dim}_raw"] = raw
        fields[dim] = None if raw is None else raw if points is None else canonical(raw, points)
    return SelfReport.objects.create(
        study=clip.study,
        participant=participant,
        clip=clip,
        start_s=start_s,
        end_s=end_s,
        instrument=instrument,
        scale_points=points,
        **fields,
    )


def participant(study, code: str, **consent) -> Participant:
    """A filmed participant (the real service), with consent scopes set as given."""
    person = participant_get_or_create(study=study, code=code)
    if consent:
        Participant.objects.filter(pk=person.pk).update(**consent)
        person.refresh_from_db()
    return person


def rated_study(*, report: bool = True, self_reports: bool = True, **study_fields):
    """A study of N_CLIPS clips, each rated by its K = 3 annotators through the real queue; the last rating is
    turned into a cannot-judge; the agreement report computed when `report`. With `self_reports`, clips 0-1
    and 2-3 show two participants who consented to their self-reports being exported, with four self-reports:
    whole-clip SAM reports of clips 0 and 2, and two slider windows of clip 1."""
    study = StudyFactory(overlap_k=3, **study_fields)
    clips = ClipFactory.create_batch(N_CLIPS, study=study)
    if self_reports:
        people = [participant(study, f"S{i}", consent_self_reports_export=True) for i in range(2)]
        for i, clip in enumerate(clips[:4]):
            clip.participant = people[i // 2]
            clip.save(update_fields=["participant"])
        add_self_report(people[0], clips[0], context_tags=["setting:home", "social:alone"])
        add_self_report(people[0], clips[1], start_s=0.0, end_s=1.0, instrument="slider", valence=-0.3,
                        arousal=0.2, source=SelfReport.Source.PLATFORM)  # fmt: skip
        add_self_report(people[0], clips[1], start_s=1.0, end_s=3.0, instrument="slider", valence=0.6,
                        arousal=None, arousal_confidence=None, source=SelfReport.Source.PLATFORM)  # fmt: skip
        add_self_report(people[1], clips[2], valence=2, arousal=8, context_tags=[])
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
