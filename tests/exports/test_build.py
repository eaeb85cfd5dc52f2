"""The export's tables, checked against independent recomputation from the `ratings` table (plain Python
here, never the exporter's functions), and the invariants the dataset promises."""

import json
import math
from collections import defaultdict

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from exports.tables import SPLIT_NAMES, csv_columns, schemas
from exports.tables import Layout as _Layout
from labeling.models import Clip, Participant
from labeling.scheme import validate_spec
from labeling.services import agreement_run_now, participant_withdraw, study_scheme_update
from tests.exports.conftest import (
    SECRET_TEXTS,
    add_ratings,
    build,
    content_hash,
    folder_of,
    manifest_of,
    read_table,
)
from tests.factories import ClipFactory, MembershipFactory, StudyFactory, rate_next

TOL = 1e-6


def by_clip(ratings: pa.Table) -> dict[int, list[dict]]:
    out = defaultdict(list)
    for row in ratings.to_pylist():
        out[row["clip_id"]].append(row)
    return out


def grid_index(x: float, edges: list[float]) -> int:
    """Bin i holds edges[i] <= x < edges[i+1]; the last also holds its upper edge."""
    for i in range(len(edges) - 1):
        if edges[i] <= x < edges[i + 1]:
            return i
    assert x == edges[-1]
    return len(edges) - 2


def nearest(x: float, centres: list[float]) -> int:
    return min(range(len(centres)), key=lambda i: (abs(centres[i] - x), i))


def expected_row(rows: list[dict], layout: dict) -> dict:
    """One clip's clip_labels values, from its ratings, by the definitions in exports/tables.py."""
    judged = [r for r in rows if not r["cannot_judge"]]
    n, k = len(rows), len(judged)
    out = {"n_ratings": n, "n_cannot_judge": n - k, "n_annotators": len({r["annotator_id"] for r in rows})}
    v = [r["valence"] for r in judged]
    a = [r["arousal"] for r in judged]
    out["valence_mean"] = sum(v) / k if k else None
    out["arousal_mean"] = sum(a) / k if k else None
    if k >= 2:
        mv, ma = out["valence_mean"], out["arousal_mean"]
        cvv = sum((x - mv) ** 2 for x in v) / (k - 1)
        caa = sum((y - ma) ** 2 for y in a) / (k - 1)
        cva = sum((x - mv) * (y - ma) for x, y in zip(v, a, strict=True)) / (k - 1)
        out.update(valence_sd=math.sqrt(cvv), arousal_sd=math.sqrt(caa), covariance=[cvv, cva, cva, caa])
    else:
        out.update(valence_sd=None, arousal_sd=None, covariance=None)
    gv, ga = layout["grid"]
    edges = layout["grid_edges"]
    if k:
        cells = [0] * (gv * ga)
        for x, y in zip(v, a, strict=True):
            cells[grid_index(x, edges["valence"]) * ga + grid_index(y, edges["arousal"])] += 1
        out["hist2d_counts"] = cells
        out["hist2d"] = [c / k for c in cells]
        out["hist2d_entropy"] = -sum(p * math.log2(p) for p in out["hist2d"] if p > 0)
        for dim, values in (("valence", v), ("arousal", a)):
            centres = layout[f"{dim}_bins"]
            counts = [0] * len(centres)
            for x in values:
                if layout["bins_from"] == "points":
                    counts[nearest(x, centres)] += 1
                else:
                    counts[grid_index(x, edges[dim])] += 1
            out[f"{dim}_hist_counts"] = counts
            out[f"{dim}_hist"] = [c / k for c in counts]
    else:
        for key in ("hist2d_counts", "hist2d", "hist2d_entropy", "valence_hist_counts", "valence_hist"):
            out[key] = None
        out["arousal_hist_counts"] = out["arousal_hist"] = None
    out["tag_counts"] = [sum(tag in r["context_tags"] for r in rows) for tag in layout["tags"]]
    out["tag_proportions"] = [c / n for c in out["tag_counts"]]
    for dim in ("valence", "arousal"):
        given = [
            (r[f"{dim}_confidence"] - 1) / (r["confidence_points"] - 1)
            for r in rows
            if r[f"{dim}_confidence"] is not None
        ]
        out[f"{dim}_confidence_mean"] = sum(given) / len(given) if given else None
    out["ratings"] = [
        {
            "rating_id": r["rating_id"],
            "annotator_id": r["annotator_id"],
            "valence": r["valence"],
            "arousal": r["arousal"],
            "valence_confidence": r["valence_confidence"],
            "arousal_confidence": r["arousal_confidence"],
            "cannot_judge": r["cannot_judge"],
        }
        for r in sorted(rows, key=lambda r: r["rating_id"])
    ]
    return out


