"""The report's perceived_vs_experienced section, made through the real task path (beat's due-check queues
the run; the compute task runs it), against figures computed by hand in the test."""

import math

import pytest
from django.utils import timezone

from labeling import reports, selectors, services
from labeling.models import AgreementReport, Participant
from labeling.tasks import compute_agreement
from tests.factories import ClipFactory, MembershipFactory, StudyFactory
from tests.labeling.perceived_helpers import participant, self_report
from tests.labeling.report_helpers import rate_many


@pytest.fixture
def paired(db):
    """Five clips of three participants rated by three observers, with self-reports:

    clip 0 (P1): observers .5, 0, .25 | self .75 (whole clip)
    clip 1 (P1): observers -.5, -.25  | self windows 0–1 s at -.5, 1–3 s at -.25: (−.5·1 − .25·2)/3 = −1/3
    clip 2 (P2): observers .75        | self .5 (whole) and a window at −1, not used (a whole-clip report wins)
    clip 3 (P3): observers 0, .5, 1   | self −.5 (withdrawn later in one test)
    clip 4 (P2): observers .25, .5    | no self-report
    Arousal: every observer rating −.25, every self-report arousal 0.25 except clip 0's (None).
    """
    study = StudyFactory(overlap_k=3)
    users = [MembershipFactory(study=study).user for _ in range(3)]
    people = [participant(study, code) for code in ("P1", "P2", "P3")]
    owners = [0, 0, 1, 2, 1]
    clips = [ClipFactory(study=study, participant=people[o]) for o in owners]
    ratings = {0: [0.5, 0.0, 0.25], 1: [-0.5, -0.25], 2: [0.75], 3: [0.0, 0.5, 1.0], 4: [0.25, 0.5]}
    rate_many(
        study, [(clips[c], users[i], v, -0.25, []) for c, vs in ratings.items() for i, v in enumerate(vs)]
    )
    self_report(clips[0], people[0], 0.75, None)
    self_report(clips[1], people[0], -0.5, 0.25, window=(0.0, 1.0))
    self_report(clips[1], people[0], -0.25, 0.25, window=(1.0, 3.0))
    self_report(clips[2], people[1], 0.5, 0.25)
    self_report(clips[2], people[1], -1.0, 0.25, window=(0.0, 1.5))
    self_report(clips[3], people[2], -0.5, 0.25)
    researcher = MembershipFactory(study=study, role="researcher").user
    return {"study": study, "clips": clips, "people": people, "researcher": researcher}


def run_through_the_task(study, sent) -> AgreementReport:
    """Beat notices the study; the compute task (run here, eagerly) makes the report."""
    started = services.agreement_schedule_due()
    assert [r.study_id for r in started] == [study.pk]
    assert compute_agreement.apply(args=[started[0].pk]).get() == "done"
    return AgreementReport.objects.get(pk=started[0].pk)


