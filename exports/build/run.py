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
from exports.tables import ROW_ORDER, SPLIT_NAMES, Layout, schemas

from . import source
from .aggregate import TagSets, clip_labels_table, ratings_table, to_batch
from .clips import ClipIndex, Splits, write_clips
from .ids import Salted, export_salt
from .layout import Scheme, make_layout, study_schemes
from .manifest import FORMAT, file_entry, write_manifest
from .self_reports import SelfValues, write_self_reports
from .writers import TableWriter

Progress = Callable[[float, str], None]
# Rows per batch where rows are fetched one by one (SQLite, a cursor); a COPY's batches are blocks of
# source.CSV_BLOCK_BYTES.
RATING_BATCH = 10_000
CLIP_BATCH = 10_000
RATINGS_END = 0.8  # of the progress bar: the ratings pass up to here, then the clips
ANNOTATORS_SPLIT = "full"


def _memory_pool_that_gives_back() -> None:
    """Arrow's default pool (mimalloc) keeps freed memory for reuse; over a build of millions of rows that
    held ~40 MB more at the peak than jemalloc told to return freed pages at once (measured on 1 M ratings:
    peak RSS ~390 MB with the default, ~355 MB with this). Where pyarrow has no jemalloc the default stays."""
    try:
        pool = pa.jemalloc_memory_pool()
        pa.jemalloc_set_decay_ms(0)
    except NotImplementedError:
        return
    pa.set_memory_pool(pool)


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
        self.participant_ids = Salted(salt, "participant", keep=False)  # as many as clips: not kept
        self.tags = TagSets(self.layout)
        self.splits = Splits(seed=self.params["split_seed"], fractions=self.params["splits"])
        self.index = ClipIndex()
        self.annotators: dict[int, np.ndarray] = {}  # user pk -> [ratings, cannot judge]
        self.per_scheme = np.zeros(len(self.schemes), dtype=np.int64)
        self.writers: dict[str, TableWriter] = {}

    def run(self) -> dict:
        _memory_pool_that_gives_back()
        formats = self.params["formats"]
        try:
            for name, schema in self.schemas.items():
                splits = (ANNOTATORS_SPLIT,) if name == "annotators" else SPLIT_NAMES
                self.writers[name] = TableWriter(self.folder, name, schema, splits, formats)
            with source.snapshot():
                self.progress(0.01, "reading the agreement report")
                self.report = source.latest_report(self.export.study, as_of=self.export.created_at)
                self.progress(0.015, "reading self-reports")
                self.self_values = SelfValues.read(self.export, size=CLIP_BATCH)
                lo, hi = source.clip_id_range(self.export.study)

                def through(clip_id: int) -> float:  # how far through the study's clips a pass is
                    return (clip_id - lo + 1) / max(hi - lo + 1, 1)

                self._ratings(through)
                found = write_clips(
                    self.export,
                    self.writers["clips"],
                    self.index,
                    folder=self.folder,
                    participant_ids=self.participant_ids,
                    splits=self.splits,
                    batch_size=CLIP_BATCH,
                    progress=lambda clip_id: self.progress(
                        RATINGS_END + (0.9 - RATINGS_END) * through(clip_id), "clips"
                    ),
                )
                if found != self.index.ids.size:
                    raise source.DataChanged()
                self.progress(0.9, "self-reports")
                n_self_reports = write_self_reports(
                    self.export,
                    self.writers["self_reports"],
                    self.index,
                    values=self.self_values,
                    participant_ids=self.participant_ids,
                    tags=self.tags,
                    free_text=self.free_text,
                    batch_size=CLIP_BATCH,
                )
                self.progress(0.91, "annotators")
                self._annotators()
                withdrawals = source.withdrawals(self.export.study)
                consent = source.consent_scopes(
                    self.export,
                    self_reports_written=n_self_reports,
                    media=self.index.media_scope() if self.params["include_media"] else None,
                )
            files = [w for writer in self.writers.values() for w in writer.close()]
        except BaseException:
            for writer in self.writers.values():
                writer.abort()
            raise
        self.progress(0.93, "checksums")
        manifest = self._manifest(files, withdrawals, consent)
        self.progress(0.96, "dataset card")
        # both see the manifest without their own two files (the export contract)
        written = [
            write(self.folder, export=self.export, manifest=manifest)
            for write in (card.write_card, croissant.write_croissant)
        ]
        manifest["files"] += [
            file_entry(self.folder, path.relative_to(self.folder).as_posix()) for path in written
        ]
        write_manifest(self.folder, manifest)
        return manifest

    # --- ratings and clip_labels: one pass ordered by (clip, rating) ------------------------------------

    def _ratings(self, through: Callable[[int], float]) -> None:
        done, carry = 0, None

        def step(table: pa.Table) -> None:
            nonlocal done
            self._batch(table)
            done += table.num_rows
            # (counting the labels first, for an "n of N", would cost a query over all of them)
            fraction = 0.02 + (RATINGS_END - 0.02) * through(table.column("clip_id")[-1].as_py())
            self.progress(fraction, f"ratings: {done:,} read")

        for table in source.rating_batches(self.export, free_text=self.free_text, size=RATING_BATCH):
            if not table.num_rows:
                continue
            table = (pa.concat_tables([carry, table]) if carry is not None else table).combine_chunks()
            clip = table.column("clip_id").to_numpy()
            cut = int(np.searchsorted(clip, clip[-1]))  # the last clip may go on in the next batch
            if cut == 0:
                carry = table
                continue
            step(table.slice(0, cut))
            carry = table.slice(cut)
        if carry is not None and carry.num_rows:
            step(carry.combine_chunks())
        self.index.freeze()

    def _batch(self, table: pa.Table) -> None:
        b = to_batch(table, schemes=self.schemes, tags=self.tags, annotator_ids=self.annotator_ids)
        clip_split = self.splits.of(b.clip_ids, b.participant)
        self.index.add(b.clip_ids, clip_split)
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
            self_values=self.self_values,
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

    def _manifest(self, files, withdrawals: dict, consent: dict) -> dict:
        export, study = self.export, self.export.study
        entries, tables = [], {}
        for f in files:
            table, split = f.path.split("/")[1], f.path.rsplit("/", 1)[1].split(".")[0]
            entries.append(
                file_entry(self.folder, f.path, rows=f.rows, table=table, split=split, format=f.fmt)
            )
            if f.fmt == "parquet":
                info = tables.setdefault(table, {"key": ROW_ORDER[table], "rows": 0, "splits": {}})
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
                "last_self_report_id": export.watermark_self_report_id,
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
                "clips": self.index.clips_per_split(),
                "participants": self.splits.participants_per_split(),
            },
            "withdrawals": withdrawals,
            "consent_scopes": consent,
            "agreement_report": None
            if report is None
            else {
                "id": report.pk,
                "computed_at": report.finished_at.isoformat() if report.finished_at else None,
                "watermark_last_id": report.watermark_last_id,
                "fresh": report.watermark_last_id == export.watermark_last_id,
            },
            "free_text_included": self.free_text,
            "media_included": self.index.media_files,
            "files": entries,
        }


def build_folder(export: Export, folder: Path, progress: Progress | None = None) -> dict:
    """Write the export's folder (which must exist and be empty); returns the manifest. `progress` must not
    use the default database connection when the build reads in its own snapshot (source.private_snapshot():
    PostgreSQL outside a transaction), since a COPY holds it: exports.services saves through another one."""
    return Build(export, folder, progress or (lambda fraction, message: None)).run()