def assert_close(got, want, where):
    if want is None:
        assert got is None, where
    elif isinstance(want, list):
        assert got is not None and len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_close(g, w, f"{where}[{i}]")
    elif isinstance(want, dict):
        for key, w in want.items():
            assert_close(got[key], w, f"{where}.{key}")
    elif isinstance(want, float):
        assert got is not None and abs(got - want) <= TOL, (where, got, want)
    else:
        assert got == want, (where, got, want)


def check_labels_against_ratings(export) -> None:
    layout = manifest_of(export)["layout"]
    ratings = by_clip(read_table(export, "ratings"))
    labels = read_table(export, "clip_labels").to_pylist()
    assert sorted(r["clip_id"] for r in labels) == sorted(ratings)
    for row in labels:
        assert_close(row, expected_row(ratings[row["clip_id"]], layout), f"clip {row['clip_id']}")


@pytest.mark.parametrize("grid", [[5, 5], [4, 3]])
def test_clip_labels_match_an_independent_recomputation(rated, grid):
    export = build(rated, grid=grid)
    check_labels_against_ratings(export)
    labels = read_table(export, "clip_labels").to_pylist()
    assert any(r["valence_sd"] is None and r["n_ratings"] - r["n_cannot_judge"] == 1 for r in labels) or any(
        r["n_ratings"] == 1 for r in labels
    ), "the data should hold a clip with a single judged rating"
    assert any(r["n_cannot_judge"] for r in labels)


def test_a_slider_study_bins_on_the_grid(db, exports_root):
    study = StudyFactory(overlap_k=3, scheme=validate_spec({"instrument": "slider", "ask_confidence": False}))
    ClipFactory.create_batch(4, study=study)
    members = MembershipFactory.create_batch(3, study=study)
    for i, m in enumerate(members):
        for j in range(4):
            rate_next(m, valence=round(-1 + 0.37 * (i + j), 3), arousal=0.6 if j == 1 else -0.93 + 0.4 * i)
    export = build(study, grid=[5, 4])
    layout = manifest_of(export)["layout"]
    assert (
        layout["bins_from"] == "grid"
        and len(layout["valence_bins"]) == 5
        and len(layout["arousal_bins"]) == 4
    )
    check_labels_against_ratings(export)
    for row in read_table(export, "clip_labels").to_pylist():  # the 1-D histograms are hist2d's margins
        counts = np.array(row["hist2d_counts"]).reshape(5, 4)
        assert row["valence_hist_counts"] == counts.sum(1).tolist()
        assert row["arousal_hist_counts"] == counts.sum(0).tolist()
        assert row["valence_confidence_mean"] is None


