"""What the dataset card (exports/card.py) and croissant.json (exports/croissant.py) both say about an export:
the facts, read from the manifest, the folder's Parquet files and the database, and the statements about
what the labels are and how they may be used, written once so the two documents cannot disagree.

Nothing here names a person: counts and salted ids only.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq

from labeling.models import AgreementReport, Study
from labeling.scheme import DIMENSIONS, raw_range, to_canonical

from .models import Export
from .tables import GAP_RULE, SELF_VALUE_RULE, SPLIT_NAMES, Layout

FULL_SPLIT = "full"  # the annotators table is not split
DATA_AGREEMENT = (
    "No open licence is granted by this export: the terms of use are those of the data agreement under which "
    "the study's ethics approval and its participants' consent allow the data to be shared. Ask the study's "
    "researchers for it before using or passing on the data."
)

TABLE_ROWS = {
    "ratings": "one row per submitted rating that counts (cannot-judge ratings included): canonical and raw "
    "values, confidences, context tags, time on task; (task, worker, label) = (clip_id, annotator_id, valence)",
    "clip_labels": "one row per rated clip: the distribution of its ratings and every rating (the training "
    "table)",
    "self_reports": "one row per self-report of a clip in this export whose filmed participant consented to "
    "its export: the person's own valence and arousal for the whole clip or a window of it, raw and canonical, "
    "confidence, their own context tags, when and how it was given",
    "clips": "one row per clip that has a rating in this export: media facts, salted participant id, split and "
    "split group",
    "annotators": "one row per annotator with a rating in this export: salted id, how they joined, counts, "
    "reliability from the agreement report; no username, e-mail, crowd id, user agent or free text",
}
PERCEIVED_AFFECT = (
    "These labels are perceived affect in context, under uncertainty: how pleasant or unpleasant (valence) "
    "and how calm or excited (arousal) the person in a clip seemed to each annotator, given what the clip "
    "showed of the situation, with the annotator's confidence and the option to say the clip could not be "
    "judged. They are not detected emotions, not what the filmed person felt, and not a ground truth: "
    "annotators disagree, and their disagreement is part of the data (every clip carries the distribution "
    "of its ratings, not one label)."
)
TWO_PERSPECTIVES = (
    "Two perspectives are kept apart. The annotators' ratings (`ratings`, and the distribution in "
    "`clip_labels`) are perceived affect: how the filmed person seemed to observers. Where the filmed person "
    "gave a self-report (`self_reports`, and `clip_labels.self_valence` / `self_arousal` beside the "
    "distribution, never inside it), it is experienced affect: what they reported feeling, in their own "
    "words and scale, often after the fact. The two differ (people show less, more or other than they feel; "
    "observers read faces and situations their own way), and neither is the ground truth: a self-report is "
    "one person's account on an instrument, the observers' distribution a set of impressions. Do not train on "
    "one as if it were the other, and do not treat their gap as an error of either side."
)
SELF_VALUE = (
    "A clip's self value (`clip_labels.self_valence`, `self_arousal`) is, per dimension, "
    + SELF_VALUE_RULE
    + " (a person who reported 0-5 s and 5-15 s contributes 1/3 and 2/3); `self_reports_used` counts the "
    "reports behind it. It is computed by labeling.agreement.self_report_per_clip, the same definition the "
    "platform's agreement report uses. The gap (`gap_valence`, `gap_arousal`) is "
    + GAP_RULE
    + "; it is null when the clip has no self-report in this export or no judged rating."
)
AI_ACT = (
    "Inferring the emotions of a natural person in the areas of workplace and education institutions is "
    "prohibited in the European Union since 2 February 2025 (AI Act, Regulation (EU) 2024/1689, "
    "Art. 5(1)(f)), except where the system is intended for medical or safety reasons. Do not use this "
    "dataset to build, train or evaluate such a system."
)
INTENDED_USES = [
    "Training and evaluating models that predict the distribution of perceived valence and arousal for a "
    "video clip (soft targets: the 2-D histogram, the 1-D histograms, or the mean and covariance).",
    "Studying how observers disagree about affect, how context and confidence relate to that disagreement, "
    "and how many annotators a clip needs (the per-rating table keeps every annotator's ratings).",
    "Benchmarking crowd-aggregation and learning-from-disagreement methods (the ratings table maps onto "
    "(task, worker, label) by renaming columns).",
]
OUT_OF_SCOPE = [
    AI_ACT,
    "Any decision about a person (hiring, grading, credit, insurance, policing, border control, health "
    "diagnosis): perceived affect is an observer's impression, not a fact about the person filmed.",
    "Treating a clip's mean rating, or the most frequent grid cell, as the person's true emotion, or "
    "mapping the labels onto discrete emotion categories as if they had been measured.",
    "Identifying, re-identifying or profiling the filmed participants or the annotators (ids are salted "
    "pseudonyms; do not try to link them to other data).",
]
LIMITATIONS = [
    "The labels say how people seemed to the annotators of this study, with their instructions, interface "
    "and clips; they do not transfer to other populations, cultures, recording conditions or instruments "
    "without new evidence.",
    "Few ratings per clip make a noisy distribution: read n_ratings, n_cannot_judge and the agreement "
    "figures before trusting a clip's histogram; a clip with one judged rating has no sd or covariance.",
    "Rating scales differ between scheme versions (see the scheme versions); canonical values put them on "
    "one [-1, 1] scale linearly, which assumes equal spacing of the points.",
    "Withdrawn participants and annotators are left out, so the data are not a random sample of what was "
    "filmed or rated.",
]
BIASES = [
    "Annotators were recruited by the study's researchers (accounts, invitations, or a crowd platform; see "
    "the annotators table for how each joined); their demographics were not collected by the platform, so "
    "the data cannot show whose perceptions they represent.",
    "Perceived affect depends on the observer's culture, language and familiarity with the people and "
    "situations filmed, and on the instrument's anchors and examples.",
    "The clips and the people in them were chosen by the study; their selection bounds what a model trained "
    "on them can learn.",
]
SENSITIVE = (
    "The clips show people, whose faces and voices are personal data, and ratings of how they seemed to "
    "feel, which may be sensitive. The tables hold no names, e-mail addresses, usernames, crowd-worker ids "
    "or user agents: annotators and filmed participants appear only as salted ids ({salt}). Free-text notes "
    "and cannot-judge reasons are {free_text}. Media files are {media}. Annotator demographics were not "
    "collected."
)
MAINTENANCE = (
    "This is version {version} of the study's exports, an immutable snapshot of the labels up to annotation "
    "id {last_id}{supersedes}. A later build is a new version with its own folder; older ones never change. "
    "When a filmed participant or an annotator withdraws, every later export leaves out all of their data, "
    "and exports built before are marked as holding withdrawn data: their downloads are refused and they "
    "can be deleted. Check a copy with `python manage.py verify_export DIR` (the sha256 of every file "
    "against manifest.json), and use the newest export of the study."
)


def layout_from_manifest(data: dict) -> Layout:
    """The export's Layout from its manifest entry (Layout.as_dict(), which adds grid_edges)."""
    return Layout(
        grid=(int(data["grid"][0]), int(data["grid"][1])),
        valence_bins=tuple(float(x) for x in data["valence_bins"]),
        arousal_bins=tuple(float(x) for x in data["arousal_bins"]),
        bins_from=str(data["bins_from"]),
        tags=tuple(str(t) for t in data["tags"]),
    )


