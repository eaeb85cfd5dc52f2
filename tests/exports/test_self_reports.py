"""The experienced side of the export: the self_reports table, clip_labels' self-report columns beside the
observers' distribution, and the consent scopes (labels, self-reports, media) applied by the selectors, with
the figures checked against hand computations here (never the exporter's own functions)."""

from __future__ import annotations

import csv
import json

import pytest

from exports.facts import layout_from_manifest
from exports.services import export_build, export_start
from exports.tables import SPLIT_NAMES, schemas
from labeling.models import Clip, Participant, SelfReport
from labeling.services import participant_withdraw
from tests.conftest import ON_POSTGRES
from tests.exports.built import add_self_report, canonical, participant
from tests.exports.conftest import build, folder_of, manifest_of, read_table
from tests.factories import ClipFactory, MembershipFactory, StudyFactory, rate_next

# (valence, arousal) raw on the 9-point SAM, per clip, for the three annotators
RATINGS = [(7, 3), (5, 5), (9, 4)]


@pytest.fixture
def setup(db, exports_root):
    """Four participants, each filmed in two 3-second clips, and two clips without one; every clip rated by
    three annotators through the real queue with the RATINGS above (so each clip's observers' mean is known).
    - yes: consents to everything asked; self-reports: clip 0 whole-clip (SAM 8, 2) plus a window that must
      not count beside it, clip 1 two windows (slider);
    - no_self: does not consent to self-report export; one whole-clip report;
    - no_labels: does not consent to labels export (consents to self-reports); one whole-clip report;
    - withdrawn: consents, then withdraws; one report."""
    study = StudyFactory(overlap_k=3)
    people = {
        "yes": participant(study, "YES", consent_self_reports_export=True),
        "no_self": participant(study, "NOSELF", consent_self_reports_export=False),
        "no_labels": participant(
            study, "NOLAB", consent_self_reports_export=True, consent_labels_export=False
        ),
        "withdrawn": participant(study, "GONE", consent_self_reports_export=True),
    }
    clips = {key: [ClipFactory(study=study, participant=p) for _ in range(2)] for key, p in people.items()}
    alone = [ClipFactory(study=study) for _ in range(2)]
    members = MembershipFactory.create_batch(3, study=study)
    n_clips = 2 * len(people) + len(alone)
    for member, (v, a) in zip(members, RATINGS, strict=True):
        for _ in range(n_clips):
            rate_next(member, valence=v, arousal=a)
    reports = {
        "whole": add_self_report(
            people["yes"],
            clips["yes"][0],
            valence=8,
            arousal=2,
            context_tags=["social:alone", "setting:home"],
        ),  # fmt: skip
        "beside_whole": add_self_report(
            people["yes"],
            clips["yes"][0],
            start_s=0.0,
            end_s=1.5,
            instrument="slider",
            valence=-1.0,
            arousal=1.0,
        ),  # fmt: skip
        "first_window": add_self_report(
            people["yes"],
            clips["yes"][1],
            start_s=0.0,
            end_s=1.0,
            instrument="slider",
            valence=-0.3,
            arousal=0.2,
        ),  # fmt: skip
        "second_window": add_self_report(
            people["yes"],
            clips["yes"][1],
            start_s=1.0,
            end_s=3.0,
            instrument="slider",
            valence=0.6,
            arousal=None,
            arousal_confidence=None,
        ),  # fmt: skip
        "no_self": add_self_report(people["no_self"], clips["no_self"][0]),
        "no_labels": add_self_report(people["no_labels"], clips["no_labels"][0]),
        "withdrawn": add_self_report(people["withdrawn"], clips["withdrawn"][0]),
    }
    participant_withdraw(participant=people["withdrawn"])
    return {"study": study, "people": people, "clips": clips, "alone": alone, "reports": reports}


def observers_mean(dim: int) -> float:
    return sum(canonical(r[dim]) for r in RATINGS) / len(RATINGS)