def test_histograms_covariances_and_keys_hold_their_invariants(rated):
    export = build(rated)
    labels = read_table(export, "clip_labels").to_pylist()
    for row in labels:
        judged = row["n_ratings"] - row["n_cannot_judge"]
        for name in ("hist2d", "valence_hist", "arousal_hist"):
            if judged == 0:
                assert row[name] is None and row[f"{name}_counts"] is None
                continue
            assert abs(sum(row[name]) - 1) <= 1e-9
            assert sum(row[f"{name}_counts"]) == judged
        if row["covariance"] is not None:
            cov = np.array(row["covariance"]).reshape(2, 2)
            assert np.allclose(cov, cov.T) and np.linalg.eigvalsh(cov).min() >= -1e-12
    for name in ("ratings", "clip_labels", "clips", "annotators"):
        table = read_table(export, name)
        for column in table.column_names:
            values = table.column(column)
            if pa.types.is_floating(values.type):  # missing is null, never NaN
                assert not pc.any(pc.is_nan(values)).as_py(), (name, column)
        keys = {"ratings": ["rating_id", "clip_id", "annotator_id"], "annotators": ["annotator_id"]}
        for key in keys.get(name, ["clip_id"]):
            assert table.column(key).null_count == 0, (name, key)
    ratings = read_table(export, "ratings")
    for column in ("valence", "arousal"):  # on [-1, 1] or null: no sentinel codes
        values = [v for v in ratings.column(column).to_pylist() if v is not None]
        assert values and all(-1 <= v <= 1 for v in values)
    cannot = ratings.filter(ratings.column("cannot_judge"))
    assert cannot.num_rows and cannot.column("valence").null_count == cannot.num_rows
    ids = ratings.column("rating_id").to_pylist()
    assert len(ids) == len(set(ids))
    clips = set(read_table(export, "clips").column("clip_id").to_pylist())
    assert set(ratings.column("clip_id").to_pylist()) == clips
    assert set(read_table(export, "clip_labels").column("clip_id").to_pylist()) == clips
    annotators = read_table(export, "annotators")
    assert set(ratings.column("annotator_id").to_pylist()) == set(
        annotators.column("annotator_id").to_pylist()
    )
    assert sum(annotators.column("n_ratings").to_pylist()) == ratings.num_rows
    assert sorted(annotators.column("joined_via").to_pylist()) == ["account", "crowd", "invite", "invite"]


def test_rows_follow_the_contract_order_and_schema(rated):
    export = build(rated, formats=["csv", "jsonl"])
    folder = folder_of(export)
    layout = manifest_of(export)["layout"]
    expected = schemas(
        _Layout(
            grid=tuple(layout["grid"]),
            valence_bins=tuple(layout["valence_bins"]),
            arousal_bins=tuple(layout["arousal_bins"]),
            bins_from=layout["bins_from"],
            tags=tuple(layout["tags"]),
        )
    )
    for name, schema in expected.items():
        for split in ("full",) if name == "annotators" else SPLIT_NAMES:
            table = pq.read_table(folder / f"data/{name}/{split}.parquet")
            assert table.schema.equals(schema), (name, split)
            key = {"ratings": ["clip_id", "rating_id"], "annotators": ["annotator_id"]}.get(name, ["clip_id"])
            rows = [tuple(r[k] for k in key) for r in table.select(key).to_pylist()]
            assert rows == sorted(rows)
            with (folder / f"data/{name}/{split}.csv").open() as f:
                assert f.readline().strip().replace('"', "").split(",") == csv_columns(schema)
                assert sum(1 for _ in f) >= table.num_rows  # a quoted note may span lines
            lines = (folder / f"data/{name}/{split}.jsonl").read_text().splitlines()
            assert [json.loads(line)[key[-1]] for line in lines] == table.column(key[-1]).to_pylist()
            meta = pq.ParquetFile(folder / f"data/{name}/{split}.parquet").metadata
            if meta.num_row_groups:
                assert meta.row_group(0).column(0).compression == "ZSTD"


