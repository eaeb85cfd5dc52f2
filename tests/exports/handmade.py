"""A small export folder written by hand from the table schemas (exports/tables.py) and the manifest contract,
so the card and croissant.json can be tested without the builder: real annotations are submitted through the
services (for a real agreement report), and the tables are written here from them with plain Python."""

from __future__ import annotations

import hashlib
import math
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from exports.models import Export
from exports.params import parse_parameters
from exports.tables import AGGREGATION, SPLIT_NAMES, Layout, schemas
from labeling.models import Annotation, SchemeVersion
from labeling.services.agreement import agreement_run_now
from tests.factories import ClipFactory, MembershipFactory, StudyFactory, rate_next

SPLIT_OF_CLIP = ["train", "train", "train", "test", "validation", "train"]


def _bin(value: float, edges: list[float]) -> int:
    n = len(edges) - 1
    return min(int((value + 1) / 2 * n), n - 1)


def _nearest(value: float, bins: tuple[float, ...]) -> int:
    return min(range(len(bins)), key=lambda i: (abs(bins[i] - value), i))


def make_study(*, title: str = "Pilot study", instructions: str | None = None, report: bool = True):
    """A study with 6 clips rated by 3 annotators through the services (one cannot-judge), and its agreement
    report when `report`."""
    kwargs = {"title": title, "overlap_k": 3}
    if instructions is not None:
        kwargs["instructions"] = instructions
    study = StudyFactory(**kwargs)
    ClipFactory.create_batch(len(SPLIT_OF_CLIP), study=study)
    members = [MembershipFactory(study=study) for _ in range(3)]
    values = iter([(v, a) for v in (2, 5, 8, 9, 1, 6) for a in (3, 7, 4)])
    for _ in SPLIT_OF_CLIP:
        for member in members:
            v, a = next(values)
            rate_next(member, valence=v, arousal=a)
    last = Annotation.objects.filter(study=study).order_by("-id").first()
    Annotation.objects.filter(pk=last.pk).update(
        cannot_judge=True, valence=None, arousal=None, valence_raw=None, arousal_raw=None
    )
    if report:
        agreement_run_now(study=study, n_resamples=20)
    return study


