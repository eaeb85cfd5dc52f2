"""The agreement report (labeling/reports/builder.py): known published values through the database, the same
numbers as labeling.agreement on arrays built independently from the ORM, the missing-data rules, scheme
versions and tags, results left out and why, and the compute_agreement command that prints it."""

import json
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from labeling import agreement as stats
from labeling import services
from labeling.models import Annotation, Clip, Participant
from labeling.reports import load_ratings
from labeling.scheme import DEFAULT_SPEC
from tests.factories import ClipFactory, MembershipFactory, StudyFactory
from tests.labeling.agreement.helpers import load_examples
from tests.labeling.report_helpers import rate_many, study_from_matrix

REFERENCE = {e["name"]: e for e in load_examples()}


def kripp_example():
    return np.array(REFERENCE["krippendorff2011_4coders_12units_interval"]["data"], dtype=float)


def compute(study, **kwargs):
    report = services.agreement_run_now(study=study, **kwargs)
    assert report.status == "done", report.error
    return report


# ---- published examples, end to end ----------------------------------------------------------------------


def test_krippendorff_2011_example_through_the_database(db):
    """The published 4 coders × 12 units example, rated on a 9-point SAM (values 1..5 map linearly to -1..0):
    α is invariant to that map, so the report shows the published α (interval .849, ordinal .815)."""
    study, _, _ = study_from_matrix((kripp_example() - 1) / 4 - 1)
    result = compute(study).result
    for dim in ("valence", "arousal"):
        d = result["dimensions"][dim]
        interval, ordinal = d["alpha_interval"], d["alpha_ordinal"]
        assert interval["estimate"] == pytest.approx(
            REFERENCE["krippendorff2011_4coders_12units_interval"]["exact"], abs=1e-9
        )
        assert ordinal["estimate"] == pytest.approx(
            REFERENCE["krippendorff2011_4coders_12units_ordinal"]["exact"], abs=1e-9
        )
        assert round(interval["estimate"], 3) == 0.849 and round(ordinal["estimate"], 3) == 0.815
        assert interval["n_units"] == 11  # unit 12 has a single rating: not pairable, not resampled
        assert interval["n_resamples"] == 1000 and interval["n_valid"] == 1000
        assert interval["low"] < interval["estimate"] <= interval["high"] <= 1.0
        assert d["accumulation"][-1]["n_annotations"] == 41
        assert d["accumulation"][-1]["alpha_interval"] == pytest.approx(interval["estimate"], abs=1e-12)
    assert result["n_annotations"] == 41 and result["n_clips"] == 12 and result["n_annotators"] == 4
    assert result["bootstrap"] == {"n_resamples": 1000, "confidence": 0.95, "seed": 0, "unit": "clip"}
    assert result["watermark"]["annotation_count"] == 41
    assert result["dimensions"]["valence"]["trace_ccc"] is None


def test_shrout_fleiss_example_icc_through_the_database(db):
    """Shrout & Fleiss (1979) 4 judges × 6 targets on a slider (linear map to -1..1 leaves every ICC as is)."""
    ref = REFERENCE["shrout_fleiss1979_6targets_4judges"]
    study = StudyFactory(overlap_k=4, scheme={**DEFAULT_SPEC, "instrument": "slider"})
    study_from_matrix((np.array(ref["data"]) - 5.5) / 4.5, study=study)
    icc = compute(study).result["dimensions"]["valence"]["icc"]
    assert icc["layout"] == "crossed" and icc["recommended"] == ["ICC(2,1)", "ICC(2,k)"]
    assert icc["n_units"] == 6 and icc["n_units_dropped"] == 0 and icc["n_raters"] == 4
    assert set(icc["forms"]) == set(ref["exact"])
    for name, value in ref["exact"].items():
        assert icc["forms"][name]["value"] == pytest.approx(value, abs=1e-9), name
        assert round(icc["forms"][name]["value"], 3) == pytest.approx(ref["expected"][name], abs=1e-3)


# ---- the same numbers as labeling.agreement, on arrays built from the ORM --------------------------------