def test_splits_keep_participants_whole_and_are_stable_across_versions(rated):
    first = build(rated, splits={"train": 0.5, "validation": 0.25, "test": 0.25}, split_seed=3)
    clips = read_table(first, "clips").to_pylist()
    assert len({c["split"] for c in clips}) > 1
    by_person = defaultdict(set)
    for c in clips:
        by_person[c["participant_id"] or c["split_group"]].add(c["split"])
        assert c["split_group"] == (c["participant_id"] or f"clip:{c['clip_id']}")
    assert all(len(s) == 1 for s in by_person.values())
    split_of = {c["clip_id"]: c["split"] for c in clips}
    for table in ("ratings", "clip_labels"):
        assert all(r["split"] == split_of[r["clip_id"]] for r in read_table(first, table).to_pylist())
    counts = manifest_of(first)["splits"]
    assert sum(counts["clips"].values()) == len(clips) and sum(counts["participants"].values()) == 3

    # more clips, participants and ratings, then a second version with the same parameters
    more = [ClipFactory(study=rated, participant=rated.people[0]) for _ in range(2)]
    more += ClipFactory.create_batch(3, study=rated)
    newcomer = MembershipFactory(study=rated)
    add_ratings(rated, [newcomer, *rated.members[2:]], [8, 2, 3], seed=11)
    second = build(rated, splits={"train": 0.5, "validation": 0.25, "test": 0.25}, split_seed=3)
    again = {c["clip_id"]: c["split"] for c in read_table(second, "clips").to_pylist()}
    assert len(again) > len(split_of)
    assert all(again[clip] == split for clip, split in split_of.items())  # a clip once in test stays there
    person0 = {again[c.pk] for c in Clip.objects.filter(participant=rated.people[0]) if c.pk in again}
    assert len(person0) == 1
    assert manifest_of(second)["export"]["supersedes"] == {"id": first.pk, "version": first.version}


def test_no_personal_data_or_free_text_unless_opted_in(rated):
    usernames = {m.user.username for m in rated.members}
    emails = {m.user.email for m in rated.members}
    forbidden = (
        usernames
        | emails
        | {"CROWD-STUDY-XYZ", SECRET_TEXTS["ua"], SECRET_TEXTS["note"], SECRET_TEXTS["reason"]}
    )
    forbidden |= {p.code for p in rated.people}

    def strings(export) -> set[str]:
        out = set()
        for name in ("ratings", "clip_labels", "clips", "annotators"):
            for row in read_table(export, name).to_pylist():
                out |= {json.dumps(v, default=str) if not isinstance(v, str) else v for v in row.values()}
        return out

    plain = build(rated, formats=["csv", "jsonl"])
    assert not any(bad in text for text in strings(plain) for bad in forbidden)
    files = "".join(
        p.read_text(errors="replace")
        for p in folder_of(plain).rglob("*")
        if p.suffix in {".csv", ".jsonl", ".json"}
    )
    assert not any(bad in files for bad in forbidden - {SECRET_TEXTS["note"]})
    assert SECRET_TEXTS["note"] not in files and json.dumps(SECRET_TEXTS["note"])[1:-1] not in files
    assert manifest_of(plain)["free_text_included"] is False

    opted = build(rated, include_free_text=True)
    ratings = read_table(opted, "ratings")
    assert SECRET_TEXTS["note"] in ratings.column("context_note").to_pylist()  # exact, line break and all
    assert SECRET_TEXTS["reason"] in ratings.column("cannot_judge_reason").to_pylist()
    assert "" not in ratings.column("context_note").to_pylist()  # no note is null, not ""
    assert not any(
        bad in text for text in strings(opted) for bad in usernames | emails | {SECRET_TEXTS["ua"]}
    )


def test_ids_are_salted_per_export_unless_a_stable_salt_is_asked(rated):
    one, two = build(rated), build(rated)
    ids = [set(read_table(e, "annotators").column("annotator_id").to_pylist()) for e in (one, two)]
    assert ids[0].isdisjoint(ids[1])
    assert all(len(i) == 17 and i[0] == "a" and int(i[1:], 16) >= 0 for i in ids[0])
    people = [
        set(filter(None, read_table(e, "clips").column("participant_id").to_pylist())) for e in (one, two)
    ]
    assert people[0].isdisjoint(people[1]) and all(p[0] == "p" and len(p) == 17 for p in people[0])
    stable = [build(rated, stable_salt=True) for _ in range(2)]
    same = [set(read_table(e, "annotators").column("annotator_id").to_pylist()) for e in stable]
    assert same[0] == same[1] and same[0].isdisjoint(ids[0])
    assert "salt" not in json.dumps(manifest_of(stable[0])["parameters"]).replace("stable_salt", "")