def write_folder(folder: Path, study, *, parameters: dict | None = None) -> tuple[Export, dict]:
    """Write data/<table>/<split>.parquet for `study` and return (export row, manifest without README and
    croissant entries), as the builder hands them to write_card / write_croissant."""
    params = parse_parameters(parameters or {})
    spec = SchemeVersion.objects.get(study=study, version=1).spec
    points = spec["points"]
    bins = tuple(-1 + 2 * i / (points - 1) for i in range(points))
    tags = tuple(f"{g['name']}:{t}" for g in spec["context_groups"] for t in g["tags"])
    layout = Layout(
        grid=tuple(params["grid"]), valence_bins=bins, arousal_bins=bins, bins_from="points", tags=tags
    )
    edges = layout.grid_edges()
    anns = list(Annotation.objects.filter(study=study).order_by("clip_id", "id"))
    clips = sorted({a.clip for a in anns}, key=lambda c: c.pk)
    split = {c.pk: SPLIT_OF_CLIP[i % len(SPLIT_OF_CLIP)] for i, c in enumerate(clips)}
    salted = {
        uid: hashlib.sha256(f"salt:{uid}".encode()).hexdigest()[:16] for uid in {a.annotator_id for a in anns}
    }
    report = study.agreement_reports.filter(status="done").order_by("-finished_at").first()
    sd = {}
    if report:
        for dim in ("valence", "arousal"):
            for c in report.result["dimensions"][dim]["clips"]:
                sd[(dim, c["clip"])] = c["sd"]

    ratings = [
        {
            "rating_id": a.pk,
            "clip_id": a.clip_id,
            "annotator_id": salted[a.annotator_id],
            "scheme_version": 1,
            "valence": a.valence,
            "arousal": a.arousal,
            "cannot_judge": a.cannot_judge,
            "cannot_judge_reason": None,
            "valence_raw": a.valence_raw,
            "arousal_raw": a.arousal_raw,
            "instrument": spec["instrument"],
            "scale_points": points,
            "scale_min": 1.0,
            "scale_max": float(points),
            "valence_confidence": a.valence_confidence,
            "arousal_confidence": a.arousal_confidence,
            "confidence_points": spec["confidence_points"],
            "context_tags": sorted(a.context_tags),
            "context_note": None,
            "time_on_task_ms": a.time_on_task_ms,
            "watched_fraction": a.watched_fraction,
            "created_at": a.created_at,
            "split": split[a.clip_id],
        }
        for a in anns
    ]
    by_clip = defaultdict(list)
    for r in ratings:
        by_clip[r["clip_id"]].append(r)
    labels = []
    for clip in clips:
        rs = by_clip[clip.pk]
        judged = [r for r in rs if not r["cannot_judge"]]
        n = len(judged)
        row = {
            "clip_id": clip.pk,
            "split": split[clip.pk],
            "n_ratings": len(rs),
            "n_annotators": len({r["annotator_id"] for r in rs}),
            "n_cannot_judge": len(rs) - n,
            "tag_counts": [sum(t in r["context_tags"] for r in rs) for t in tags],
            "ratings": [
                {k: r[k] for k in ("rating_id", "annotator_id", "valence", "arousal", "valence_confidence",
                                   "arousal_confidence", "cannot_judge")}
                for r in rs
            ],
            "aggregation": AGGREGATION,
            "report_valence_sd": sd.get(("valence", clip.pk)),
            "report_arousal_sd": sd.get(("arousal", clip.pk)),
        }  # fmt: skip
        row["tag_proportions"] = [c / len(rs) for c in row["tag_counts"]]
        for dim in ("valence", "arousal"):
            xs = [r[dim] for r in judged]
            mean = sum(xs) / n if n else None
            row[f"{dim}_mean"] = mean
            row[f"{dim}_sd"] = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1)) if n > 1 else None
            counts = [0] * len(bins)
            for x in xs:
                counts[_nearest(x, bins)] += 1
            row[f"{dim}_hist_counts"] = counts if n else None
            row[f"{dim}_hist"] = [c / n for c in counts] if n else None
            cs = [r[f"{dim}_confidence"] for r in judged if r[f"{dim}_confidence"] is not None]
            row[f"{dim}_confidence_mean"] = (
                sum((c - 1) / (spec["confidence_points"] - 1) for c in cs) / len(cs) if cs else None
            )
        if n > 1:
            vs, ars = [r["valence"] for r in judged], [r["arousal"] for r in judged]
            mv, ma = row["valence_mean"], row["arousal_mean"]
            cov = sum((x - mv) * (y - ma) for x, y in zip(vs, ars, strict=True)) / (n - 1)
            row["covariance"] = [row["valence_sd"] ** 2, cov, cov, row["arousal_sd"] ** 2]
        else:
            row["covariance"] = None
        cells = [0] * (layout.grid[0] * layout.grid[1])
        for r in judged:
            cells[
                _bin(r["valence"], edges["valence"]) * layout.grid[1] + _bin(r["arousal"], edges["arousal"])
            ] += 1
        row["hist2d_counts"] = cells if n else None
        row["hist2d"] = [c / n for c in cells] if n else None
        row["hist2d_entropy"] = -sum(p * math.log2(p) for p in row["hist2d"] if p > 0) if n else None
        labels.append(row)
    clip_rows = [
        {
            "clip_id": c.pk,
            "participant_id": None,
            "duration_s": c.duration_s,
            "fps": c.fps,
            "width": c.width,
            "height": c.height,
            "size_bytes": c.size_bytes,
            "container": c.container,
            "video_codec": c.video_codec,
            "has_audio": bool(c.has_audio),
            "media_sha256": c.sha256,
            "media_file": None,
            "split": split[c.pk],
            "split_group": f"clip:{c.pk}",
        }
        for c in clips
    ]
    per_annotator = Counter(r["annotator_id"] for r in ratings)
    cj = Counter(r["annotator_id"] for r in ratings if r["cannot_judge"])
    annotators = [
        {
            "annotator_id": aid,
            "joined_via": "account",
            "n_ratings": per_annotator[aid],
            "n_cannot_judge": cj[aid],
            "valence_r_loo": None,
            "arousal_r_loo": None,
            "valence_alpha_without": None,
            "arousal_alpha_without": None,
        }
        for aid in sorted(per_annotator)
    ]
    export = Export.objects.create(
        study=study, version=(study.exports.count() + 1), parameters=params, salt="handmade",
        watermark_last_id=max((a.pk for a in anns), default=0), watermark_at=datetime.now(UTC),
    )  # fmt: skip
    tables = {"ratings": ratings, "clip_labels": labels, "clips": clip_rows, "annotators": annotators}
    files, counts = [], {}
    for name, schema in schemas(layout).items():
        rows = tables[name]
        splits = ("full",) if name == "annotators" else SPLIT_NAMES
        counts[name] = {"rows": len(rows), "splits": {}}
        for s in splits:
            part = rows if s == "full" else [r for r in rows if r["split"] == s]
            path = folder / "data" / name / f"{s}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            with pq.ParquetWriter(path, schema, compression="zstd") as writer:
                if part:
                    writer.write_table(pa.Table.from_pylist(part, schema=schema))
            data = path.read_bytes()
            counts[name]["splits"][s] = len(part)
            files.append(
                {
                    "path": path.relative_to(folder).as_posix(),
                    "bytes": len(data),
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "rows": len(part),
                    "table": name,
                    "split": s,
                    "format": "parquet",
                }
            )
    now = datetime.now(UTC).isoformat()
    manifest = {
        "format": "affect-labels-export/1",
        "study": {"id": study.pk, "slug": study.slug, "title": study.title},
        "export": {"id": export.pk, "version": export.version, "created_at": now, "finished_at": now,
                   "code_version": "handmade", "supersedes": None},
        "parameters": params,
        "watermark": {"last_annotation_id": export.watermark_last_id, "at": now},
        "layout": layout.as_dict(),
        "scheme_versions": [{"version": 1, "spec": spec, "n_ratings": len(ratings)}],
        "tables": {k: {"key": [], **v} for k, v in counts.items()},
        "splits": {"unit": "participant (clip where none)", "fractions": params["splits"],
                   "seed": params["split_seed"], "clips": dict(Counter(split.values())), "participants": {}},
        "withdrawals": {"applied_through": now, "participants_withdrawn": 0, "annotators_withdrawn": 0},
        "agreement_report": {"id": report.pk, "computed_at": report.result["computed_at"],
                             "watermark_last_id": report.watermark_last_id,
                             "fresh": report.watermark_last_id == export.watermark_last_id} if report else None,
        "free_text_included": False,
        "media_included": 0,
        "files": files,
    }  # fmt: skip
    return export, manifest
