"""The experienced side: the filmed people's own self-reports.

- `SelfValues`, read before the ratings pass: each clip's self-report value per dimension and how many
  reports it rests on, by labeling.agreement.self_report_per_clip (THE definition the agreement report uses
  too: the whole-clip reports' mean, else the window-length-weighted mean of the windows), looked up by the
  ratings pass for clip_labels' self_* and gap_* columns (aggregate.self_columns; the gap by
  labeling.agreement.self_report_gap).
- `write_self_reports`, after the clips pass: the `self_reports` table, one row per self-report of a clip
  in the export, with its clip's split (splits are per participant, and a self-report is its own clip's
  participant's, so it is the same split).

Which self-reports may leave the platform is decided by labeling.selectors.self_reports_for_export (read
through exports.build.source), never here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from exports.tables import SPLIT_NAMES
from labeling.agreement import self_report_per_clip
from labeling.scheme import DIMENSIONS

from .aggregate import TagSets, _floats, _int16
from .clips import ClipIndex
from .ids import Salted
from .source import DataChanged, self_report_batches, self_value_batches
from .writers import TableWriter


@dataclass
class SelfValues:
    """Per clip with a self-report in the export: its value per dimension (nan where none) and the reports
    used (the larger of the two dimensions' counts). Clip ids sorted."""

    clip_ids: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    values: dict[str, np.ndarray] = field(default_factory=dict)
    used: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    rows: int = 0  # self-reports read (to tell whether the second read saw the same)

    @classmethod
    def read(cls, export, *, size: int) -> SelfValues:
        parts = [t for t in self_value_batches(export, size=size) if t.num_rows]
        if not parts:
            return cls(values={dim: np.empty(0) for dim in DIMENSIONS})
        table = pa.concat_tables(parts).combine_chunks()
        clips, index = np.unique(table.column("clip_id").to_numpy(), return_inverse=True)
        start = table.column("start_s").to_numpy(zero_copy_only=False)
        end = table.column("end_s").to_numpy(zero_copy_only=False)
        values, used = {}, np.zeros(clips.size, np.int64)
        for dim in DIMENSIONS:
            value = table.column(dim).to_numpy(zero_copy_only=False)
            values[dim], n = self_report_per_clip(index, start, end, value, clips.size)
            used = np.maximum(used, n)
        return cls(clip_ids=clips, values=values, used=used, rows=table.num_rows)

    def of(self, clip_ids: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Each clip's value per dimension (nan when it has no self-report) and the reports used (0)."""
        out = {dim: np.full(clip_ids.size, np.nan) for dim in DIMENSIONS}
        used = np.zeros(clip_ids.size, np.int64)
        if not self.clip_ids.size:
            return out, used
        pos = np.minimum(np.searchsorted(self.clip_ids, clip_ids), self.clip_ids.size - 1)
        hit = self.clip_ids[pos] == clip_ids
        for dim in DIMENSIONS:
            out[dim][hit] = self.values[dim][pos[hit]]
        used[hit] = self.used[pos[hit]]
        return out, used


def write_self_reports(
    export,
    writer: TableWriter,
    index: ClipIndex,
    *,
    values: SelfValues,
    participant_ids: Salted,
    tags: TagSets,
    free_text: bool,
    batch_size: int,
) -> int:
    """Write the self-reports of the clips in the export (index); returns how many were written."""
    schema = writer.schema
    names = np.array(SPLIT_NAMES)
    read = written = 0
    for table in self_report_batches(export, free_text=free_text, size=batch_size):
        read += table.num_rows
        if not table.num_rows or not index.ids.size:
            continue
        table = table.combine_chunks()
        clip = table.column("clip_id").to_numpy()
        pos = np.minimum(np.searchsorted(index.ids, clip), index.ids.size - 1)
        keep = index.ids[pos] == clip
        if not keep.any():
            continue
        table = table.filter(pa.array(keep)).combine_chunks()
        codes = index.split[pos[keep]]
        people, where = np.unique(table.column("participant_id").to_numpy(), return_inverse=True)
        salted = pa.array(participant_ids.many(people), pa.string()).take(pa.array(where))

        def col(name: str, table: pa.Table = table) -> np.ndarray:
            return table.column(name).to_numpy(zero_copy_only=False)

        note = (
            pc.if_else(
                pc.equal(table.column("context_note"), ""),
                pa.scalar(None, pa.string()),
                table.column("context_note"),
            )
            if free_text
            else pa.nulls(table.num_rows, pa.string())
        )
        tag_codes = pa.array(tags.codes_of(table.column("tags_json").chunk(0)))  # before tags.arrow()
        arrays = {
            "self_report_id": table.column("id"),
            "participant_id": salted,
            "clip_id": table.column("clip_id"),
            "split": pa.array(names[codes], pa.string()),
            "start_s": _floats(col("start_s")),
            "end_s": _floats(col("end_s")),
            "instrument": table.column("instrument"),
            "scale_points": _int16(col("scale_points")),
            "valence": _floats(col("valence")),
            "arousal": _floats(col("arousal")),
            "valence_raw": _floats(col("valence_raw")),
            "arousal_raw": _floats(col("arousal_raw")),
            "valence_confidence": _int16(col("valence_confidence")),
            "arousal_confidence": _int16(col("arousal_confidence")),
            "confidence_points": _int16(col("confidence_points")),
            "context_tags": tags.arrow().take(tag_codes),
            "context_note": note,
            "reported_at": table.column("reported_at"),
            "source": table.column("source"),
        }
        out = pa.Table.from_arrays(
            [arrays[n].cast(schema.field(n).type) for n in schema.names], schema=schema
        )
        writer.write_by_split(SPLIT_NAMES, codes, out)
        written += out.num_rows
    if read != values.rows:
        raise DataChanged()  # self-reports changed between the two reads (possible only without a snapshot)
    return written