def test_a_rebuild_from_the_same_watermark_and_parameters_has_the_same_content(rated):
    first = build(rated, stable_salt=True, grid=[3, 3])
    add_ratings(rated, rated.members[2:], [1, 1], seed=5)  # newer labels: above the next export's watermark?
    from exports.models import Export
    from exports.services import export_build, export_start

    second = export_start(study=rated, parameters={"stable_salt": True, "grid": [3, 3]}, enqueue=False)
    Export.objects.filter(pk=second.pk).update(watermark_last_id=first.watermark_last_id)
    second = export_build(export_id=second.pk)
    for name, key in (
        ("ratings", "rating_id"),
        ("clip_labels", "clip_id"),
        ("clips", "clip_id"),
        ("annotators", "annotator_id"),
    ):
        assert content_hash(read_table(first, name), key) == content_hash(read_table(second, name), key), name


def test_report_figures_come_from_the_latest_agreement_report(rated):
    report = agreement_run_now(study=rated, n_resamples=20)
    assert report.status == "done"
    export = build(rated)
    sd = {row["clip"]: row["sd"] for row in report.result["dimensions"]["valence"]["clips"]}
    for row in read_table(export, "clip_labels").to_pylist():
        want = sd.get(row["clip_id"])
        assert (
            (row["report_valence_sd"] is None)
            if want is None
            else abs(row["report_valence_sd"] - want) < 1e-9
        )
    annotators = report.result["dimensions"]["arousal"]["annotators"]
    exported = read_table(export, "annotators").to_pylist()
    if annotators:
        r_loo = sorted(a["r_loo"] for a in annotators if a["r_loo"] is not None)
        assert sorted(
            a["arousal_r_loo"] for a in exported if a["arousal_r_loo"] is not None
        ) == pytest.approx(r_loo)
    manifest = manifest_of(export)
    assert manifest["agreement_report"]["id"] == report.pk and manifest["agreement_report"]["fresh"] is True


def test_without_a_report_the_figures_are_null(rated):
    export = build(rated)
    labels = read_table(export, "clip_labels")
    assert labels.column("report_valence_sd").null_count == labels.num_rows
    assert read_table(export, "annotators").column("valence_r_loo").null_count == len(rated.members)
    assert manifest_of(export)["agreement_report"] is None


def test_a_withdrawn_participant_is_absent_and_the_rest_recomputed(rated):
    before = build(rated)
    gone = rated.people[1]
    gone_clips = set(Clip.objects.filter(participant=gone).values_list("pk", flat=True))
    assert gone_clips & set(read_table(before, "clips").column("clip_id").to_pylist())
    participant_withdraw(participant=gone)
    after = build(rated)
    for name in ("ratings", "clip_labels", "clips"):
        assert not gone_clips & set(read_table(after, name).column("clip_id").to_pylist()), name
    check_labels_against_ratings(after)
    assert manifest_of(after)["withdrawals"]["participants_withdrawn"] == 1
    n_after = read_table(after, "ratings").num_rows
    assert sum(read_table(after, "annotators").column("n_ratings").to_pylist()) == n_after
    assert n_after < read_table(before, "ratings").num_rows
    assert Participant.objects.get(pk=gone.pk).withdrawn_at is not None