def salt_text(parameters: dict) -> str:
    if parameters.get("stable_salt"):
        return "salted with one salt kept for the study's series of releases, so ids match across its exports"
    return "salted per export, so ids differ between exports and cannot be joined across them"


@dataclass
class Facts:
    """An export's facts (see `gather`)."""

    folder: Path
    export: Export
    study: Study
    manifest: dict
    layout: Layout
    # table -> split -> rows, only for splits that hold rows (Hugging Face datasets cannot load an empty split)
    splits_with_rows: dict[str, list[str]]
    parquet: dict[str, dict[str, str]]  # table -> split -> relative path
    report: dict | None  # the manifest's agreement_report entry plus "result" (its JSON), or None
    annotators_per_clip: dict[int, int]  # n_annotators -> clips
    judged_per_clip: dict[int, int]  # judged ratings (n_ratings - n_cannot_judge) -> clips
    joined_via: dict[str, int]
    first_rating: datetime | None
    last_rating: datetime | None
    scheme_versions: list[dict] = field(default_factory=list)
    # self_reports: rows by instrument, by source, and how many rate the whole clip (the rest: windows)
    self_report_instruments: dict[str, int] = field(default_factory=dict)
    self_report_sources: dict[str, int] = field(default_factory=dict)
    self_report_whole: int = 0
    clips_with_self_value: int = 0

    @property
    def parameters(self) -> dict:
        return self.manifest.get("parameters") or self.export.parameters

    def rows(self, table: str) -> int:
        return int(self.manifest["tables"].get(table, {}).get("rows", 0))

    def split_rows(self, table: str) -> dict[str, int]:
        return {k: int(v) for k, v in self.manifest["tables"].get(table, {}).get("splits", {}).items()}

    def splits_of(self, table: str) -> tuple[str, ...]:
        return (FULL_SPLIT,) if table == "annotators" else SPLIT_NAMES

    @property
    def free_text(self) -> bool:
        return bool(self.manifest.get("free_text_included"))

    @property
    def media_files(self) -> int:
        return int(self.manifest.get("media_included") or 0)

    def sensitive(self) -> str:
        return SENSITIVE.format(
            salt=salt_text(self.parameters),
            free_text="included in this export (the researcher opted in; read them before sharing)"
            if self.free_text
            else "left out (those columns are null)",
            media=f"included for {self.media_files} clips whose participants consented to sharing"
            if self.media_files
            else "not included",
        )

    def maintenance(self) -> str:
        sup = self.manifest["export"].get("supersedes")
        return MAINTENANCE.format(
            version=self.export.version,
            last_id=self.manifest["watermark"]["last_annotation_id"],
            supersedes=f"; it supersedes version {sup['version']}" if sup else "",
        )

    def consent_scopes(self) -> str:
        """What the participants' consent scopes left out of this export, in counts (never who)."""
        scopes = self.manifest.get("consent_scopes") or {}
        if not scopes:
            return "This export's manifest records no consent scopes (it was built before they existed)."
        labels = scopes.get("labels_export") or {}
        reports = scopes.get("self_reports_export") or {}
        media = scopes.get("media_sharing") or {}
        parts = [
            "Each filmed participant's consent scopes were applied by the platform's export selectors, never by "
            "a filter of the exporter's own. Labels: "
            f"{labels.get('participants_left_out', 0)} participants did not consent to their labels leaving "
            f"the platform, so their {labels.get('clips_left_out', 0)} clips and "
            f"{labels.get('ratings_left_out', 0)} ratings are in no table (ratings, clip_labels, self_reports, "
            "clips).",
            "Self-reports: "
            f"{reports.get('participants_left_out', 0)} participants did not consent to their self-reports "
            f"being exported ({reports.get('self_reports_left_out', 0)} self-reports left out; their clips' "
            "self columns are null); "
            f"{reports.get('self_reports_of_clips_not_exported', 0)} self-reports that could be exported are "
            "about clips not in this export (no label that may be exported) and are left out too.",
        ]
        if media.get("requested"):
            parts.append(
                f"Media: copied only for participants who consented to sharing; {media.get('clips_left_out', 0)} "
                f"clips of {media.get('participants_left_out', 0)} participants who did not, and "
                f"{media.get('clips_without_participant', 0)} clips without a participant, are not included."
            )
        else:
            parts.append("Media: not requested for this export, so none are included.")
        return " ".join(parts)

    def annotations_per_item(self) -> str:
        """K, the observed distribution of annotators per clip, and what it means for the histograms."""
        k = self.study.overlap_k
        dist = ", ".join(f"{n}: {c}" for n, c in sorted(self.annotators_per_clip.items())) or "no clips"
        extra = ""
        if self.study.extra_annotator_sd_threshold is not None:
            cap = self.study.extra_annotator_cap_k or k + 1
            extra = (
                f" Clips whose valence or arousal sd exceeded {self.study.extra_annotator_sd_threshold:g} "
                f"after an agreement run were given one more annotator, up to {cap}."
            )
        return (
            f"The study asked for K = {k} distinct annotators per clip.{extra} Observed annotators per clip "
            f"(annotators: clips): {dist}."
        )