def test_the_self_reports_table_holds_only_exportable_reports_of_exported_clips(setup):
    export = build(setup["study"])
    rows = read_table(export, "self_reports").to_pylist()
    r = setup["reports"]
    mine = [r["whole"], r["beside_whole"], r["first_window"], r["second_window"]]
    assert sorted(row["self_report_id"] for row in rows) == sorted(x.pk for x in mine)
    # no self-report row of the participant who did not consent to their export, nor of the others
    for key in ("no_self", "no_labels", "withdrawn"):
        assert r[key].pk not in {row["self_report_id"] for row in rows}, key

    clips = {c["clip_id"]: c for c in read_table(export, "clips").to_pylist()}
    by_id = {row["self_report_id"]: row for row in rows}
    whole = by_id[r["whole"].pk]
    assert whole["clip_id"] == r["whole"].clip_id
    assert whole["participant_id"] == clips[whole["clip_id"]]["participant_id"]
    assert whole["participant_id"].startswith("p") and len(whole["participant_id"]) == 17
    assert "YES" not in json.dumps(rows, default=str)  # the code never leaves: salted ids only
    assert whole["split"] == clips[whole["clip_id"]]["split"]
    assert (whole["start_s"], whole["end_s"]) == (None, None)
    assert (whole["instrument"], whole["scale_points"], whole["source"]) == ("sam", 9, "imported")
    assert (whole["valence_raw"], whole["arousal_raw"]) == (8, 2)
    assert whole["valence"] == pytest.approx(0.75) and whole["arousal"] == pytest.approx(-0.75)
    assert (whole["valence_confidence"], whole["arousal_confidence"], whole["confidence_points"]) == (4, 3, 5)
    assert whole["context_tags"] == ["setting:home", "social:alone"]  # sorted, as in ratings
    assert whole["context_note"] is None  # free text only when asked
    window = by_id[r["second_window"].pk]
    assert (window["start_s"], window["end_s"], window["instrument"], window["scale_points"]) == (
        1.0, 3.0, "slider", None,
    )  # fmt: skip
    assert window["valence"] == pytest.approx(0.6) and window["arousal"] is None
    # rows in (clip_id, self_report_id) order within each split file
    for split in SPLIT_NAMES:
        part = [row for row in rows if row["split"] == split]
        assert part == sorted(part, key=lambda x: (x["clip_id"], x["self_report_id"]))


def test_clip_labels_carry_the_self_value_and_gap_beside_the_observers(setup):
    export = build(setup["study"])
    labels = {row["clip_id"]: row for row in read_table(export, "clip_labels").to_pylist()}
    clips = setup["clips"]
    mean_v, mean_a = observers_mean(0), observers_mean(1)

    whole = labels[clips["yes"][0].pk]
    # a whole-clip report wins over the clip's windows: SAM 8 -> 0.75, 2 -> -0.75
    assert whole["self_valence"] == pytest.approx(0.75) and whole["self_arousal"] == pytest.approx(-0.75)
    assert whole["self_reports_used"] == 1
    assert whole["gap_valence"] == pytest.approx(0.75 - mean_v)
    assert whole["gap_arousal"] == pytest.approx(-0.75 - mean_a)

    windows = labels[clips["yes"][1].pk]
    # windows 0-1 s and 1-3 s weigh 1/3 and 2/3; arousal only in the first window
    assert windows["self_valence"] == pytest.approx(-0.3 / 3 + 0.6 * 2 / 3)
    assert windows["self_arousal"] == pytest.approx(0.2)
    assert windows["self_reports_used"] == 2
    assert windows["gap_valence"] == pytest.approx(-0.3 / 3 + 0.6 * 2 / 3 - mean_v)
    assert windows["gap_arousal"] == pytest.approx(0.2 - mean_a)

    # the observers' distribution is untouched by the self-reports
    assert whole["valence_mean"] == pytest.approx(mean_v) and whole["n_ratings"] == 3
    assert [x["valence"] for x in whole["ratings"]] == pytest.approx([canonical(v) for v, _ in RATINGS])

    # no exportable self-report: null self columns, 0 used (not consented, or none given)
    for clip in (*clips["no_self"], *setup["alone"]):
        row = labels[clip.pk]
        assert row["self_valence"] is None and row["self_arousal"] is None, clip.pk
        assert row["gap_valence"] is None and row["gap_arousal"] is None and row["self_reports_used"] == 0


