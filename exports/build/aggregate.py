"""From a batch of rating rows (whole clips, ordered by clip and rating id) to the rows of the `ratings`
table and of the `clip_labels` table: numpy over the batch, no loop over clips or ratings in Python.

Each clip's distribution: every rating that counts weighs the same (exports.tables.AGGREGATION); "cannot
judge" ratings are counted (n_cannot_judge) but hold no valence or arousal, so means, sds, the covariance and
the histograms are over the judged ratings; tags and confidences over every rating that has them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from exports.tables import AGGREGATION, Layout
from labeling.agreement import self_report_gap
from labeling.scheme import DIMENSIONS

from .ids import Salted
from .layout import Scheme, bins_1d, grid_bin
from .source import FREE_TEXT_COLUMNS, ReportFigures

if TYPE_CHECKING:
    from .self_reports import SelfValues


class TagSets:
    """The distinct context-tag lists (as the database's JSON text), each decoded once: its sorted tags and
    which of the layout's tags it holds."""

    def __init__(self, layout: Layout):
        self.index = {tag: i for i, tag in enumerate(layout.tags)}
        self.codes: dict[str | None, int] = {}
        self.lists: list[list[str]] = []
        self.rows: list[np.ndarray] = []
        self._member: np.ndarray | None = None
        self._arrow: pa.ListArray | None = None

    def code(self, text: str | None) -> int:
        code = self.codes.get(text)
        if code is None:
            tags = sorted({str(t) for t in (json.loads(text) if text else None) or ()})
            row = np.zeros(len(self.index), dtype=bool)
            row[[self.index[t] for t in tags if t in self.index]] = True
            code = self.codes[text] = len(self.lists)
            self.lists.append(tags)
            self.rows.append(row)
            self._member = self._arrow = None
        return code

    def codes_of(self, texts: pa.Array) -> np.ndarray:
        """The code of each row's tag list (JSON text), decoding each distinct text once."""
        encoded = pc.dictionary_encode(pc.fill_null(texts, "[]"))
        mapping = np.array([self.code(t) for t in encoded.dictionary.to_pylist()], dtype=np.int64)
        return mapping[encoded.indices.to_numpy()] if mapping.size else np.zeros(len(texts), np.int64)

    def member(self) -> np.ndarray:
        """codes x tags: whether each distinct list holds each tag."""
        if self._member is None:
            self._member = np.array(self.rows, dtype=bool).reshape(len(self.rows), len(self.index))
        return self._member

    def arrow(self) -> pa.ListArray:
        if self._arrow is None:
            self._arrow = pa.array(self.lists, pa.list_(pa.string()))
        return self._arrow


def _floats(values, mask_nan: bool = True) -> pa.Array:
    x = np.asarray(values, dtype=float)
    return pa.array(x, mask=np.isnan(x)) if mask_nan else pa.array(x)


def _int16(x: np.ndarray) -> pa.Array:
    """Whole numbers held as floats (NaN = missing) as int16 with nulls."""
    missing = np.isnan(x)
    return pa.array(np.where(missing, 0, x).astype(np.int16), pa.int16(), mask=missing)


def _fixed(matrix: np.ndarray, type_: pa.DataType, null: np.ndarray | None = None) -> pa.Array:
    """Rows of a 2-D array as fixed-size lists (null where `null`)."""
    flat = pa.array(np.ascontiguousarray(matrix).reshape(-1), type_.value_type)
    return pa.FixedSizeListArray.from_arrays(flat, type=type_, mask=None if null is None else pa.array(null))


def _numbers(table: pa.Table, name: str) -> np.ndarray:
    """A numeric column as numpy (NaN where missing, for float columns)."""
    return table.column(name).to_numpy()


@dataclass
class Batch:
    """One batch of whole clips, each column converted once; `seg` numbers the clips 0..m-1 in order."""

    n: int
    m: int
    rating_id: np.ndarray
    clip: np.ndarray
    clip_ids: np.ndarray  # m
    starts: np.ndarray  # m: first row of each clip
    seg: np.ndarray
    annotators: np.ndarray  # distinct annotator pks of the batch
    annotator_of: np.ndarray  # row -> index into annotators
    annotator_id: pa.Array  # salted, per row
    scheme: np.ndarray  # row -> index into schemes
    valence: np.ndarray  # nan when cannot_judge
    arousal: np.ndarray
    cannot_judge: np.ndarray
    valence_raw: np.ndarray
    arousal_raw: np.ndarray
    valence_confidence: np.ndarray  # nan when not given
    arousal_confidence: np.ndarray
    tag_code: np.ndarray  # row -> index into TagSets
    time_on_task_ms: np.ndarray
    watched_fraction: np.ndarray
    created_at: pa.Array
    participant: np.ndarray  # m: each clip's participant pk, -1 when none
    free_text: dict[str, pa.Array]  # cannot_judge_reason, context_note (empty -> null), when asked


def to_batch(table: pa.Table, *, schemes: list[Scheme], tags: TagSets, annotator_ids: Salted) -> Batch:
    """`table`: whole clips of source.RATING_COLUMNS (one chunk per column), ordered by clip and id."""
    clip = _numbers(table, "clip_id")
    first = np.r_[True, clip[1:] != clip[:-1]]
    starts = np.flatnonzero(first)
    annotators, annotator_of = np.unique(_numbers(table, "annotator_id"), return_inverse=True)
    scheme_pks = np.array([s.id for s in schemes], dtype=np.int64)
    order = np.argsort(scheme_pks)
    scheme = order[np.searchsorted(scheme_pks, _numbers(table, "scheme_version_id"), sorter=order)]
    participant = table.column("clip__participant_id").fill_null(-1).to_numpy()
    return Batch(
        n=clip.size,
        m=starts.size,
        rating_id=_numbers(table, "id"),
        clip=clip,
        clip_ids=clip[starts],
        starts=starts,
        seg=np.cumsum(first) - 1,
        annotators=annotators,
        annotator_of=annotator_of,
        annotator_id=pa.array(annotator_ids.many(annotators), pa.string()).take(pa.array(annotator_of)),
        scheme=scheme,
        valence=_numbers(table, "valence"),
        arousal=_numbers(table, "arousal"),
        cannot_judge=_numbers(table, "cannot_judge"),
        valence_raw=_numbers(table, "valence_raw"),
        arousal_raw=_numbers(table, "arousal_raw"),
        valence_confidence=_numbers(table, "valence_confidence"),
        arousal_confidence=_numbers(table, "arousal_confidence"),
        tag_code=tags.codes_of(table.column("tags_json").chunk(0)),
        time_on_task_ms=_numbers(table, "time_on_task_ms"),
        watched_fraction=_numbers(table, "watched_fraction"),
        created_at=table.column("created_at").chunk(0),
        participant=participant[starts],
        free_text={
            name: pc.if_else(
                pc.equal(table.column(name), ""), pa.scalar(None, pa.string()), table.column(name)
            ).chunk(0)
            for name in FREE_TEXT_COLUMNS
            if name in table.column_names
        },
    )


def _scheme_column(schemes: list[Scheme], attr: str) -> np.ndarray:
    return np.array([np.nan if getattr(s, attr) is None else getattr(s, attr) for s in schemes], dtype=float)


def ratings_table(
    b: Batch, *, schemes: list[Scheme], tags: TagSets, split: np.ndarray, schema: pa.Schema, free_text: bool
) -> pa.Table:
    """The batch's rows of the ratings table (`split`: the split name of each row)."""

    def nullable_text(name: str) -> pa.Array:
        return b.free_text[name] if free_text else pa.nulls(b.n, pa.string())

    points = _scheme_column(schemes, "points")[b.scheme]
    confidence_points = _scheme_column(schemes, "confidence_points")[b.scheme]
    arrays = {
        "rating_id": pa.array(b.rating_id),
        "clip_id": pa.array(b.clip),
        "annotator_id": b.annotator_id,
        "scheme_version": pa.array(np.array([s.version for s in schemes], dtype=np.int32)[b.scheme]),
        "valence": _floats(b.valence),
        "arousal": _floats(b.arousal),
        "cannot_judge": pa.array(b.cannot_judge),
        "cannot_judge_reason": nullable_text("cannot_judge_reason"),
        "valence_raw": _floats(b.valence_raw),
        "arousal_raw": _floats(b.arousal_raw),
        "instrument": pa.array([s.instrument for s in schemes], pa.string()).take(pa.array(b.scheme)),
        "scale_points": _int16(points),
        "scale_min": pa.array(_scheme_column(schemes, "scale_min")[b.scheme]),
        "scale_max": pa.array(_scheme_column(schemes, "scale_max")[b.scheme]),
        "valence_confidence": _int16(b.valence_confidence),
        "arousal_confidence": _int16(b.arousal_confidence),
        "confidence_points": _int16(confidence_points),
        "context_tags": tags.arrow().take(pa.array(b.tag_code)),
        "context_note": nullable_text("context_note"),
        "time_on_task_ms": pa.array(b.time_on_task_ms),
        "watched_fraction": pa.array(b.watched_fraction),
        "created_at": b.created_at,
        "split": pa.array(split, pa.string()),
    }
    return pa.Table.from_arrays(
        [arrays[name].cast(schema.field(name).type) for name in schema.names], schema=schema
    )


def _per_clip(b: Batch, weights: np.ndarray) -> np.ndarray:
    return np.bincount(b.seg, weights=weights, minlength=b.m)


def _histogram(b: Batch, cell: np.ndarray, judged: np.ndarray, cells: int) -> np.ndarray:
    key = b.seg[judged] * cells + cell[judged]
    return np.bincount(key, minlength=b.m * cells).reshape(b.m, cells)


def _confidence_mean(b: Batch, raw: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Mean of (c - 1) / (points - 1) over the ratings that gave a confidence (nan when none did)."""
    x = (raw - 1.0) / (points - 1.0)
    given = ~np.isnan(x)
    count = _per_clip(b, given.astype(float))
    total = _per_clip(b, np.where(given, x, 0.0))
    return np.divide(total, count, out=np.full(b.m, np.nan), where=count > 0)


def self_columns(values: SelfValues, clip_ids: np.ndarray, observer_mean: dict[str, np.ndarray]) -> dict:
    """clip_labels' self-report columns of `clip_ids`, beside (never mixed into) the observers' means of the
    same clips: the self value per dimension, the reports used, and the gap (labeling.agreement)."""
    self_value, used = values.of(clip_ids)
    out: dict[str, pa.Array] = {"self_reports_used": pa.array(used.astype(np.int32))}
    for dim in DIMENSIONS:
        out[f"self_{dim}"] = _floats(self_value[dim])
        out[f"gap_{dim}"] = _floats(self_report_gap(self_value[dim], observer_mean[dim]))
    return out


def clip_labels_table(
    b: Batch,
    *,
    layout: Layout,
    schemes: list[Scheme],
    tags: TagSets,
    split: np.ndarray,
    report: ReportFigures,
    self_values: SelfValues,
    schema: pa.Schema,
) -> pa.Table:
    """The batch's clips as rows of clip_labels (`split`: the split name of each clip)."""
    judged = ~b.cannot_judge
    n = np.bincount(b.seg, minlength=b.m)
    nj = _per_clip(b, judged.astype(float))
    none, single = nj == 0, nj < 2
    v = np.where(judged, b.valence, 0.0)
    a = np.where(judged, b.arousal, 0.0)
    mean_v = np.divide(_per_clip(b, v), nj, out=np.full(b.m, np.nan), where=~none)
    mean_a = np.divide(_per_clip(b, a), nj, out=np.full(b.m, np.nan), where=~none)
    dv = np.where(judged, b.valence - mean_v[b.seg], 0.0)
    da = np.where(judged, b.arousal - mean_a[b.seg], 0.0)
    dof = np.where(single, 1.0, nj - 1.0)
    cov = np.stack(
        [_per_clip(b, dv * dv), _per_clip(b, dv * da), _per_clip(b, da * dv), _per_clip(b, da * da)], 1
    )
    cov /= dof[:, None]
    sd_v, sd_a = np.sqrt(cov[:, 0]), np.sqrt(cov[:, 3])
    sd_v[single] = sd_a[single] = np.nan

    gv, ga = layout.grid
    cells = gv * ga
    vb = np.where(judged, b.valence, 0.0)
    ab = np.where(judged, b.arousal, 0.0)
    h2 = _histogram(b, grid_bin(vb, gv) * ga + grid_bin(ab, ga), judged, cells)
    hv = _histogram(b, bins_1d(layout, vb, 0), judged, len(layout.valence_bins))
    ha = _histogram(b, bins_1d(layout, ab, 1), judged, len(layout.arousal_bins))
    denom = np.where(none, 1.0, nj)[:, None]
    p2 = h2 / denom
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = np.where(p2 > 0, -p2 * np.log2(np.where(p2 > 0, p2, 1.0)), 0.0).sum(1) + 0.0
    entropy[none] = np.nan

    member = tags.member()[b.tag_code].astype(np.int32)
    tag_counts = (
        np.add.reduceat(member, b.starts, axis=0)
        if b.n and member.shape[1]
        else np.zeros((b.m, member.shape[1]), np.int32)
    )

    # distinct annotators per clip (one rating per clip and annotator is a database rule; counted anyway)
    pairs = np.unique(b.seg.astype(np.int64) * b.annotators.size + b.annotator_of)
    n_annotators = np.bincount(pairs // b.annotators.size, minlength=b.m)

    conf_points = _scheme_column(schemes, "confidence_points")[b.scheme]
    vconf, aconf = b.valence_confidence, b.arousal_confidence
    rating_type = schema.field("ratings").type
    struct = pa.StructArray.from_arrays(
        [
            pa.array(b.rating_id),
            b.annotator_id,
            _floats(b.valence),
            _floats(b.arousal),
            _int16(vconf),
            _int16(aconf),
            pa.array(b.cannot_judge),
        ],
        fields=list(rating_type.value_type),
    )
    offsets = pa.array(np.r_[b.starts, b.n].astype(np.int32))
    arrays = {
        "clip_id": pa.array(b.clip_ids),
        "split": pa.array(split, pa.string()),
        "n_ratings": pa.array(n.astype(np.int32)),
        "n_annotators": pa.array(n_annotators.astype(np.int32)),
        "n_cannot_judge": pa.array((n - nj).astype(np.int32)),
        "valence_mean": _floats(mean_v),
        "valence_sd": _floats(sd_v),
        "arousal_mean": _floats(mean_a),
        "arousal_sd": _floats(sd_a),
        "covariance": _fixed(cov, schema.field("covariance").type, single),
        "hist2d_counts": _fixed(h2.astype(np.int32), schema.field("hist2d_counts").type, none),
        "hist2d": _fixed(p2, schema.field("hist2d").type, none),
        "hist2d_entropy": _floats(entropy),
        "valence_hist_counts": _fixed(hv.astype(np.int32), schema.field("valence_hist_counts").type, none),
        "valence_hist": _fixed(hv / denom, schema.field("valence_hist").type, none),
        "arousal_hist_counts": _fixed(ha.astype(np.int32), schema.field("arousal_hist_counts").type, none),
        "arousal_hist": _fixed(ha / denom, schema.field("arousal_hist").type, none),
        "tag_counts": _fixed(tag_counts.astype(np.int32), schema.field("tag_counts").type),
        "tag_proportions": _fixed(tag_counts / n[:, None], schema.field("tag_proportions").type),
        "valence_confidence_mean": _floats(_confidence_mean(b, vconf, conf_points)),
        "arousal_confidence_mean": _floats(_confidence_mean(b, aconf, conf_points)),
        "report_valence_sd": _floats(report.sd_of("valence", b.clip_ids)),
        "report_arousal_sd": _floats(report.sd_of("arousal", b.clip_ids)),
        "ratings": pa.ListArray.from_arrays(offsets, struct, type=rating_type),
        "aggregation": pa.repeat(pa.scalar(AGGREGATION, pa.string()), b.m),
        **self_columns(self_values, b.clip_ids, {"valence": mean_v, "arousal": mean_a}),
    }
    return pa.Table.from_arrays([arrays[name] for name in schema.names], schema=schema)
