"""The export's tables: names, columns, types and what each column means (the one definition the builder
writes, the dataset card and croissant.json describe, and the tests read).

Every table is written as Parquet (zstd, dictionary-encoded id columns, rows sorted by the table's key);
CSV and JSONL copies are made on request. In CSV, list columns are flattened (see `csv_columns`): a
fixed-length list `x` of length n becomes x_0 .. x_{n-1}; a variable-length list of strings becomes one
cell joined with "|"; the `ratings` list of structs in clip_labels becomes one JSON text cell.

Missing values are nulls, never sentinel codes: a rating of a clip that could not be judged has null
valence and arousal with cannot_judge = true; an sd of a single rating is null; a histogram of a clip with no
judged rating is null.

The shapes that depend on the export's parameters and the study's schemes (the 2-D grid, the 1-D histogram
bins, the tag vocabulary) are fixed per export by a `Layout`, written to manifest.json and the card.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import pyarrow as pa

SPLIT_NAMES = ("train", "validation", "test")
TABLES = ("ratings", "clip_labels", "self_reports", "clips", "annotators")
KEYS = {
    "ratings": "rating_id",
    "clip_labels": "clip_id",
    "self_reports": "self_report_id",
    "clips": "clip_id",
    "annotators": "annotator_id",
}
# The order of every file's rows (the table's sort key): ratings and self-reports by clip, then their id.
ROW_ORDER = {name: [key] for name, key in KEYS.items()} | {
    "ratings": ["clip_id", "rating_id"],
    "self_reports": ["clip_id", "self_report_id"],
}
AGGREGATION = "unweighted: every rating that counts weighs the same; no consensus label is chosen"


@dataclass(frozen=True)
class Layout:
    """The export's fixed shapes.

    grid: (valence bins, arousal bins) of equal width over [-1, 1]; hist2d is row-major, valence bin first:
      cell index = valence_bin * grid[1] + arousal_bin; bin i covers [edges[i], edges[i+1]) and the last bin
      includes 1.
    bins_1d: the canonical values of the instrument's own points when every scheme version of the study uses
      a points instrument (sam or grid) with the same number of points: a rating falls on its point. Else (a
      slider, or mixed instruments) the 2-D grid's bins along that dimension (grid[0] for valence, grid[1]
      for arousal; the same edges, so each 1-D histogram is the margin of hist2d), and bins_1d holds their
      centres. Values within 1e-9 below an edge count as on it (float noise cannot move a rating).
    tags: the study's context-tag vocabulary ("group:tag"), in scheme order, the union over scheme versions;
      tag_counts[i] counts ratings that chose tags[i].
    """

    grid: tuple[int, int] = (5, 5)
    valence_bins: tuple[float, ...] = ()
    arousal_bins: tuple[float, ...] = ()
    bins_from: str = "grid"  # "points" (the instrument's own points) or "grid"
    tags: tuple[str, ...] = field(default_factory=tuple)

    def grid_edges(self) -> dict[str, list[float]]:
        return {
            dim: [round(-1 + 2 * i / n, 12) for i in range(n + 1)]
            for dim, n in (("valence", self.grid[0]), ("arousal", self.grid[1]))
        }

    def as_dict(self) -> dict:
        return {**asdict(self), "grid_edges": self.grid_edges()}


def _f(name: str, type_: pa.DataType, doc: str, nullable: bool = True) -> pa.Field:
    return pa.field(name, type_, nullable=nullable, metadata={"description": doc})


SPLIT_DOC = "train, validation or test; assigned per filmed participant (per clip when none), seeded"
# How a clip's self-report value is derived: labeling.agreement.self_report_per_clip, the one definition the
# agreement report uses too.
SELF_VALUE_RULE = "the mean of the clip's whole-clip self-reports, else the window-length-weighted mean of its windowed ones"
GAP_RULE = "self - observers' mean (positive: the person reported more than the observers perceived)"
TS = pa.timestamp("us", tz="UTC")


def ratings_schema(layout: Layout) -> pa.Schema:
    return pa.schema(
        [
            _f(
                "rating_id",
                pa.int64(),
                "The rating's id (unique; stable across versions of the export).",
                False,
            ),
            _f("clip_id", pa.int64(), "The rated clip (clips.clip_id).", False),
            _f("annotator_id", pa.string(), "Salted annotator id (annotators.annotator_id).", False),
            _f("scheme_version", pa.int32(), "The rating scheme version the annotator was shown.", False),
            _f("valence", pa.float64(), "Valence on the canonical scale [-1, 1]; null when cannot_judge."),
            _f("arousal", pa.float64(), "Arousal on the canonical scale [-1, 1]; null when cannot_judge."),
            _f("cannot_judge", pa.bool_(), "The annotator said the clip could not be judged.", False),
            _f(
                "cannot_judge_reason",
                pa.string(),
                "The annotator's free-text reason; null unless the export includes free text.",
            ),
            _f("valence_raw", pa.float64(), "Valence as given on the instrument (see instrument, scale_*)."),
            _f("arousal_raw", pa.float64(), "Arousal as given on the instrument (see instrument, scale_*)."),
            _f("instrument", pa.string(), "sam (points), grid (2-D affect grid, points) or slider.", False),
            _f("scale_points", pa.int16(), "Points of the sam or grid scale; null for a slider."),
            _f("scale_min", pa.float64(), "Lowest raw value of the scale (1, or -1 for a slider).", False),
            _f("scale_max", pa.float64(), "Highest raw value (points, or 1 for a slider); maps to 1.", False),
            _f("valence_confidence", pa.int16(), "Confidence in the valence rating, 1..confidence_points."),
            _f("arousal_confidence", pa.int16(), "Confidence in the arousal rating, 1..confidence_points."),
            _f("confidence_points", pa.int16(), "Points of the confidence scale; null when not asked."),
            _f("context_tags", pa.list_(pa.string()), "Context tags chosen (group:tag), sorted.", False),
            _f("context_note", pa.string(), "Free-text note; null unless the export includes free text."),
            _f("time_on_task_ms", pa.int64(), "Milliseconds from the clip being shown to the submit.", False),
            _f("watched_fraction", pa.float64(), "Fraction of the clip's duration played, 0..1.", False),
            _f("created_at", TS, "When the rating was submitted (UTC).", False),
            _f("split", pa.string(), SPLIT_DOC, False),
        ]
    )


def _hist_doc(what: str) -> str:
    return f"{what}; null when the clip has no judged rating."


def clip_labels_schema(layout: Layout) -> pa.Schema:
    cells = layout.grid[0] * layout.grid[1]
    nv, na, nt = len(layout.valence_bins), len(layout.arousal_bins), len(layout.tags)
    rating = pa.struct(
        [
            pa.field("rating_id", pa.int64(), nullable=False),
            pa.field("annotator_id", pa.string(), nullable=False),
            pa.field("valence", pa.float64()),
            pa.field("arousal", pa.float64()),
            pa.field("valence_confidence", pa.int16()),
            pa.field("arousal_confidence", pa.int16()),
            pa.field("cannot_judge", pa.bool_(), nullable=False),
        ]
    )
    return pa.schema(
        [
            _f("clip_id", pa.int64(), "The clip (clips.clip_id).", False),
            _f("split", pa.string(), SPLIT_DOC, False),
            _f("n_ratings", pa.int32(), "Ratings that count, cannot-judge included.", False),
            _f("n_annotators", pa.int32(), "Distinct annotators among them.", False),
            _f("n_cannot_judge", pa.int32(), "Ratings that said the clip could not be judged.", False),
            _f("valence_mean", pa.float64(), "Mean valence of the judged ratings; null when none."),
            _f("valence_sd", pa.float64(), "Sample sd (n - 1) of valence; null below 2 judged ratings."),
            _f("arousal_mean", pa.float64(), "Mean arousal of the judged ratings; null when none."),
            _f("arousal_sd", pa.float64(), "Sample sd (n - 1) of arousal; null below 2 judged ratings."),
            _f(
                "covariance",
                pa.list_(pa.float64(), 4),
                "Sample covariance (n - 1) of (valence, arousal), row-major [vv, va, av, aa]; null below 2.",
            ),
            _f("hist2d_counts", pa.list_(pa.int32(), cells), _hist_doc("Judged ratings per grid cell")),
            _f(
                "hist2d",
                pa.list_(pa.float64(), cells),
                _hist_doc("hist2d_counts / judged ratings (sums to 1)"),
            ),
            _f("hist2d_entropy", pa.float64(), _hist_doc("Shannon entropy of hist2d in bits")),
            _f("valence_hist_counts", pa.list_(pa.int32(), nv), _hist_doc("Judged ratings per valence bin")),
            _f("valence_hist", pa.list_(pa.float64(), nv), _hist_doc("valence_hist_counts normalised")),
            _f("arousal_hist_counts", pa.list_(pa.int32(), na), _hist_doc("Judged ratings per arousal bin")),
            _f("arousal_hist", pa.list_(pa.float64(), na), _hist_doc("arousal_hist_counts normalised")),
            _f(
                "tag_counts",
                pa.list_(pa.int32(), nt),
                "Ratings that chose each tag (order: the tags list).",
                False,
            ),
            _f("tag_proportions", pa.list_(pa.float64(), nt), "tag_counts / n_ratings.", False),
            _f(
                "valence_confidence_mean",
                pa.float64(),
                "Mean valence confidence rescaled to [0, 1] ((c - 1) / (points - 1)); null when none given.",
            ),
            _f("arousal_confidence_mean", pa.float64(), "As valence_confidence_mean, for arousal."),
            _f(
                "report_valence_sd",
                pa.float64(),
                "The clip's valence sd in the latest agreement report (see the card); null if not in it.",
            ),
            _f("report_arousal_sd", pa.float64(), "As report_valence_sd, for arousal."),
            _f("ratings", pa.list_(rating), "Every rating of the clip, by rating_id.", False),
            _f("aggregation", pa.string(), "How the distribution was aggregated: " + AGGREGATION, False),
            # The filmed person's own report, beside (never inside) the observers' distribution above.
            _f(
                "self_valence",
                pa.float64(),
                "The filmed person's own valence for the clip (canonical, experienced affect): "
                + SELF_VALUE_RULE
                + " (self_reports table); null when no self-report of the clip is in the export.",
            ),
            _f("self_arousal", pa.float64(), "As self_valence, for arousal."),
            _f(
                "self_reports_used",
                pa.int32(),
                "Self-reports behind self_valence / self_arousal (the larger of the two counts); 0 when none.",
                False,
            ),
            _f(
                "gap_valence",
                pa.float64(),
                "self_valence - valence_mean: " + GAP_RULE + "; null when either is null.",
            ),
            _f("gap_arousal", pa.float64(), "As gap_valence, for arousal: self_arousal - arousal_mean."),
        ]
    )


def self_reports_schema(layout: Layout) -> pa.Schema:
    return pa.schema(
        [
            _f(
                "self_report_id",
                pa.int64(),
                "The self-report's id (unique; stable across versions of the export).",
                False,
            ),
            _f(
                "participant_id",
                pa.string(),
                "Salted id of the filmed participant who gave it (clips.participant_id).",
                False,
            ),
            _f("clip_id", pa.int64(), "The clip it is about (clips.clip_id).", False),
            _f("split", pa.string(), SPLIT_DOC, False),
            _f(
                "start_s", pa.float64(), "Start of the window it rates, media seconds; null = the whole clip."
            ),
            _f("end_s", pa.float64(), "End of the window, media seconds; null = the whole clip."),
            _f("instrument", pa.string(), "sam (points), grid (2-D affect grid, points) or slider.", False),
            _f("scale_points", pa.int16(), "Points of the sam or grid scale; null for a slider."),
            _f(
                "valence",
                pa.float64(),
                "The person's own valence on the canonical scale [-1, 1]; null when not given.",
            ),
            _f(
                "arousal",
                pa.float64(),
                "The person's own arousal on the canonical scale [-1, 1]; null when not given.",
            ),
            _f(
                "valence_raw",
                pa.float64(),
                "Valence as given on the instrument (see instrument, scale_points).",
            ),
            _f(
                "arousal_raw",
                pa.float64(),
                "Arousal as given on the instrument (see instrument, scale_points).",
            ),
            _f("valence_confidence", pa.int16(), "Confidence in the valence report, 1..confidence_points."),
            _f("arousal_confidence", pa.int16(), "Confidence in the arousal report, 1..confidence_points."),
            _f("confidence_points", pa.int16(), "Points of the confidence scale; null when not asked."),
            _f(
                "context_tags",
                pa.list_(pa.string()),
                "The person's own context tags (group:tag), sorted.",
                False,
            ),
            _f("context_note", pa.string(), "Free-text note; null unless the export includes free text."),
            _f("reported_at", TS, "When the person gave the report (UTC).", False),
            _f(
                "source",
                pa.string(),
                "imported (from a file) or platform (given through a private link).",
                False,
            ),
        ]
    )


def clips_schema(layout: Layout) -> pa.Schema:
    return pa.schema(
        [
            _f("clip_id", pa.int64(), "The clip's id.", False),
            _f("participant_id", pa.string(), "Salted id of the filmed participant; null when none."),
            _f("duration_s", pa.float64(), "Duration in seconds.", False),
            _f("fps", pa.float64(), "Frames per second.", False),
            _f("width", pa.int32(), "Frame width in pixels.", False),
            _f("height", pa.int32(), "Frame height in pixels.", False),
            _f("size_bytes", pa.int64(), "Size of the media file in bytes.", False),
            _f("container", pa.string(), "Container format.", False),
            _f("video_codec", pa.string(), "Video codec."),
            _f("has_audio", pa.bool_(), "The clip has an audio track.", False),
            _f("media_sha256", pa.string(), "SHA-256 of the media file.", False),
            _f(
                "media_file",
                pa.string(),
                "Path of the media inside the export (media/...); null unless media were included and the "
                "participant's consent allows sharing.",
            ),
            _f("split", pa.string(), SPLIT_DOC, False),
            _f(
                "split_group",
                pa.string(),
                "What the split was assigned by: the participant_id, else clip:<id>.",
                False,
            ),
        ]
    )


def annotators_schema(layout: Layout) -> pa.Schema:
    return pa.schema(
        [
            _f("annotator_id", pa.string(), "Salted annotator id.", False),
            _f("joined_via", pa.string(), "account, invite or crowd.", False),
            _f("n_ratings", pa.int32(), "Ratings that count in this export.", False),
            _f("n_cannot_judge", pa.int32(), "Of which cannot-judge.", False),
            _f(
                "valence_r_loo",
                pa.float64(),
                "From the latest agreement report: correlation of the annotator's valence ratings with the mean "
                "of the others on the same clips; null if not in the report.",
            ),
            _f("arousal_r_loo", pa.float64(), "As valence_r_loo, for arousal."),
            _f(
                "valence_alpha_without",
                pa.float64(),
                "From the latest agreement report: Krippendorff's alpha (interval) of valence without this "
                "annotator; null if not in the report.",
            ),
            _f("arousal_alpha_without", pa.float64(), "As valence_alpha_without, for arousal."),
        ]
    )


SCHEMAS = {
    "ratings": ratings_schema,
    "clip_labels": clip_labels_schema,
    "self_reports": self_reports_schema,
    "clips": clips_schema,
    "annotators": annotators_schema,
}


def schemas(layout: Layout) -> dict[str, pa.Schema]:
    return {name: make(layout) for name, make in SCHEMAS.items()}


def csv_columns(schema: pa.Schema) -> list[str]:
    """The CSV header of a table: a fixed-length list column x of length n becomes x_0 .. x_{n-1}; any other
    column (a list of strings joined with "|", the ratings list as JSON text) keeps its name."""
    names = []
    for f in schema:
        if pa.types.is_fixed_size_list(f.type):
            names.extend(f"{f.name}_{i}" for i in range(f.type.list_size))
        else:
            names.append(f.name)
    return names