def test_a_participant_without_labels_export_consent_contributes_nothing(setup):
    export = build(setup["study"], formats=["csv", "jsonl"])
    theirs = {c.pk for c in setup["clips"]["no_labels"]}
    for table in ("ratings", "clip_labels", "self_reports", "clips"):
        ids = {row["clip_id"] for row in read_table(export, table).to_pylist()}
        assert ids and not ids & theirs, table
    # their participant id is nowhere either: the clips table holds the participants of the export
    folder = folder_of(export)
    for split in SPLIT_NAMES:
        with (folder / f"data/clips/{split}.csv").open(newline="", encoding="utf-8") as fh:
            assert not {int(r["clip_id"]) for r in csv.DictReader(fh)} & theirs


def test_the_manifest_counts_what_each_consent_scope_left_out(setup):
    export = build(setup["study"])
    manifest = manifest_of(export)
    scopes = manifest["consent_scopes"]
    assert scopes["labels_export"] == {
        "selector": "labeling.selectors.annotations_for_export",
        "participants_left_out": 1,
        "clips_left_out": 2,
        "ratings_left_out": 6,
    }
    assert scopes["self_reports_export"] == {
        "selector": "labeling.selectors.self_reports_for_export",
        "participants_left_out": 1,  # no_self (the withdrawn one does not count for analysis at all)
        "self_reports_left_out": 1,
        "self_reports_of_clips_not_exported": 1,  # no_labels' report: its clip is in no table
    }
    assert scopes["media_sharing"]["requested"] is False
    assert manifest["tables"]["self_reports"]["rows"] == 4 == export.row_counts["self_reports"]
    # the highest id among the self-reports that count (the withdrawn participant's does not)
    assert manifest["watermark"]["last_self_report_id"] == setup["reports"]["no_labels"].pk
    text = json.dumps(manifest)
    for code in ("YES", "NOSELF", "NOLAB", "GONE"):
        assert code not in text  # counts, never who

    card = " ".join((folder_of(export) / "README.md").read_text(encoding="utf-8").split())
    assert (
        "1 participants did not consent to their labels leaving the platform, so their 2 clips and 6 " in card
    )
    assert (
        "1 participants did not consent to their self-reports being exported (1 self-reports left out" in card
    )
    assert "whole-clip self-reports, else the window-length-weighted mean" in card
    assert "self - observers' mean (positive: the person reported more" in card
    assert "neither is the ground truth" in card
    assert (
        "slider: continuous): sam: 1, slider: 3. By source: imported: 4. 1 rate the whole clip, 3 a time"
        in card
    )
    # the report was not computed: its perceived-vs-experienced figures are said to be absent
    assert "no perceived-vs-experienced figures" in card


def test_media_are_left_out_by_the_sharing_scope_and_counted(setup, media_root):
    for clip in Clip.objects.filter(study=setup["study"]):
        path = media_root / clip.file.name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f"video {clip.pk}".encode())
    Participant.objects.filter(pk=setup["people"]["yes"].pk).update(consent_media_sharing=True)
    export = build(setup["study"], include_media=True)
    media = manifest_of(export)["consent_scopes"]["media_sharing"]
    # in the export: yes (shares), no_self (does not), and the two clips without a participant
    assert media == {
        "requested": True,
        "participants_left_out": 1,
        "clips_left_out": 2,
        "clips_without_participant": 2,
    }
    assert manifest_of(export)["media_included"] == 2