def orm_arrays(study, dim):
    """Raters × clips (clips with any annotation, by id) built straight from the ORM, and the same for tags."""
    rows = list(Annotation.objects.filter(study=study).order_by("id").values())
    clip_ids = sorted({r["clip_id"] for r in rows})
    rater_ids = sorted({r["annotator_id"] for r in rows})
    values = np.full((len(rater_ids), len(clip_ids)), np.nan)
    tags = np.full((len(rater_ids), len(clip_ids)), None, dtype=object)
    for r in rows:
        i, j = rater_ids.index(r["annotator_id"]), clip_ids.index(r["clip_id"])
        if not r["cannot_judge"]:
            values[i, j] = r[dim]
            tags[i, j] = frozenset(r["context_tags"])
    return rows, clip_ids, rater_ids, values, tags


def test_report_numbers_equal_the_library_on_the_same_arrays(crowd_study):
    result = compute(crowd_study).result
    for dim in ("valence", "arousal"):
        d = result["dimensions"][dim]
        rows, clip_ids, rater_ids, values, tags = orm_arrays(crowd_study, dim)
        n = (~np.isnan(values)).sum(axis=0)
        pairable = values[:, n >= 2]
        for level in ("interval", "ordinal"):
            expected = stats.alpha_bootstrap(pairable, level, n_resamples=1000, seed=0).as_dict()
            got = d[f"alpha_{level}"]
            for key in ("estimate", "low", "high", "standard_error"):
                assert got[key] == pytest.approx(expected[key], abs=1e-12), (dim, level, key)
            assert (got["n_units"], got["n_valid"]) == (expected["n_units"], expected["n_valid"])

        expected_rel = stats.annotator_reliability(values, "interval")
        got_rel = {row["annotator"]: row for row in d["annotators"]}
        for row in expected_rel:
            got = got_rel[rater_ids[row.rater]]
            assert got["n_units"] == row.n_units
            assert got["r_loo"] == pytest.approx(row.r_loo, abs=1e-12)
            assert got["alpha_without"] == pytest.approx(row.alpha_without, abs=1e-12)

        # ICC: sparse crowd design -> k ratings per clip, first k in submission order
        icc = d["icc"]
        assert icc["layout"] == "slots" and icc["recommended"] == ["ICC(1,1)", "ICC(1,k)"]
        k = 3
        slots = {c: [] for c in clip_ids}
        for r in rows:
            if not r["cannot_judge"] and len(slots[r["clip_id"]]) < k:
                slots[r["clip_id"]].append(r[dim])
        matrix = np.array([s for s in slots.values() if len(s) == k]).T
        expected_icc = stats.icc(matrix)
        assert icc["n_units"] == expected_icc.n_units and icc["n_raters"] == k
        assert icc["n_units_dropped"] == int((n >= 2).sum()) - expected_icc.n_units
        for name, form in expected_icc.forms.items():
            assert icc["forms"][name]["value"] == pytest.approx(form.value, abs=1e-12)
            assert icc["forms"][name]["ci_low"] == pytest.approx(form.ci_low, abs=1e-12)

        clips = {c["clip"]: c for c in d["clips"]}
        assert set(clips) == {cid for cid, m in zip(clip_ids, n, strict=True) if m >= 1}
        for j, cid in enumerate(clip_ids):
            if n[j] >= 1:
                assert clips[cid]["n"] == n[j]
                assert clips[cid]["mean"] == pytest.approx(np.nanmean(values[:, j]), abs=1e-6)
                sd = clips[cid]["sd"]
                assert (
                    sd is None if n[j] < 2 else sd == pytest.approx(np.nanstd(values[:, j], ddof=1), abs=1e-6)
                )
        sds = [row["sd"] for row in d["low_agreement"]]
        assert sds == sorted(sds, reverse=True) and len(sds) == min(
            25, sum(1 for c in clips.values() if c["sd"])
        )

    judged = np.array([[c is not None for c in row] for row in tags])
    tag_units = tags[:, judged.sum(axis=0) >= 2]
    per_tag = stats.per_tag_alpha(tag_units, vocabulary=list(result["tags"]["per_tag"]))
    for tag, value in per_tag.items():
        got = result["tags"]["per_tag"][tag]
        assert (got["n_present"], got["n_ratings"]) == (value.n_present, value.n_ratings)
        if np.isnan(value.alpha):
            assert got["alpha"] is None, tag
        else:
            assert got["alpha"] == pytest.approx(value.alpha, abs=1e-12), tag
    assert any(v["alpha"] is not None for v in result["tags"]["per_tag"].values())
    assert result["tags"]["set_alpha"]["masi"] == pytest.approx(stats.set_alpha(tag_units, "masi"), abs=1e-12)
    assert result["tags"]["set_alpha"]["jaccard"] == pytest.approx(
        stats.set_alpha(tag_units, "jaccard"), abs=1e-12
    )
    assert result["n_cannot_judge"] == Annotation.objects.filter(study=crowd_study, cannot_judge=True).count()