def test_the_section_per_clip_and_per_study_matches_a_hand_computation(paired, sent):
    study, clips = paired["study"], paired["clips"]
    report = run_through_the_task(study, sent)
    section = report.result["perceived_vs_experienced"]
    assert (section["n_self_reports"], section["n_clips"], section["n_participants"]) == (6, 4, 3)
    assert section["watermark"] == selectors.self_report_watermark(study=study)
    assert (report.watermark_self_report_count, report.watermark_last_self_report_id) == (
        6,
        section["watermark"]["last_self_report_id"],
    )
    assert section["bootstrap"]["unit"] == "participant"

    rows = {row["clip"]: row for row in section["clips"]}
    assert list(rows) == [c.pk for c in clips[:4]]  # clips with a self-report; clip 4 has none
    assert [rows[c.pk]["participant"] for c in clips[:4]] == ["P1", "P1", "P2", "P3"]
    v = {c: rows[clips[c].pk]["valence"] for c in range(4)}
    # observers
    assert (v[0]["n"], v[0]["mean"], v[0]["sd"], v[0]["min"], v[0]["max"]) == (3, 0.25, 0.25, 0.0, 0.5)
    assert (v[2]["n"], v[2]["mean"], v[2]["sd"]) == (1, 0.75, None)
    # self values: whole clip; windows weighted by length; a whole-clip report wins over a window
    assert v[0]["self"] == 0.75 and v[0]["reports_used"] == 1
    assert v[1]["self"] == pytest.approx(-1 / 3, abs=1e-6) and v[1]["reports_used"] == 2
    assert v[2]["self"] == 0.5 and v[2]["reports_used"] == 1 and rows[clips[2].pk]["n_self_reports"] == 2
    # gaps: self − observers' mean
    assert v[0]["gap"] == 0.5 and v[1]["gap"] == pytest.approx(-1 / 3 + 0.375, abs=1e-6)
    assert v[2]["gap"] == -0.25 and v[3]["gap"] == -1.0
    # outside [min, max] and mean ± sd: only with 2+ observer ratings
    assert [v[c]["outside_range"] for c in range(4)] == [True, False, None, True]
    # clip 1: −1/3 lies in [−.5, −.25], and |−1/3 + .375| = .0417 < sd .1768
    assert [v[c]["outside_sd"] for c in range(4)] == [True, False, None, True]

    x = [0.25, -0.375, 0.75, 0.5]
    y = [0.75, -1 / 3, 0.5, -0.5]
    mx, my = sum(x) / 4, sum(y) / 4
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y, strict=True))
    sxx, syy = sum((a - mx) ** 2 for a in x), sum((b - my) ** 2 for b in y)
    gaps = [b - a for a, b in zip(x, y, strict=True)]
    fig = section["dimensions"]["valence"]
    assert (fig["n_clips"], fig["n_participants"], fig["n_clusters"]) == (4, 3, 3)
    assert fig["pearson_r"]["estimate"] == pytest.approx(sxy / math.sqrt(sxx * syy))
    assert fig["ccc"]["estimate"] == pytest.approx(2 * sxy / 4 / (sxx / 4 + syy / 4 + (mx - my) ** 2))
    assert fig["mean_gap"]["estimate"] == pytest.approx(sum(gaps) / 4)
    assert fig["mean_abs_gap"] == pytest.approx(sum(map(abs, gaps)) / 4)
    assert (fig["n_spread_clips"], fig["n_outside_range"], fig["share_outside_range"]) == (
        3,
        2,
        pytest.approx(2 / 3),
    )
    assert (fig["n_outside_sd"], fig["share_outside_sd"]) == (2, pytest.approx(2 / 3))
    for name in ("pearson_r", "ccc", "mean_gap"):
        ci = fig[name]
        assert ci["n_units"] == 3 and ci["n_resamples"] == 1000 and ci["low"] <= ci["estimate"] <= ci["high"]

    # arousal: clip 0's report left it out, so three clips; every self-report .25 − observers −.25 = .5
    a = section["dimensions"]["arousal"]
    assert a["n_clips"] == 3 and a["mean_gap"]["estimate"] == pytest.approx(0.5)
    assert a["pearson_r"]["estimate"] is None and "do not vary" in a["reasons"]["pearson_r"]
    assert rows[clips[0].pk]["arousal"]["self"] is None and rows[clips[0].pk]["arousal"]["gap"] is None
    assert "perceived_vs_experienced" in report.result["notes"]


def test_the_section_reads_only_the_self_reports_that_count(paired, sent):
    study, clips, people = paired["study"], paired["clips"], paired["people"]
    services.participant_withdraw(participant=people[2], by=paired["researcher"], note="asked to leave")
    report = run_through_the_task(study, sent)
    section = report.result["perceived_vs_experienced"]
    assert clips[3].pk not in {row["clip"] for row in section["clips"]}
    assert section["n_self_reports"] == selectors.self_reports_for_analysis(study=study).count() == 5
    assert section["dimensions"]["valence"]["n_clips"] == 3


def test_a_study_without_self_reports_has_an_empty_section(db, sent):
    study = StudyFactory(overlap_k=2)
    clip = ClipFactory(study=study)
    users = [MembershipFactory(study=study).user for _ in range(2)]
    rate_many(study, [(clip, u, 0.5, 0.5, []) for u in users])
    section = run_through_the_task(study, sent).result["perceived_vs_experienced"]
    assert (section["n_self_reports"], section["n_clips"], section["clips"]) == (0, 0, [])
    assert section["dimensions"]["valence"]["pearson_r"]["estimate"] is None
    assert section["watermark"] == {"self_report_count": 0, "last_self_report_id": 0}


def test_the_loader_reads_the_selector_rows(paired):
    study, people = paired["study"], paired["people"]
    Participant.objects.filter(pk=people[1].pk).update(withdrawn_at=timezone.now())
    loaded = reports.load_self_reports(study=study)
    counted = selectors.self_reports_for_analysis(study=study)
    assert sorted(loaded.ids.tolist()) == sorted(counted.values_list("id", flat=True))
    assert loaded.watermark == selectors.self_report_watermark(study=study)