def _counts(folder: Path, paths: list[str], columns: list[str], combine=None) -> Counter:
    """value -> rows, over a table's files, of one column (or of `combine` over several), counted by pyarrow
    without its thread pool and without a Python object per row (200,000 clips must cost next to nothing)."""
    out: Counter = Counter()
    for path in paths:
        table = pq.ParquetFile(folder / path).read(columns=columns, use_threads=False)
        values = combine(*table.columns) if combine else table.column(0)
        for item in pc.value_counts(values).to_pylist():
            out[item["values"]] += item["counts"]
    return out


def _time_range(path: Path, column: str) -> list[datetime]:
    """The lowest and highest value of a timestamp column, from the row groups' statistics (the data are
    read only when a row group has none: reading a million timestamps costs tens of MB of memory)."""
    meta = pq.ParquetFile(path).metadata
    index = meta.schema.names.index(column)
    out: list[datetime] = []
    for i in range(meta.num_row_groups):
        stats = meta.row_group(i).column(index).statistics
        if stats is not None and stats.has_min_max:
            out += [stats.min, stats.max]
        else:
            values = pq.ParquetFile(path).read_row_group(i, columns=[column], use_threads=False).column(0)
            out += [x.as_py() for x in pc.min_max(values).values() if x.is_valid]
    return out