def test_accumulation_has_about_twelve_points_in_submission_order(crowd_study):
    result = compute(crowd_study).result
    total = result["n_annotations"]
    acc = result["dimensions"]["valence"]["accumulation"]
    assert 10 <= len(acc) <= 12 and acc[-1]["n_annotations"] == total
    points = [p["n_annotations"] for p in acc]
    assert points == sorted(points)
    rows, clip_ids, rater_ids, _, _ = orm_arrays(crowd_study, "valence")
    for p in acc[::4]:
        partial = np.full((len(rater_ids), len(clip_ids)), np.nan)
        for r in rows[: p["n_annotations"]]:
            if not r["cannot_judge"]:
                partial[rater_ids.index(r["annotator_id"]), clip_ids.index(r["clip_id"])] = r["valence"]
        assert p["alpha_interval"] == pytest.approx(stats.krippendorff_alpha(partial, "interval"), abs=1e-12)


# ---- missing data, withdrawals, edge cases -------------------------------------------------------------


def test_cannot_judge_is_missing_but_counted(db):
    study = StudyFactory(overlap_k=3)
    users = [MembershipFactory(study=study).user for _ in range(3)]
    clips = ClipFactory.create_batch(3, study=study)
    rate_many(
        study,
        [
            (clips[0], users[0], 0.5, 0.5, ["setting:home"]),
            (clips[0], users[1], 0.25, 0.5, ["setting:home"]),
            (clips[0], users[2], None, None, []),
            (clips[1], users[0], -0.5, 0.0, []),
            (clips[1], users[1], None, None, []),
            (clips[2], users[0], None, None, []),
            (clips[2], users[2], 1.0, -1.0, ["social:alone"]),
        ],
    )
    result = compute(study).result
    assert result["n_annotations"] == 7 and result["n_cannot_judge"] == 3 and result["n_clips_rated"] == 3
    d = result["dimensions"]["valence"]
    assert {c["clip"]: c["n"] for c in d["clips"]} == {clips[0].pk: 2, clips[1].pk: 1, clips[2].pk: 1}
    assert d["n_pairable_clips"] == 1 and d["alpha_interval"]["n_units"] == 1
    assert result["tags"]["n_pairable_clips"] == 1  # a 'cannot judge' rating has no tags either


def test_withdrawn_participants_clips_leave_the_report(crowd_study):
    before = compute(crowd_study).result
    clip = Clip.objects.filter(study=crowd_study, n_submitted__gte=3).order_by("id").first()
    participant = Participant.objects.create(study=crowd_study, code="P01")
    Clip.objects.filter(pk=clip.pk).update(participant=participant)
    services.participant_withdraw(participant=participant)
    after = services.agreement_run_now(study=crowd_study).result
    gone = Annotation.objects.filter(clip=clip).count()
    assert after["n_annotations"] == before["n_annotations"] - gone
    assert after["watermark"]["annotation_count"] == before["watermark"]["annotation_count"] - gone
    assert after["n_clips"] == before["n_clips"] - 1
    for dim in ("valence", "arousal"):
        assert clip.pk not in {c["clip"] for c in after["dimensions"][dim]["clips"]}


def test_a_study_without_ratings_gives_an_empty_report(study, clips):
    result = compute(study).result
    assert result["n_annotations"] == 0 and result["n_clips"] == 5 and result["n_clips_rated"] == 0
    d = result["dimensions"]["valence"]
    assert d["alpha_interval"]["estimate"] is None and d["icc"]["forms"] == {}
    assert d["clips"] == [] and d["annotators"] == [] and d["accumulation"] == []
    assert result["tags"]["per_tag"] == {} and result["watermark"] == {
        "annotation_count": 0,
        "last_annotation_id": 0,
    }


def test_result_is_strict_json(crowd_study):
    result = compute(crowd_study).result
    json.dumps(result, allow_nan=False)  # raises on NaN or inf


# ---- the command ----------------------------------------------------------------------------------------


def run(*args):
    out = StringIO()
    call_command("compute_agreement", *args, stdout=out)
    return out.getvalue()


