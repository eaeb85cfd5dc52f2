"""The dataset card (exports/card.py), checked on real builds: Hugging Face `datasets` loads the declared
configs offline with exactly the declared features and splits, the loading snippet runs, the datasheet says
what the labels are (and are not) with the study's own figures, and researcher-written text cannot break
the YAML header."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from exports.facts import num
from exports.tables import SPLIT_NAMES, schemas
from labeling.models import AgreementReport
from labeling.scheme import DEFAULT_SPEC, PROMPTS
from tests.exports.built import build, hf_datasets, offline_env, rated_study
from tests.factories import ClipFactory, MembershipFactory, rate_next

HEADER = re.compile(r"\A---\n(.*?)\n---\n", re.S)  # the front matter, as huggingface_hub finds it


def header_of(folder) -> dict:
    text = (folder / "README.md").read_text(encoding="utf-8")
    match = HEADER.match(text)
    assert match, "README.md must start with a YAML header between --- lines"
    return yaml.safe_load(match.group(1))


def parquet(folder, table: str, split: str) -> pa.Table:
    return pq.read_table(folder / "data" / table / f"{split}.parquet")


def expected_features(datasets, folder, table: str):
    """The features `datasets` itself derives from the table's Arrow schema (exports/tables.py), with the
    split column as a class label: what the card must declare."""
    manifest = json.loads((folder / "manifest.json").read_text())
    from exports.facts import layout_from_manifest

    schema = schemas(layout_from_manifest(manifest["layout"]))[table]
    features = datasets.Features.from_arrow_schema(schema)
    if "split" in features:
        features["split"] = datasets.ClassLabel(names=list(SPLIT_NAMES))
    return features


@pytest.fixture
def reported_study(db, exports_root):
    return rated_study()


@pytest.fixture
def built(reported_study):
    export, folder = build(reported_study)
    return export, folder, json.loads((folder / "manifest.json").read_text())


@pytest.mark.parametrize("config", ["clip_labels", "ratings", "self_reports"])
def test_datasets_loads_each_config_offline_with_the_declared_features_and_splits(
    built, config, monkeypatch, tmp_path
):
    datasets = hf_datasets(monkeypatch)
    _, folder, manifest = built
    loaded = datasets.load_dataset(str(folder), config, cache_dir=str(tmp_path / "cache"))

    splits = {s: n for s, n in manifest["tables"][config]["splits"].items() if n}
    assert set(loaded) == set(splits) and splits  # the splits with rows (which ones depends on the clip ids)
    want = expected_features(datasets, folder, config)
    for split, n in splits.items():
        ds = loaded[split]
        assert ds.features == want, f"{config}/{split}: {ds.features} != {want}"
        assert ds.num_rows == n
        # the string split column of the file is cast to the class label
        assert {ds.features["split"].int2str(v) for v in ds["split"]} == {split}
        key = {"clip_labels": "clip_id", "ratings": "rating_id", "self_reports": "self_report_id"}[config]
        assert list(ds[key]) == parquet(folder, config, split).column(key).to_pylist()
    if config == "clip_labels":
        grid = manifest["layout"]["grid"]
        assert want["hist2d"].length == grid[0] * grid[1]  # the histogram as a fixed-length sequence
        assert set(want["ratings"].feature) == {
            "rating_id", "annotator_id", "valence", "arousal", "valence_confidence", "arousal_confidence",
            "cannot_judge",
        }  # fmt: skip


def test_the_cards_snippet_runs_against_the_export(built, tmp_path):
    """The copy-paste snippet, executed as written in the export's folder, offline."""
    _, folder, manifest = built
    text = (folder / "README.md").read_text(encoding="utf-8")
    section = text.split("## Load it", 1)[1]
    code = re.search(r"^```python\n(.*?)^```$", section, re.S | re.M).group(1)
    run = subprocess.run(
        [sys.executable, "-c", code],
        cwd=folder,
        env=offline_env(tmp_path / "hf"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    judged_train = [
        h for h in parquet(folder, "clip_labels", "train").column("hist2d").to_pylist() if h is not None
    ]
    grid = manifest["layout"]["grid"]
    assert (
        f"{len(judged_train)} clips, soft targets ({len(judged_train)}, {grid[0]}, {grid[1]})" in run.stdout
    )
    assert "task" in run.stdout and "worker" in run.stdout and "label" in run.stdout
    # perceived beside experienced: the clips of the split with both a self value and an observers' mean
    split = next(s for s in SPLIT_NAMES if manifest["tables"]["clip_labels"]["splits"][s])
    rows = parquet(folder, "clip_labels", split).to_pylist()
    paired = [r for r in rows if r["self_valence"] is not None and r["valence_mean"] is not None]
    gaps = [r["self_valence"] - r["valence_mean"] for r in paired]
    said = f"{sum(gaps) / len(gaps):+.3f}" if gaps else "none"
    assert (
        f"{len(paired)} clips with a self-report, mean valence gap (self - observers): {said}" in run.stdout
    )
    reports = [r for s in SPLIT_NAMES for r in parquet(folder, "self_reports", s).to_pylist()]
    assert len(reports) == 4 and ("whole clip self" in run.stdout or " s self " in run.stdout)


def test_the_datasheet_says_what_the_labels_are_with_the_studys_figures(built):
    export, folder, manifest = built
    study = export.study
    text = (folder / "README.md").read_text(encoding="utf-8")
    flat = " ".join(text.split())

    for section in (
        "## Motivation", "## Composition", "## Collection process", "## Preprocessing, cleaning and labelling",
        "## Uses", "## Distribution", "## Maintenance", "## Load it",
    ):  # fmt: skip
        assert f"\n{section}\n" in text, section
    # what the labels are, and the EU prohibition
    assert "perceived affect in context, under uncertainty" in flat and "not detected emotions" in flat
    assert "Art. 5(1)(f)" in flat and "2 February 2025" in flat and "medical or safety reasons" in flat
    assert "workplace and education" in flat
    # instructions and consent exactly as annotators saw them, and the scales' wording and mapping
    assert f"```markdown\n{study.instructions}\n```" in text
    assert f"```markdown\n{study.consent_text}\n```" in text
    for prompt in PROMPTS.values():
        assert prompt["question"] in text and f"“{prompt['low']}” (raw 1, canonical -1)" in text
    assert "1 → -1, 2 → -0.75" in text and "9 → 1" in text  # the 9-point SAM mapped onto [-1, 1]
    shown = re.search(r"^```json\n(.*?)^```$", text.split("**Scheme version 1**")[1], re.S | re.M).group(1)
    assert json.loads(shown) == DEFAULT_SPEC  # the scheme as stored, tags in the order annotators saw them
    # the layout: grid edges and 1-D bins
    assert "valence edges: -1, -0.6, -0.2, 0.2, 0.6, 1" in text
    assert "valence bins: -1, -0.75, -0.5, -0.25, 0, 0.25, 0.5, 0.75, 1" in text
    # annotators per clip: K and the distribution, counted here from the files
    per_clip = Counter(
        n for s in SPLIT_NAMES for n in parquet(folder, "clip_labels", s).column("n_annotators").to_pylist()
    )
    dist = ", ".join(f"{n}: {c}" for n, c in sorted(per_clip.items()))
    assert (
        f"K = {study.overlap_k} distinct annotators per clip" in flat
        and f"(annotators: clips): {dist}." in flat
    )
    # the agreement report's figures, and that it is fresh
    report = AgreementReport.objects.get(pk=manifest["agreement_report"]["id"])
    for dim in ("valence", "arousal"):
        alpha = report.result["dimensions"][dim]["alpha_interval"]
        row = f"| {dim} | Krippendorff's α (interval) | {alpha['estimate']:.3f} | [{alpha['low']:.3f}, {alpha['high']:.3f}] |"
        assert row in text
        for name in report.result["dimensions"][dim]["icc"]["recommended"]:
            assert f"| {dim} | {name} (" in text
    assert manifest["agreement_report"]["fresh"] and "It is **fresh**" in text
    # splits, withdrawal, ids, licence, counts
    clips = manifest["splits"]["clips"]
    assert "Clips per split: " + ", ".join(f"{s} {clips[s]}" for s in SPLIT_NAMES) in flat
    assert "salted per export" in flat and "`other`" in flat and "data agreement" in flat
    assert f"Withdrawals applied through {manifest['withdrawals']['applied_through']}: 0 participants" in flat
    assert f"{manifest['tables']['ratings']['rows']} ratings" in flat
    # no one named: usernames are nowhere in the card or croissant.json
    names = [m.user.username for m in study.memberships.select_related("user")]
    for path in ("README.md", "croissant.json"):
        body = (folder / path).read_text(encoding="utf-8")
        assert not [n for n in names if re.search(rf"\b{re.escape(n)}\b", body)], path


def test_a_stale_agreement_report_is_called_so_and_a_missing_one_is_said(reported_study, exports_root):
    ClipFactory(study=reported_study)
    rate_next(MembershipFactory(study=reported_study), context_tags=[])  # a label the report has not seen
    _, folder = build(reported_study)
    text = " ".join((folder / "README.md").read_text().split())
    assert "It is **not fresh**" in text and "read its figures as an approximation" in text

    AgreementReport.objects.filter(study=reported_study).delete()
    _, folder = build(reported_study)
    text = " ".join((folder / "README.md").read_text().split())
    assert "No finished agreement report existed" in text and "Krippendorff's α (interval)" not in text


HOSTILE_TITLE = (
    "Pilot\n---\nconfigs: []\n# evil: yes \"quoted\" 'single' \u2028--- `x` <script>alert(1)</script> é"
)
HOSTILE_TEXT = (
    "Rate it.\n---\nlicense: mit\n---\n````\n```\n~~~\n</details><script>alert(1)</script>\n"
    "---\ndataset_info: []\n"
)


def test_researcher_text_cannot_break_the_header_or_the_structure(db, exports_root, monkeypatch, tmp_path):
    spec = {
        **DEFAULT_SPEC,
        "context_groups": [
            {"name": "setting", "label": "Set ```` ting\n---", "tags": ["home", "a``` b", "---"]}
        ],
    }
    study = rated_study(
        title=HOSTILE_TITLE, instructions=HOSTILE_TEXT, consent_text=HOSTILE_TEXT, scheme=spec
    )
    export, folder = build(study)
    head = header_of(folder)
    assert set(head) == {
        "pretty_name", "license", "license_name", "task_categories", "tags", "size_categories", "configs",
        "dataset_info",
    }  # fmt: skip
    assert head["pretty_name"] == " ".join(HOSTILE_TITLE.split())
    assert [c["config_name"] for c in head["configs"]] == [
        "clip_labels", "ratings", "self_reports", "clips", "annotators",
    ]  # fmt: skip
    text = (folder / "README.md").read_text(encoding="utf-8")
    assert text.count("\n---\n", 0, text.index("\n# ")) == 1  # only the header's closing line before the body
    # the instructions and consent are in the card verbatim, each inside one fence longer than their backticks
    assert text.count(f"`````markdown\n{HOSTILE_TEXT.rstrip()}\n`````") == 2
    body = HEADER.sub("", text).replace(HOSTILE_TEXT.rstrip(), "")
    assert "<script>" not in body  # outside the fences, the title's markup is escaped
    assert "# Pilot --- configs: \\[\\] \\# evil: yes" in text  # the title escaped on one line
    # huggingface_hub reads the same header, and datasets still loads
    from huggingface_hub import DatasetCard

    assert DatasetCard.load(folder / "README.md").data.to_dict()["configs"] == head["configs"]
    datasets = hf_datasets(monkeypatch)
    loaded = datasets.load_dataset(str(folder), "ratings", cache_dir=str(tmp_path / "cache"))
    assert sum(ds.num_rows for ds in loaded.values()) == export.row_counts["ratings"]


def test_empty_splits_are_left_out_of_the_header_and_named(
    reported_study, exports_root, monkeypatch, tmp_path
):
    """datasets 5.x cannot load a config in which a declared split has no rows (huggingface/datasets#8401):
    the card declares the splits that hold rows; the empty files stay in the folder."""
    _, folder = build(reported_study, splits={"train": 1.0, "validation": 0.0, "test": 0.0})
    head = header_of(folder)
    for config in head["configs"]:
        if config["config_name"] != "annotators":
            assert [f["split"] for f in config["data_files"]] == ["train"], config
    assert (folder / "data/ratings/test.parquet").is_file()
    text = " ".join((folder / "README.md").read_text().split())
    assert "Empty splits" in text and "ratings/validation, ratings/test" in text
    datasets = hf_datasets(monkeypatch)
    loaded = datasets.load_dataset(str(folder), "clip_labels", cache_dir=str(tmp_path / "cache"))
    assert set(loaded) == {"train"} and loaded["train"].num_rows == 12


def test_the_card_and_croissant_say_what_the_researcher_opted_into(reported_study, exports_root):
    _, folder = build(reported_study)
    text = " ".join((folder / "README.md").read_text().split())
    assert "salted per export" in text and "Free-text notes and cannot-judge reasons are left out" in text
    _, folder = build(reported_study, include_free_text=True, stable_salt=True)
    text = " ".join((folder / "README.md").read_text().split())
    croissant = json.loads((folder / "croissant.json").read_text())
    for said in (text, croissant["rai:personalSensitiveInformation"][0]):
        assert "salted with one salt kept for the study's series of releases" in said
        assert "Free-text notes and cannot-judge reasons are included in this export" in said


def test_mixed_scheme_versions_each_with_their_scale_and_grid_bins(
    reported_study, exports_root, monkeypatch, tmp_path
):
    """A slider version after the 9-point SAM: both listed with their mappings; the 1-D histograms fall back
    to the grid's bins, and the declared lengths follow."""
    from labeling.services.studies import study_scheme_update

    study_scheme_update(study=reported_study, spec={**DEFAULT_SPEC, "instrument": "slider"})
    ClipFactory.create_batch(2, study=reported_study)
    for member in MembershipFactory.create_batch(3, study=reported_study):
        for _ in range(2):
            rate_next(member, valence=0.3, arousal=-0.55, context_tags=[])
    _, folder = build(reported_study, grid=[4, 3])
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["layout"]["bins_from"] == "grid"
    text = (folder / "README.md").read_text(encoding="utf-8")
    assert "**Scheme version 1** (36 ratings in this export): instrument `sam`" in text
    assert "**Scheme version 2** (6 ratings in this export): instrument `slider`" in text
    assert "valence bins: -0.75, -0.25, 0.25, 0.75" in text and "arousal bins: -0.666667, 0, 0.666667" in text
    features = {f["name"]: f for f in header_of(folder)["dataset_info"][0]["features"]}
    assert features["valence_hist"] == {"name": "valence_hist", "list": "float64", "length": 4}
    assert features["hist2d"]["length"] == 12
    datasets = hf_datasets(monkeypatch)
    loaded = datasets.load_dataset(str(folder), "clip_labels", cache_dir=str(tmp_path / "cache"))
    assert sum(ds.num_rows for ds in loaded.values()) == 14


def _with_perceived_section(study, section):
    report = AgreementReport.objects.filter(study=study, status=AgreementReport.Status.DONE).latest("id")
    AgreementReport.objects.filter(pk=report.pk).update(
        result={**report.result, "perceived_vs_experienced": section}
    )


PERCEIVED = {
    "n_self_reports": 4,
    "n_clips": 3,
    "n_participants": 2,
    "watermark": {"self_report_count": 4, "last_self_report_id": 4},
    "dimensions": {
        dim: {
            "n_clips": 3,
            "n_participants": 2,
            "pearson_r": {"estimate": 0.5, "low": -0.25, "high": 0.75},
            "ccc": {"estimate": 0.375, "low": -0.125, "high": 0.625},
            "mean_gap": {"estimate": 0.125, "low": -0.0625, "high": 0.25},
            "share_outside_range": 0.333333,
        }
        for dim in ("valence", "arousal")
    },
    "clips": [{"clip": 1, "participant": "S0-CODE-MUST-NOT-LEAK", "valence": {"self": 0.5}}],
}


def test_the_card_shows_the_reports_perceived_vs_experienced_figures_and_says_when_there_are_none(
    reported_study, exports_root
):
    # the real report's section (rated_study computes the report after its self-reports were stored)
    report = AgreementReport.objects.filter(study=reported_study, status=AgreementReport.Status.DONE).latest(
        "id"
    )
    real = report.result["perceived_vs_experienced"]["dimensions"]["valence"]
    _, folder = build(reported_study)
    text = (folder / "README.md").read_text(encoding="utf-8")
    flat = " ".join(text.split())
    r, gap = real["pearson_r"], real["mean_gap"]
    assert (
        f"| valence | {real['n_clips']} | {num(r['estimate'])} [{num(r['low'])}, {num(r['high'])}] |" in text
    )
    assert f"| {num(gap['estimate'])} [{num(gap['low'])}, {num(gap['high'])}] |" in text
    assert "two perspectives are kept apart" in flat.lower() and "neither is the ground truth" in flat
    assert "else the window-length-weighted mean" in flat and "gap_valence" in flat
    assert "computed from the self-reports up to the same id as this export's" in flat

    # a report without the section (computed before it existed): the card says so
    result = dict(report.result)
    result.pop("perceived_vs_experienced")
    AgreementReport.objects.filter(pk=report.pk).update(result=result)
    _, folder = build(reported_study)
    flat = " ".join((folder / "README.md").read_text(encoding="utf-8").split())
    assert "no perceived-vs-experienced figures (it was not computed" in flat

    _with_perceived_section(reported_study, PERCEIVED)
    _, folder = build(reported_study)
    text = (folder / "README.md").read_text(encoding="utf-8")
    flat = " ".join(text.split())
    assert (
        "| valence | 3 | 0.500 [-0.250, 0.750] | 0.375 [-0.125, 0.625] | 0.125 [-0.062, 0.250] | 0.333 |"
        in text
    )
    assert "self-reports up to id 4, 4 self-reports" in flat
    assert "S0-CODE-MUST-NOT-LEAK" not in text  # the report's per-clip rows (participant codes) never copied

    # a malformed section is read as absent, never a failed build
    _with_perceived_section(reported_study, {"dimensions": "oops"})
    _, folder = build(reported_study)
    assert "no perceived-vs-experienced figures" in (folder / "README.md").read_text(encoding="utf-8")


def test_the_reports_figures_are_withheld_when_a_consent_scope_left_someone_out(reported_study, exports_root):
    from labeling.models import Participant

    _with_perceived_section(reported_study, PERCEIVED)
    Participant.objects.filter(study=reported_study, code="S1").update(consent_self_reports_export=False)
    _, folder = build(reported_study)
    text = (folder / "README.md").read_text(encoding="utf-8")
    flat = " ".join(text.split())
    assert "perceived-vs-experienced figures are not shown" in flat and "| valence | 3 | 0.500" not in text
    assert "1 participants did not consent to their self-reports being exported" in flat