def _scheme_versions(manifest: dict) -> list[dict]:
    """The manifest's scheme versions, each with its raw -> canonical mapping (labeling.scheme)."""
    out = []
    for entry in manifest.get("scheme_versions", []):
        spec = entry["spec"]
        lo, hi = raw_range(spec)
        points = (
            [(p, to_canonical(spec, p)) for p in range(int(lo), int(hi) + 1)]
            if spec["instrument"] != "slider"
            else []
        )
        out.append({**entry, "raw_range": (lo, hi), "points": points})
    return out


def _report(entry: dict | None) -> dict | None:
    if not entry:
        return None
    report = AgreementReport.objects.filter(pk=entry.get("id"), status=AgreementReport.Status.DONE).first()
    if report is None or not report.result:
        return None
    return {**entry, "result": report.result}


def gather(folder: Path, *, export: Export, manifest: dict) -> Facts:
    """Read what the card and croissant.json need: the manifest's figures, a few columns of the folder's
    Parquet files (annotators per clip, collection dates), the study and its latest agreement report."""
    folder = Path(folder)
    parquet: dict[str, dict[str, str]] = {}
    for f in manifest.get("files", []):
        if f.get("table") and f.get("format", "parquet") == "parquet":
            parquet.setdefault(f["table"], {})[f["split"]] = f["path"]
    splits_with_rows = {
        table: [s for s in (FULL_SPLIT, *SPLIT_NAMES) if int(info.get("splits", {}).get(s, 0)) > 0]
        for table, info in manifest["tables"].items()
    }
    label_files = list(parquet.get("clip_labels", {}).values())
    per_clip = _counts(folder, label_files, ["n_annotators"])
    judged = _counts(folder, label_files, ["n_ratings", "n_cannot_judge"], pc.subtract)
    joined = _counts(folder, list(parquet.get("annotators", {}).values()), ["joined_via"])
    report_files = list(parquet.get("self_reports", {}).values())
    instruments = _counts(folder, report_files, ["instrument"])
    sources = _counts(folder, report_files, ["source"])
    whole = _counts(folder, report_files, ["start_s"], pc.is_null)
    with_self = _counts(folder, label_files, ["self_reports_used"], lambda used: pc.greater(used, 0))
    times = [
        t for path in parquet.get("ratings", {}).values() for t in _time_range(folder / path, "created_at")
    ]
    first, last = (min(times), max(times)) if times else (None, None)
    return Facts(
        folder=folder,
        export=export,
        study=export.study,
        manifest=manifest,
        layout=layout_from_manifest(manifest["layout"]),
        splits_with_rows=splits_with_rows,
        parquet=parquet,
        report=_report(manifest.get("agreement_report")),
        annotators_per_clip=dict(sorted(per_clip.items())),
        judged_per_clip=dict(sorted(judged.items())),
        joined_via=dict(sorted(joined.items())),
        first_rating=first,
        last_rating=last,
        scheme_versions=_scheme_versions(manifest),
        self_report_instruments=dict(sorted(instruments.items())),
        self_report_sources=dict(sorted(sources.items())),
        self_report_whole=int(whole.get(True, 0)),
        clips_with_self_value=int(with_self.get(True, 0)),
    )