def test_self_reports_given_after_the_request_are_not_exported(setup):
    study = setup["study"]
    export = export_start(study=study, parameters={}, enqueue=False)
    late = add_self_report(setup["people"]["yes"], setup["clips"]["yes"][1], instrument="grid", valence=1,
                           arousal=9)  # fmt: skip
    export = export_build(export_id=export.pk)
    assert export.status == "done", export.error
    assert export.watermark_self_report_id == setup["reports"]["no_labels"].pk < late.pk
    rows = read_table(export, "self_reports").to_pylist()
    assert late.pk not in {row["self_report_id"] for row in rows} and len(rows) == 4
    labels = {row["clip_id"]: row for row in read_table(export, "clip_labels").to_pylist()}
    assert labels[late.clip_id]["self_reports_used"] == 2  # the two windows, not the late whole-clip report
    # the next export has it: a whole-clip report now wins over the windows
    later = build(study)
    labels = {row["clip_id"]: row for row in read_table(later, "clip_labels").to_pylist()}
    assert labels[late.clip_id]["self_valence"] == pytest.approx(-1.0)
    assert labels[late.clip_id]["self_reports_used"] == 1


def test_free_text_notes_only_when_asked_and_the_copies_hold_the_same_rows(setup):
    export = build(setup["study"], include_free_text=True, formats=["csv", "jsonl"])
    folder = folder_of(export)
    parquet = {row["self_report_id"]: row for row in read_table(export, "self_reports").to_pylist()}
    assert {row["context_note"] for row in parquet.values()} == {"at home after work"}
    schema = schemas(layout_from_manifest(manifest_of(export)["layout"]))["self_reports"]
    seen_csv, seen_jsonl = {}, {}
    for split in SPLIT_NAMES:
        with (folder / f"data/self_reports/{split}.csv").open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            assert reader.fieldnames == schema.names
            for row in reader:
                seen_csv[int(row["self_report_id"])] = row
        for line in (folder / f"data/self_reports/{split}.jsonl").read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            seen_jsonl[row["self_report_id"]] = row
    assert set(seen_csv) == set(seen_jsonl) == set(parquet)
    for pk, row in parquet.items():
        assert seen_csv[pk]["context_tags"] == "|".join(row["context_tags"])
        cell = seen_csv[pk]["start_s"]
        assert (cell == "") if row["start_s"] is None else (float(cell) == row["start_s"])
        assert seen_jsonl[pk]["context_tags"] == row["context_tags"]
        assert seen_jsonl[pk]["valence"] == pytest.approx(row["valence"])
        assert seen_jsonl[pk]["arousal"] == (
            None if row["arousal"] is None else pytest.approx(row["arousal"])
        )
        assert seen_jsonl[pk]["reported_at"] == row["reported_at"].isoformat()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_on_postgresql_a_worker_build_reads_the_self_reports_by_copy_too(setup):
    """In a worker's own snapshot every read is a COPY: the self-reports' (with a line break in a note) give
    the same table as the rows stored, and a COPY without rows is an empty read, not a failure."""
    assert ON_POSTGRES
    SelfReport.objects.filter(pk=setup["reports"]["whole"].pk).update(context_note='first line\nsecond, "q"')
    export = build(setup["study"], include_free_text=True)
    rows = {row["self_report_id"]: row for row in read_table(export, "self_reports").to_pylist()}
    assert rows[setup["reports"]["whole"].pk]["context_note"] == 'first line\nsecond, "q"'
    assert len(rows) == 4
    labels = {row["clip_id"]: row for row in read_table(export, "clip_labels").to_pylist()}
    assert labels[setup["clips"]["yes"][1].pk]["self_valence"] == pytest.approx(-0.3 / 3 + 0.6 * 2 / 3)
    empty = StudyFactory()
    ClipFactory(study=empty)
    assert build(empty).row_counts["self_reports"] == 0