def test_media_are_copied_only_with_consent_and_only_when_asked(rated, media_root):
    for clip in Clip.objects.filter(study=rated):
        path = media_root / clip.file.name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f"video {clip.pk}".encode())
    # Without the participants' consent to sharing their media (the default), nothing is shared, even when asked.
    export = build(rated, include_media=True)
    assert manifest_of(export)["media_included"] == 0 and not (folder_of(export) / "media").exists()
    assert read_table(export, "clips").column("media_file").null_count == read_table(export, "clips").num_rows
    consenting = rated.people[0]
    Participant.objects.filter(pk=consenting.pk).update(consent_media_sharing=True)
    assert build(rated)  # not asked: nothing copied
    shared = build(rated, include_media=True)
    clips = read_table(shared, "clips").to_pylist()
    theirs = set(Clip.objects.filter(participant=consenting).values_list("pk", flat=True))
    for c in clips:
        if c["clip_id"] in theirs:
            assert c["media_file"] == f"media/{c['clip_id']}.mp4"
            assert (folder_of(shared) / c["media_file"]).read_bytes() == f"video {c['clip_id']}".encode()
        else:
            assert c["media_file"] is None
    assert manifest_of(shared)["media_included"] == len(theirs & {c["clip_id"] for c in clips}) > 0


def test_a_study_without_labels_exports_empty_tables(study, exports_root):
    export = build(study, formats=["csv"])
    assert export.row_counts == {
        "ratings": 0,
        "clip_labels": 0,
        "self_reports": 0,
        "clips": 0,
        "annotators": 0,
    }
    for name in ("ratings", "clip_labels", "self_reports", "clips", "annotators"):
        assert read_table(export, name).num_rows == 0
    manifest = manifest_of(export)
    assert manifest["splits"]["clips"] == {"train": 0, "validation": 0, "test": 0}
    assert len(manifest["files"]) == 2 * 13 + 2  # 13 parquet + 13 csv, the card and croissant.json


def test_scheme_versions_mix_instruments_and_extend_the_vocabulary(rated):
    first_tags = manifest_of(build(rated))["layout"]["tags"]
    spec = validate_spec(
        {
            "instrument": "slider",
            "ask_confidence": True,
            "confidence_points": 3,
            "context_groups": [
                {"name": "setting", "tags": ["home", "garden"]},
                {"name": "light", "tags": ["dark", "bright"]},
            ],
        }
    )
    assert study_scheme_update(study=rated, spec=spec).version == 2
    newcomer = MembershipFactory(study=rated)
    for x in (-0.55, 0.2, 0.999, -1.0):
        rate_next(
            newcomer,
            valence=x,
            arousal=-x,
            valence_confidence=3,
            arousal_confidence=1,
            context_tags=["light:dark", "setting:garden"],
        )
    export = build(rated, grid=[4, 4])
    manifest = manifest_of(export)
    layout = manifest["layout"]
    assert layout["bins_from"] == "grid"
    assert layout["tags"] == [*first_tags, "setting:garden", "light:dark", "light:bright"]
    assert [(v["version"], v["n_ratings"]) for v in manifest["scheme_versions"]] == [(1, 26), (2, 4)]
    ratings = read_table(export, "ratings").to_pylist()
    slider = [r for r in ratings if r["scheme_version"] == 2]
    assert {
        (r["instrument"], r["scale_points"], r["scale_min"], r["scale_max"], r["confidence_points"])
        for r in slider
    } == {("slider", None, -1.0, 1.0, 3)}
    assert {
        (r["instrument"], r["scale_points"], r["scale_min"], r["scale_max"])
        for r in ratings
        if r["scheme_version"] == 1
    } == {("sam", 9, 1.0, 9.0)}
    check_labels_against_ratings(export)


def test_a_report_finished_after_the_request_is_not_used(rated):
    from exports.services import export_build, export_start

    export = export_start(study=rated, parameters={}, enqueue=False)
    assert agreement_run_now(study=rated, n_resamples=10).status == "done"
    export = export_build(export_id=export.pk)  # as a retry after the report would: the same content
    assert manifest_of(export)["agreement_report"] is None
    assert (
        read_table(export, "clip_labels").column("report_valence_sd").null_count
        == export.row_counts["clip_labels"]
    )
