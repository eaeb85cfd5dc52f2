"""The build: one export's folder written from the database, in the contract's order (tables and media,
then README.md, croissant.json, and manifest.json last). `build_folder` knows nothing of the Export's
status; exports.services.export_build claims the row, gives it a temporary folder and records the result."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
from django.utils import timezone

from exports import card, croissant
from exports.models import Export
from exports.tables import KEYS, SPLIT_NAMES, Layout, schemas

from . import source
from .aggregate import TagSets, clip_labels_table, ratings_table, to_batch
from .clips import ClipIndex, write_clips
from .ids import Salted, export_salt
from .layout import Scheme, make_layout, study_schemes
from .manifest import FORMAT, file_entry, write_manifest
from .writers import TableWriter

Progress = Callable[[float, str], None]
RATING_BATCH = 50_000
CLIP_BATCH = 20_000
CLIPS_SHARE = 0.1  # of the progress bar: the clips pass, then the ratings pass up to 0.9
ANNOTATORS_SPLIT = "full"


class DataChanged(RuntimeError):
    """The labels that count changed while the build was reading them (a withdrawal or reinstatement
    between two queries): building again reads a consistent state."""

    def __init__(self):
        super().__init__(
            "The study's data changed while the export was being built (a participant or annotator was "
            "withdrawn or reinstated); build it again."
        )


def _last_clip_start(rows: list[tuple]) -> int:
    """Index of the first row of the last clip in `rows` (rows ordered by clip)."""
    clip = source.COL_CLIP
    last, i = rows[-1][clip], len(rows) - 1
    while i > 0 and rows[i - 1][clip] == last:
        i -= 1
    return i


class Build:
    def __init__(self, export: Export, folder: Path, progress: Progress):
        self.export, self.folder, self.progress = export, folder, progress
        self.params = export.parameters
        self.free_text = bool(self.params["include_free_text"])
        self.schemes: list[Scheme] = study_schemes(export.study)
        self.layout: Layout = make_layout(self.schemes, tuple(self.params["grid"]))
        self.schemas = schemas(self.layout)
        salt = export_salt(study_id=export.study_id, parameters=self.params, salt=export.salt)
        self.annotator_ids = Salted(salt, "annotator")
        self.participant_ids = Salted(salt, "participant")
        self.tags = TagSets(self.layout)
        self.report = source.latest_report(export.study)
        formats = self.params["formats"]
        self.writers = {
            name: TableWriter(
                folder,
                name,
                self.schemas[name],
                (ANNOTATORS_SPLIT,) if name == "annotators" else SPLIT_NAMES,
                formats,
            )
            for name in self.schemas
        }
        self.annotators: dict[int, np.ndarray] = {}  # user pk -> [ratings, cannot judge]
        self.per_scheme = np.zeros(len(self.schemes), dtype=np.int64)
        self.clips_done = 0

    def run(self) -> dict:
        try:
            self.progress(0.01, "counting the labels")
            total = source.labels(self.export).count()
            self.progress(0.02, "clips")
            index = write_clips(
                self.export,
                self.writers["clips"],
                folder=self.folder,
                participant_ids=self.participant_ids,
                batch_size=CLIP_BATCH,
            )
            self._ratings(index, total)
            self.progress(0.9, "annotators")
            self._annotators()
            files = [w for writer in self.writers.values() for w in writer.close()]
        except BaseException:
            for writer in self.writers.values():
                writer.abort()
            raise
        self.progress(0.93, "checksums")
        manifest = self._manifest(index, files)
        self.progress(0.96, "dataset card")
        manifest["files"].append(
            file_entry(self.folder, card.write_card(self.folder, export=self.export, manifest=manifest).name)
        )
        manifest["files"].append(
            file_entry(
                self.folder,
                croissant.write_croissant(self.folder, export=self.export, manifest=manifest).name,
            )
        )
        write_manifest(self.folder, manifest)
        return manifest

    # --- ratings and clip_labels: one pass ordered by (clip, rating) ------------------------------------

    def _ratings(self, index: ClipIndex, total: int) -> None:
        done, carry = 0, []
        for rows in source.rating_batches(self.export, free_text=self.free_text, size=RATING_BATCH):
            rows = carry + rows if carry else rows
            cut = _last_clip_start(rows)
            if cut == 0:  # one clip so far: wait for its end
                carry = rows
                continue
            self._batch(rows[:cut], index)
            done += cut
            carry = rows[cut:]
            self.progress(CLIPS_SHARE + 0.8 * done / max(total, 1), f"ratings: {done:,} of {total:,}")
        if carry:
            self._batch(carry, index)
            done += len(carry)
            self.progress(CLIPS_SHARE + 0.8 * done / max(total, 1), f"ratings: {done:,} of {total:,}")
        if self.clips_done != index.ids.size:
            raise DataChanged()

    def _batch(self, rows: list[tuple], index: ClipIndex) -> None:
        b = to_batch(rows, schemes=self.schemes, tags=self.tags, annotator_ids=self.annotator_ids)
        pos = index.lookup(b.clip_ids)
        if pos is None:
            raise DataChanged()
        self.clips_done += b.m
        clip_split = index.split[pos]
        names = np.array(SPLIT_NAMES)
        rating_split = clip_split[b.seg]
        table = ratings_table(
            b,
            schemes=self.schemes,
            tags=self.tags,
            split=names[rating_split],
            schema=self.schemas["ratings"],
            free_text=self.free_text,
        )
        self.writers["ratings"].write_by_split(SPLIT_NAMES, rating_split, table)
        labels = clip_labels_table(
            b,
            layout=self.layout,
            schemes=self.schemes,
            tags=self.tags,
            split=names[clip_split],
            report=self.report,
            schema=self.schemas["clip_labels"],
        )
        self.writers["clip_labels"].write_by_split(SPLIT_NAMES, clip_split, labels)
        counts = np.bincount(b.annotator_of, minlength=b.annotators.size)
        cannot = np.bincount(b.annotator_of, weights=b.cannot_judge, minlength=b.annotators.size)
        for pk, n, c in zip(b.annotators.tolist(), counts.tolist(), cannot.tolist(), strict=True):
            acc = self.annotators.setdefault(pk, np.zeros(2, dtype=np.int64))
            acc += (n, int(c))
        self.per_scheme += np.bincount(b.scheme, minlength=len(self.schemes))

    # --- annotators ------------------------------------------------------------------------------------

    def _annotators(self) -> None:
        via = source.joined_via(self.export.study)
        pks = sorted(self.annotators, key=self.annotator_ids)
        figures = self.report.annotators

        def figure(dim: str, key: str) -> pa.Array:
            rows = figures.get(dim, {})
            return pa.array([rows.get(pk, {}).get(key) for pk in pks], pa.float64())

        schema = self.schemas["annotators"]
        arrays = {
            "annotator_id": pa.array([self.annotator_ids(pk) for pk in pks], pa.string()),
            "joined_via": pa.array([via.get(pk, "account") for pk in pks], pa.string()),
            "n_ratings": pa.array([int(self.annotators[pk][0]) for pk in pks], pa.int32()),
            "n_cannot_judge": pa.array([int(self.annotators[pk][1]) for pk in pks], pa.int32()),
            "valence_r_loo": figure("valence", "r_loo"),
            "arousal_r_loo": figure("arousal", "r_loo"),
            "valence_alpha_without": figure("valence", "alpha_without"),
            "arousal_alpha_without": figure("arousal", "alpha_without"),
        }
        table = pa.Table.from_arrays([arrays[n] for n in schema.names], schema=schema)
        self.writers["annotators"].write(ANNOTATORS_SPLIT, table)

    # --- manifest ----------------------------------------------------------------------------------------

    def _manifest(self, index: ClipIndex, files) -> dict:
        export, study = self.export, self.export.study
        entries, tables = [], {}
        for f in files:
            table, split = f.path.split("/")[1], f.path.rsplit("/", 1)[1].split(".")[0]
            entries.append(
                file_entry(self.folder, f.path, rows=f.rows, table=table, split=split, format=f.fmt)
            )
            if f.fmt == "parquet":
                info = tables.setdefault(table, {"key": _key(table), "rows": 0, "splits": {}})
                info["rows"] += f.rows
                info["splits"][split] = f.rows
        for path in sorted(p for p in self.folder.rglob("*") if p.is_file() and p.parts[-2] == "media"):
            entries.append(file_entry(self.folder, path.relative_to(self.folder).as_posix()))
        report = self.report.report
        previous = (
            Export.objects.filter(study=study, status=Export.Status.DONE, version__lt=export.version)
            .order_by("-version")
            .values("id", "version")
            .first()
        )
        return {
            "format": FORMAT,
            "study": {"id": study.pk, "slug": study.slug, "title": study.title},
            "export": {
                "id": export.pk,
                "version": export.version,
                "created_at": export.created_at.isoformat(),
                "finished_at": timezone.now().isoformat(),
                "code_version": export.code_version,
                "supersedes": previous,
            },
            "parameters": export.parameters,
            "watermark": {
                "last_annotation_id": export.watermark_last_id,
                "at": export.watermark_at.isoformat() if export.watermark_at else None,
            },
            "layout": self.layout.as_dict(),
            "scheme_versions": [
                {"version": s.version, "spec": s.spec, "n_ratings": int(n)}
                for s, n in zip(self.schemes, self.per_scheme.tolist(), strict=True)
            ],
            "tables": tables,
            "splits": {
                "unit": "participant (clip where none)",
                "fractions": export.parameters["splits"],
                "seed": export.parameters["split_seed"],
                "clips": {s: int((index.split == i).sum()) for i, s in enumerate(SPLIT_NAMES)},
                "participants": {s: len(index.participants[s]) for s in SPLIT_NAMES},
            },
            "withdrawals": source.withdrawals(study),
            "agreement_report": None
            if report is None
            else {
                "id": report.pk,
                "computed_at": report.finished_at.isoformat() if report.finished_at else None,
                "watermark_last_id": report.watermark_last_id,
                "fresh": report.watermark_last_id == export.watermark_last_id,
            },
            "free_text_included": self.free_text,
            "media_included": index.media_files,
            "files": entries,
        }


def _key(table: str) -> list[str]:
    return ["clip_id", "rating_id"] if table == "ratings" else [KEYS[table]]


def build_folder(export: Export, folder: Path, progress: Progress | None = None) -> dict:
    """Write the export's folder (which must exist and be empty); returns the manifest."""
    return Build(export, folder, progress or (lambda fraction, message: None)).run()