def test_command_prints_a_readable_report(db):
    study, users, _ = study_from_matrix((kripp_example() - 1) / 4 - 1)
    out = run(study.slug)
    assert f"Agreement — {study.title}" in out
    assert "interval 0.849 [" in out and "ordinal  0.815 [" in out
    assert "ICC(2,1)  ICC(A,1)" in out and "ICC (crossed)" in out
    assert "Lowest agreement" in out and users[0].username in out
    assert "VALENCE" in out and "AROUSAL" in out and "CONTEXT TAGS" in out
    assert study.agreement_reports.filter(status="done").count() == 1


def test_command_by_id_with_json(db):
    study, _, _ = study_from_matrix((kripp_example() - 1) / 4 - 1)
    data = json.loads(run(str(study.pk), "--json", "--resamples", "50"))
    assert data["dimensions"]["valence"]["alpha_interval"]["n_resamples"] == 50
    assert data["bootstrap"]["n_resamples"] == 50
    assert data["watermark"]["annotation_count"] == 41


def test_command_refuses_an_unknown_study(db):
    with pytest.raises(CommandError, match="No study"):
        run("no-such-study")


def test_command_reports_a_failed_run(study, clips, monkeypatch):
    def boom(*args, **kwargs):
        raise ValueError("numbers went wrong")

    monkeypatch.setattr("labeling.reports.build_result", boom)
    with pytest.raises(CommandError, match="failed: ValueError: numbers went wrong"):
        run(study.slug)
    report = study.agreement_reports.get()
    assert report.status == "failed" and report.finished_at <= timezone.now()


# ---- scheme versions (review 3) --------------------------------------------------------------------------


def light_scheme(study, version=2, **spec):
    from labeling.models import SchemeVersion

    groups = DEFAULT_SPEC["context_groups"] + [
        {"name": "light", "label": "Light", "tags": ["dark", "bright"]}
    ]
    SchemeVersion.objects.create(
        study=study, version=version, spec={**DEFAULT_SPEC, "context_groups": groups, **spec}
    )


def test_a_tag_a_version_did_not_offer_is_missing_not_absent(db):
    study = StudyFactory(overlap_k=2)
    users = [MembershipFactory(study=study).user for _ in range(2)]
    clips = ClipFactory.create_batch(16, study=study, target_k=2)
    rate_many(study, [(c, u, 0.0, 0.0, ["setting:home"]) for c in clips[:8] for u in users])
    light_scheme(study)
    pattern = [(1, 1), (1, 0), (0, 1), (1, 1), (0, 0), (1, 0), (0, 1), (1, 1)]  # v2 raters: little agreement
    rate_many(study, [(c, users[i], 0.0, 0.0, ["light:dark"] if xy[i] else []) for c, xy in zip(clips[8:], pattern, strict=True) for i in (0, 1)])  # fmt: skip
    tags = compute(study, n_resamples=20).result["tags"]
    v2_only = stats.krippendorff_alpha(np.array(pattern, float).T, "nominal")
    dark = tags["per_tag"]["light:dark"]
    assert dark["n_ratings"] == 16 and dark["scheme_versions"] == [2]
    assert dark["alpha"] == pytest.approx(v2_only, abs=1e-12)  # not lifted by v1's structural absences
    assert tags["per_tag"]["setting:home"]["n_ratings"] == 32
    assert tags["per_tag"]["setting:home"]["scheme_versions"] == [1, 2]
    scope = tags["set_alpha_scope"]
    assert scope["scheme_versions"] == [1, 2] and "common to all" in scope["tags"]
    assert scope["n_tags"] == sum(len(g["tags"]) for g in DEFAULT_SPEC["context_groups"])
    assert tags["set_alpha"] == {"masi": 1.0, "jaccard": 1.0}  # on the common tags the pairs agree