def perceived_vs_experienced(facts: Facts) -> dict[str, Any]:
    """The agreement report's perceived-vs-experienced figures as the card shows them, read defensively (the
    section may be absent, from an older report, or malformed): {"status": "absent" | "withheld" | "shown",
    "rows": [per dimension: n_clips, r, ccc, mean_gap with intervals], ...}. They are withheld when a
    consent scope left self-reports or labels out of this export, since the report was computed over every
    self-report that counts for analysis, exportable or not."""
    rep = facts.report
    section = (rep or {}).get("result", {}).get("perceived_vs_experienced")
    if not isinstance(section, dict) or not isinstance(section.get("dimensions"), dict):
        return {"status": "absent"}
    scopes = facts.manifest.get("consent_scopes") or {}
    left_out = sum(
        int((scopes.get(scope) or {}).get("participants_left_out") or 0)
        for scope in ("labels_export", "self_reports_export")
    )
    if left_out:
        return {"status": "withheld", "participants": left_out}

    def ci(value: object) -> dict:
        return value if isinstance(value, dict) else {}

    rows = []
    for dim in DIMENSIONS:
        d = section["dimensions"].get(dim)
        if not isinstance(d, dict):
            continue
        rows.append(
            {
                "dimension": dim,
                "n_clips": d.get("n_clips"),
                "n_participants": d.get("n_participants"),
                "pearson_r": ci(d.get("pearson_r")),
                "ccc": ci(d.get("ccc")),
                "mean_gap": ci(d.get("mean_gap")),
                "share_outside_range": d.get("share_outside_range"),
            }
        )
    mark = section.get("watermark") if isinstance(section.get("watermark"), dict) else {}
    return {
        "status": "shown",
        "rows": rows,
        "n_self_reports": section.get("n_self_reports"),
        "report_last_self_report_id": mark.get("last_self_report_id"),
    }


def num(value: object, digits: int = 3) -> str:
    """A figure for the text: a float to `digits` decimals, None as n/a."""
    return "n/a" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def agreement_rows(report: dict) -> list[dict[str, Any]]:
    """Per dimension: α interval and ordinal with their intervals, and the ICC forms the report recommends."""
    rows = []
    for dim in DIMENSIONS:
        section = report["result"].get("dimensions", {}).get(dim)
        if not section:
            continue
        icc = section.get("icc") or {}
        forms = icc.get("forms") or {}
        rows.append(
            {
                "dimension": dim,
                "alpha_interval": section.get("alpha_interval") or {},
                "alpha_ordinal": section.get("alpha_ordinal") or {},
                "n_pairable_clips": section.get("n_pairable_clips"),
                "icc": {name: forms[name] for name in icc.get("recommended", []) if name in forms},
                "icc_all": forms,
                "icc_layout": icc.get("layout"),
                "icc_policy": icc.get("policy"),
            }
        )
    return rows