def test_mixed_instruments_are_listed_warned_about_and_split(db):
    study = StudyFactory(overlap_k=3)
    users = [MembershipFactory(study=study).user for _ in range(3)]
    clips = ClipFactory.create_batch(20, study=study, target_k=3)
    rng = np.random.default_rng(0)
    sam = rng.integers(1, 10, (10, 3))
    rate_many(study, [(c, u, -1 + (x - 1) / 4, 0.0, []) for c, row in zip(clips[:10], sam, strict=True) for u, x in zip(users, row, strict=True)])  # fmt: skip
    light_scheme(study, instrument="slider")
    slider = rng.uniform(-1, 1, (10, 3))
    rate_many(
        study,
        [
            (c, u, x, 0.0, [])
            for c, row in zip(clips[10:], slider, strict=True)
            for u, x in zip(users, row, strict=True)
        ],
    )
    result = compute(study, n_resamples=20).result
    assert result["scheme_versions"] == [
        {"version": 1, "instrument": "sam", "points": 9, "n_ratings": 30},
        {"version": 2, "instrument": "slider", "points": None, "n_ratings": 30},
    ]
    warning = result["notes"]["mixed_instruments"]
    assert "linearly to [-1, 1]" in warning and "ordinal α is not interpretable" in warning
    by_version = result["dimensions"]["valence"]["by_scheme_version"]
    expected = [
        stats.krippendorff_alpha((-1 + (sam.T - 1) / 4).astype(float)),
        stats.krippendorff_alpha(slider.T),
    ]
    assert [b["version"] for b in by_version] == [1, 2]
    assert [b["alpha_interval"] for b in by_version] == pytest.approx(expected, abs=1e-12)
    assert [(b["n_ratings"], b["n_pairable_clips"]) for b in by_version] == [(30, 10), (30, 10)]


def test_one_instrument_over_two_versions_is_split_without_a_warning(db):
    study, users, clips = study_from_matrix(np.array([[0.5, -0.5, 0.25], [0.25, -0.5, 0.5]]))
    light_scheme(study)
    rate_many(study, [(c, u, 0.0, 0.0, []) for c in ClipFactory.create_batch(2, study=study) for u in users])
    result = compute(study, n_resamples=20).result
    assert [v["version"] for v in result["scheme_versions"]] == [1, 2]
    assert "mixed_instruments" not in result["notes"]
    assert len(result["dimensions"]["arousal"]["by_scheme_version"]) == 2
    one = compute(study_from_matrix(np.eye(2))[0], n_resamples=20).result  # one version: no split
    assert len(one["scheme_versions"]) == 1 and "by_scheme_version" not in one["dimensions"]["valence"]


def test_icc_notes_name_the_confidence_interval_source(crowd_study):
    note = compute(crowd_study, n_resamples=20).result["notes"]["icc"]
    assert "McGraw & Wong" in note and "pingouin" in note and "irrNA::icc_corr" in note


# ---- results left out are explained (review 3) -----------------------------------------------------------


def test_above_the_cell_cap_the_annotator_table_says_why_and_the_design_is_still_crossed(db, monkeypatch):
    import labeling.reports.builder as report

    rng = np.random.default_rng(0)
    truth = rng.uniform(-1, 1, 40)
    study, _, _ = study_from_matrix(np.clip(truth + rng.normal(0, 0.3, (3, 40)), -1, 1))
    below = compute(study, n_resamples=20).result["dimensions"]["valence"]
    monkeypatch.setattr(report, "DENSE_CELLS_MAX", 100)
    above = compute(study, n_resamples=20).result["dimensions"]["valence"]
    assert len(below["annotators"]) == 3 and below["annotators_omitted"] is None
    assert above["annotators"] == [] and "120 cells" in above["annotators_omitted"]
    assert above["icc"]["layout"] == below["icc"]["layout"] == "crossed" and above["icc"] == below["icc"]


def test_sparse_crossed_block_matches_the_dense_rule(db):
    """The rater set chosen without the dense array is the one the dense rule (np.unique over presence bits,
    first of the most common) picks, on designs with ties."""
    from labeling.reports.layout import crossed_block

    rng = np.random.default_rng(3)
    for trial in range(6):
        data = np.where(rng.random((5, 12)) < 0.6, rng.uniform(-1, 1, (5, 12)), np.nan)
        study, _, _ = study_from_matrix(data)
        r = load_ratings(study=study)
        dense = np.full((r.rater_ids.size, r.clip_ids.size), np.nan)
        dense[r.rater, r.clip] = r.values["valence"]
        pairable = (~np.isnan(dense)).sum(axis=0) >= 2
        present = ~np.isnan(dense[:, pairable])
        uniq, counts = np.unique(np.packbits(present, axis=0).T, axis=0, return_counts=True)
        want = np.unpackbits(uniq[np.argmax(counts)])[: dense.shape[0]].astype(bool)
        members, block, full = crossed_block(r, "valence", pairable)
        assert (members == want).all(), trial
        np.testing.assert_array_equal(block, dense[want][:, pairable])
        assert full == present[want].all(axis=0).sum()
