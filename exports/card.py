"""The dataset card, README.md: a YAML header that Hugging Face `datasets` reads (one config per table, its
split files and features), then a datasheet after Gebru et al. (2021), "Datasheets for Datasets", ending
with a snippet that loads the data and builds soft targets.

Researcher-written text (the title, instructions, consent text, scheme specs and tag names) is untrusted:
in the YAML header only the title appears, on one line, quoted by the YAML emitter; in the body it is
either escaped inline or shown verbatim inside a fence longer than any run of backticks it holds, so it can
neither end the header nor change the card's structure.

Empty splits are left out of the header: `datasets` 5.x refuses to load a config in which one declared
split has no rows (huggingface/datasets#8401), so the card declares the splits that hold rows and names
the empty ones in the text; their files are still in the folder (manifest.json lists them).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from labeling.scheme import (
    CANNOT_JUDGE_REASONS,
    CONFIDENCE_ANCHORS,
    DIMENSIONS,
    GRID_PROMPT,
    GRID_QUADRANTS,
    MIDDLE,
    PROMPTS,
)
from labeling.services.annotations import FULL_VIEW_FRACTION

from .facts import (
    AI_ACT,
    BIASES,
    DATA_AGREEMENT,
    FULL_SPLIT,
    INTENDED_USES,
    LIMITATIONS,
    OUT_OF_SCOPE,
    PERCEIVED_AFFECT,
    SELF_VALUE,
    TABLE_ROWS,
    TWO_PERSPECTIVES,
    Facts,
    agreement_rows,
    gather,
    num,
    perceived_vs_experienced,
    salt_text,
)
from .models import Export
from .tables import AGGREGATION, SPLIT_NAMES, schemas

# clip_labels, the training table, first
CONFIG_ORDER = ("clip_labels", "ratings", "self_reports", "clips", "annotators")
TAGS = [
    "affective-computing",
    "valence",
    "arousal",
    "soft-labels",
    "perceived-affect",
    "annotator-disagreement",
    "self-report",
]
SIZE_CATEGORIES = [
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
    (100_000_000, "10M<n<100M"),
    (1_000_000_000, "100M<n<1B"),
]
HF_DTYPES = {"double": "float64", "float": "float32", "halffloat": "float16"}


# --- Hugging Face header ------------------------------------------------------------------------------------


def hf_feature(type_: pa.DataType) -> dict:
    """One column's feature in the YAML form `datasets` reads (Features._from_yaml_list)."""
    if pa.types.is_dictionary(type_):
        return hf_feature(type_.value_type)
    if pa.types.is_fixed_size_list(type_) or pa.types.is_list(type_):
        inner = hf_feature(type_.value_type)
        out: dict = {"list": inner.get("dtype", inner.get("struct", inner))}
        if pa.types.is_fixed_size_list(type_):
            out["length"] = type_.list_size
        return out
    if pa.types.is_struct(type_):
        return {"struct": [{"name": f.name, **hf_feature(f.type)} for f in type_]}
    return {"dtype": HF_DTYPES.get(str(type_), str(type_))}


def hf_features(schema: pa.Schema) -> list[dict]:
    """The features of a table; its `split` column, a string in the files, is declared a class label
    (datasets casts the strings to 0 = train, 1 = validation, 2 = test on load)."""
    out = []
    for f in schema:
        if f.name == "split":
            names = {str(i): name for i, name in enumerate(SPLIT_NAMES)}
            out.append({"name": f.name, "dtype": {"class_label": {"names": names}}})
        else:
            out.append({"name": f.name, **hf_feature(f.type)})
    return out


def _data_bytes(facts: Facts, table: str, split: str) -> int:
    """Uncompressed bytes of a split's data (from the Parquet footer), the figure `datasets` calls num_bytes."""
    meta = pq.ParquetFile(facts.folder / facts.parquet[table][split]).metadata
    return sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))


def type_name(type_: pa.DataType) -> str:
    """A column's type in the docs' words: int64, float64[25] (fixed length), list<string>, struct<...>."""
    if pa.types.is_dictionary(type_):
        return type_name(type_.value_type)
    if pa.types.is_fixed_size_list(type_):
        return f"{type_name(type_.value_type)}[{type_.list_size}]"
    if pa.types.is_list(type_):
        return f"list<{type_name(type_.value_type)}>"
    if pa.types.is_struct(type_):
        return "struct<" + ", ".join(f"{f.name}: {type_name(f.type)}" for f in type_) + ">"
    if pa.types.is_timestamp(type_):
        return f"timestamp[{type_.unit}, {type_.tz}]"
    return HF_DTYPES.get(str(type_), str(type_))


def columns_markdown(schema: pa.Schema) -> str:
    """A table's columns as a Markdown table (the card and docs/exports.md, where a test holds it to the
    schema)."""
    return table(
        ["column", "type", "null", "meaning"],
        [
            [
                f"`{f.name}`",
                f"`{type_name(f.type)}`",
                "yes" if f.nullable else "never",
                (f.metadata or {}).get(b"description", b"").decode().replace("|", "\\|"),
            ]
            for f in schema
        ],
    )


def one_line(text: str) -> str:
    """Researcher text for a single line: every run of whitespace (line breaks included) is one space."""
    return " ".join(str(text).split())


def header(facts: Facts) -> dict:
    """The YAML front matter (a dict; `header_text` dumps it)."""
    tables = schemas(facts.layout)
    configs, infos = [], []
    for table in CONFIG_ORDER:
        splits = [s for s in facts.splits_with_rows.get(table, []) if s in facts.parquet.get(table, {})]
        if not splits:
            continue
        config: dict = {
            "config_name": table,
            "data_files": [{"split": s, "path": facts.parquet[table][s]} for s in splits],
        }
        if table == "clip_labels":
            config["default"] = True
        configs.append(config)
        rows = facts.split_rows(table)
        infos.append(
            {
                "config_name": table,
                "features": hf_features(tables[table]),
                "splits": [
                    {"name": s, "num_examples": rows[s], "num_bytes": _data_bytes(facts, table, s)}
                    for s in splits
                ],
            }
        )
    largest = max((facts.rows(t) for t in tables), default=0)
    return {
        "pretty_name": one_line(facts.study.title) or facts.study.slug,
        "license": "other",
        "license_name": "study-data-agreement",
        "task_categories": ["video-classification"],
        "tags": TAGS,
        "size_categories": [next((c for n, c in SIZE_CATEGORIES if largest < n), "n>1T")],
        "configs": configs,
        "dataset_info": infos,
    }


def header_text(data: dict) -> str:
    """YAML, ASCII only (other characters escaped), one scalar per line: no value can start a line with ---."""
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=False, width=2**31, default_flow_style=False)


# --- Markdown helpers ---------------------------------------------------------------------------------------

_INLINE_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~&!])")


def inline(text: str) -> str:
    """Untrusted text inside a Markdown line: one line, with the characters that could start markup or HTML
    backslash-escaped (CommonMark renders them literally)."""
    return _INLINE_SPECIAL.sub(r"\\\1", one_line(text))


def fence(text: str, info: str = "text") -> str:
    """Untrusted text verbatim in a code fence longer than any run of backticks inside it."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{info}\n{text.rstrip()}\n{ticks}"


def bullets(items: list[str]) -> str:
    return "\n".join(f"- {item}" for item in items)


def table(head: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _nice(value: float) -> str:
    return f"{value:g}"


# --- The datasheet ------------------------------------------------------------------------------------------


def _intro(f: Facts) -> str:
    m, e = f.manifest, f.manifest["export"]
    title = inline(f.study.title) or inline(f.study.slug)
    sup = e.get("supersedes")
    return "\n".join(
        [
            f"# {title}: perceived affect labels (export v{f.export.version})",
            "",
            f"> **What these labels are.** {PERCEIVED_AFFECT}",
            ">",
            f"> **Not for emotion recognition at work or in education.** {AI_ACT}",
            "",
            f"Study `{f.study.slug}`, export {e['id']} (version {e['version']}"
            + (f", superseding version {sup['version']}" if sup else "")
            + f"), built {e.get('finished_at') or e.get('created_at')} by code version "
            f"`{e.get('code_version') or 'unknown'}` from the labels up to annotation id "
            f"{m['watermark']['last_annotation_id']} ({m['watermark'].get('at')}). "
            f"{f.rows('clip_labels')} clips, {f.rows('ratings')} ratings, {f.rows('annotators')} annotators, "
            f"{f.rows('self_reports')} self-reports of the filmed people ({f.clips_with_self_value} clips with "
            "one)"
            + (
                f"; self-reports up to id {m['watermark']['last_self_report_id']}."
                if m["watermark"].get("last_self_report_id") is not None
                else "."
            ),
            "",
            f"> **Perceived and experienced.** {TWO_PERSPECTIVES}",
            "",
            "The files, their sizes and sha256 are listed in `manifest.json`; `croissant.json` describes the same "
            "tables in MLCommons Croissant. Every column is described under Composition.",
        ]
    )


def _files(f: Facts) -> str:
    rows = []
    for entry in f.manifest.get("files", []):
        if entry.get("table"):
            rows.append(
                [
                    f"`{entry['path']}`",
                    entry["table"],
                    entry.get("split", ""),
                    entry.get("format", ""),
                    entry.get("rows", ""),
                    entry.get("bytes", ""),
                ]
            )
    empty = [
        f"{t}/{s}"
        for t in CONFIG_ORDER
        for s in f.splits_of(t)
        if t in f.manifest["tables"] and s not in f.splits_with_rows.get(t, [])
    ]
    note = (
        f"\n\nEmpty splits (their files exist, with the full schema, but are not declared to `datasets`, "
        f"which cannot load a split without rows): {', '.join(empty)}."
        if empty
        else ""
    )
    return "## Files\n\n" + table(["file", "table", "split", "format", "rows", "bytes"], rows) + note


def _motivation(f: Facts) -> str:
    return "\n\n".join(
        [
            "## Motivation",
            "The dataset was collected on an open annotation platform built to record affect the way the "
            "evidence asks for: valence and arousal rather than emotion words, the context the annotator "
            "could see with every rating, how sure the annotator was (or that the clip could not be judged), "
            "and several annotators per clip, whose disagreement is kept rather than averaged away. It is "
            f"the study “{inline(f.study.title)}”, run by its researchers; who funded it and why it was "
            "made are theirs to state (the platform does not record it).",
            "The export serves people training models on these labels: every clip carries the distribution "
            "of its ratings (soft targets), and every individual rating is kept beside it under the same ids.",
        ]
    )


def _composition(f: Facts) -> str:
    lay = f.layout
    edges = lay.grid_edges()
    parts = ["## Composition"]
    parts.append(
        table(
            ["table", "a row is", "rows", *SPLIT_NAMES, FULL_SPLIT],
            [
                [
                    f"`{t}`",
                    TABLE_ROWS[t],
                    f.rows(t),
                    *[f.split_rows(t).get(s, "") for s in (*SPLIT_NAMES, FULL_SPLIT)],
                ]
                for t in CONFIG_ORDER
                if t in f.manifest["tables"]
            ],
        )
    )
    parts.append(
        f"**The 2-D histogram** (`hist2d`, `hist2d_counts`) has {lay.grid[0]} valence × {lay.grid[1]} arousal "
        f"cells of equal width over [-1, 1]²; it is row-major, valence bin first: cell index = valence_bin × "
        f"{lay.grid[1]} + arousal_bin. Bin i covers [edge i, edge i+1); the last bin includes 1.\n\n"
        f"- valence edges: {', '.join(_nice(x) for x in edges['valence'])}\n"
        f"- arousal edges: {', '.join(_nice(x) for x in edges['arousal'])}"
    )
    source = (
        "the instrument's own points (every scheme version uses the same points instrument)"
        if lay.bins_from == "points"
        else "equal-width bins (a slider, or instruments that differ between scheme versions); these are "
        "their centres"
    )
    rule = (
        "A rating falls in the bin of its own point"
        if lay.bins_from == "points"
        else "A rating falls in the bin that holds it, with the 2-D histogram's rule (bin i covers "
        "[edge i, edge i+1), the last includes 1)"
    )
    parts.append(
        f"**The 1-D histograms** (`valence_hist`, `arousal_hist`) are on {source}. {rule}:\n\n"
        f"- valence bins: {', '.join(_nice(x) for x in lay.valence_bins) or 'none'}\n"
        f"- arousal bins: {', '.join(_nice(x) for x in lay.arousal_bins) or 'none'}"
    )
    tag_lines = "\n".join(f"{i:>3}  {tag}" for i, tag in enumerate(lay.tags)) or "(no context tags)"
    parts.append(
        "**Context tags** (`tag_counts[i]` and `tag_proportions[i]` count the ratings that chose tag i; the "
        "vocabulary is the study's, group:tag, in scheme order, the union over its scheme versions):\n\n"
        + fence(tag_lines)
    )
    tables = schemas(lay)
    parts.append(
        "**Columns.** Each table's columns, their types (a fixed-length list shows its length) and meaning; "
        "the same descriptions are in each Parquet file's schema (field metadata `description`).\n\n"
        + "\n\n".join(f"`{t}`:\n\n{columns_markdown(tables[t])}" for t in CONFIG_ORDER)
    )
    judged = ", ".join(f"{n}: {c}" for n, c in f.judged_per_clip.items()) or "no clips"
    parts.append(
        f"**Annotators per clip.** {f.annotations_per_item()} Judged ratings per clip (ratings: clips), the "
        f"counts each clip's distribution rests on: {judged}."
    )
    parts.append(
        "**Missing values are nulls, never sentinel codes.** A rating of a clip that could not be judged has "
        "null valence and arousal and `cannot_judge` = true; an sd is null below 2 judged ratings, a "
        "covariance likewise; a histogram is null for a clip without a judged rating; a clip or annotator "
        "missing from the agreement report has null report figures; a clip without a self-report in this export "
        "has null `self_valence`, `self_arousal`, `gap_valence` and `gap_arousal` and `self_reports_used` = 0; "
        "a self-report for the whole clip has null `start_s` and `end_s`."
    )
    parts.append(
        "**Identifiers.** `clip_id` and `rating_id` are the platform's ids, stable across the study's exports. "
        f"Annotator and participant ids are {salt_text(f.parameters)}; they are pseudonyms, not names."
    )
    return "\n\n".join(parts)


def _scheme(f: Facts) -> str:
    out = []
    for entry in f.scheme_versions:
        spec = entry["spec"]
        lo, hi = entry["raw_range"]
        head = (
            f"**Scheme version {entry['version']}** ({entry.get('n_ratings', 'n/a')} ratings in this export): "
            f"instrument `{spec['instrument']}`"
        )
        if spec["instrument"] == "slider":
            head += ", a continuous slider from -1 to 1 per dimension (the raw value is the canonical value)"
        else:
            head += f", {spec['points']} points per dimension"
        head += (
            f"; confidence {'asked, 1..' + str(spec['confidence_points']) if spec['ask_confidence'] else 'not asked'}"
            f"; free-text context note {'offered' if spec.get('context_note') else 'not offered'}."
        )
        lines = [head, ""]
        for dim in DIMENSIONS:
            p = PROMPTS[dim]
            lines.append(
                f"- {p['label']}: “{p['question']}” — anchors “{p['low']}” (raw {_nice(lo)}, canonical -1), "
                f"“{MIDDLE}” (the middle, canonical 0), “{p['high']}” (raw {_nice(hi)}, canonical 1)."
            )
        if spec["instrument"] == "grid":
            quads = ", ".join(f"{k}: “{v}”" for k, v in GRID_QUADRANTS.items())
            lines.append(
                f"- The affect grid asked: “{GRID_PROMPT}” Quadrant labels (a reading aid): {quads}."
            )
        if spec["ask_confidence"]:
            lines.append(
                f"- Confidence: 1 = “{CONFIDENCE_ANCHORS[0]}” … {spec['confidence_points']} = "
                f"“{CONFIDENCE_ANCHORS[1]}”, per dimension."
            )
        if entry["points"]:
            mapping = ", ".join(f"{_nice(r)} → {c:.4g}" for r, c in entry["points"])
            lines.append(f"- Raw → canonical: {mapping}.")
        lines += [
            "",
            "The scheme exactly as stored (context groups, tags and labels as annotators saw them):",
            "",
        ]
        # keys sorted: PostgreSQL's jsonb does not keep their order (lists, which carry it, keep theirs)
        lines.append(fence(json.dumps(spec, indent=2, ensure_ascii=False, sort_keys=True), "json"))
        out.append("\n".join(lines))
    return "\n\n".join(out) or "No scheme version has ratings in this export."


def _collection(f: Facts) -> str:
    s = f.study
    joined = ", ".join(f"{k}: {v}" for k, v in f.joined_via.items()) or "none"
    when = (
        f"Ratings in this export were submitted between {f.first_rating.isoformat()} and "
        f"{f.last_rating.isoformat()} (UTC)."
        if f.first_rating and f.last_rating
        else "The export holds no ratings."
    )
    participants = f.manifest.get("splits", {}).get("participants") or {}
    n_participants = sum(int(v) for v in participants.values()) if isinstance(participants, dict) else 0
    parts = [
        "## Collection process",
        f"**Clips.** {f.rows('clips')} video clips, uploaded by the study's researchers and checked on upload "
        f"(decoded; duration, frame rate, size and sha256 recorded). {n_participants} filmed participants are "
        "linked to clips by a pseudonymous code (salted here); a clip may have none. " + when,
        f"**Annotators** joined the study by account, invitation or a crowd link (annotators in this export, "
        f"by how they joined: {joined}). Each rated clips one at a time in the browser, in the order the "
        "platform's queue gave them (breadth-first towards K annotators per clip), never seeing another "
        "annotator's ratings. "
        + (
            f"The clip had to be played to the end (at least {FULL_VIEW_FRACTION:.0%} of its duration) before a "
            "rating was accepted; "
            if s.require_full_view
            else "Playing the clip to the end was not required; "
        )
        + "`watched_fraction` and `time_on_task_ms` record what each annotator did.",
        "**What annotators agreed to.** Before their first clip every annotator accepted the study's consent "
        "text, verbatim:",
        fence(s.consent_text or "(no consent text)", "markdown"),
        "**Instructions, exactly as annotators saw them** (Markdown source; the rating page rendered it):",
        fence(s.instructions or "(no instructions)", "markdown"),
        _self_reports_collected(f),
        "**The rating scales.** Annotators rated valence and arousal on each scheme version's instrument, "
        "chose context tags (what they could see of the setting, the social situation, the activity and what "
        "happened before), said how sure they were, and could instead say “I cannot judge this clip”, "
        f"picking a preset reason ({'; '.join(f'“{r}”' for r in CANNOT_JUDGE_REASONS)}) or typing one.",
        _scheme(f),
    ]
    return "\n\n".join(parts)


def _self_reports_collected(f: Facts) -> str:
    n = f.rows("self_reports")
    if not n:
        return (
            "**Self-reports (experienced affect).** This export holds no self-report of the filmed people (none "
            "was given, none that counts was consented to export, or none is about a clip in this export)."
        )
    instruments = ", ".join(f"{inline(str(k))}: {v}" for k, v in f.self_report_instruments.items())
    sources = ", ".join(f"{inline(str(k))}: {v}" for k, v in f.self_report_sources.items())
    return (
        f"**Self-reports (experienced affect).** {n} self-reports in which filmed participants rated their own "
        "valence and arousal for one of their clips, imported from the study's own data collection or given "
        "in the platform through a private link of their own (with its own consent step; they never saw an "
        "annotator's rating). By instrument (sam: SAM-style points, grid: affect grid, slider: continuous): "
        f"{instruments}. By source: {sources}. {f.self_report_whole} rate the whole clip, "
        f"{n - f.self_report_whole} a time window of it (`start_s`, `end_s`, media seconds). Raw values are "
        "kept beside the canonical ones with the same mapping as the annotators' (`scale_points`; a slider is "
        "already canonical)."
    )


def _perceived_vs_experienced(f: Facts) -> str:
    head = f"**Perceived beside experienced.** {SELF_VALUE}"
    pve = perceived_vs_experienced(f)
    if pve["status"] == "absent":
        return (
            head + " The agreement report used here has no perceived-vs-experienced figures (it was not "
            "computed, or the report predates them); compute the report and export again to have them here."
        )
    if pve["status"] == "withheld":
        return (
            head
            + " The agreement report's perceived-vs-experienced figures are not shown: it was computed over "
            f"every self-report and label that counts, and {pve['participants']} participants' consent scopes "
            "keep some of those out of this export. Compute them from `clip_labels` (self_* beside the means)."
        )
    rows = [
        [
            r["dimension"],
            r["n_clips"] if r["n_clips"] is not None else "n/a",
            f"{num(r['pearson_r'].get('estimate'))} [{num(r['pearson_r'].get('low'))}, "
            f"{num(r['pearson_r'].get('high'))}]",
            f"{num(r['ccc'].get('estimate'))} [{num(r['ccc'].get('low'))}, {num(r['ccc'].get('high'))}]",
            f"{num(r['mean_gap'].get('estimate'))} [{num(r['mean_gap'].get('low'))}, "
            f"{num(r['mean_gap'].get('high'))}]",
            num(r["share_outside_range"]),
        ]
        for r in pve["rows"]
    ]
    mine = f.manifest["watermark"].get("last_self_report_id")
    theirs = pve.get("report_last_self_report_id")
    fresh = (
        " It was computed from the self-reports up to the same id as this export's."
        if theirs is not None and theirs == mine
        else f" It is not fresh for self-reports: this export reads them up to id {mine}; read the figures as an "
        "approximation, or compute a new report and export again."
    )
    return "\n\n".join(
        [
            head + " From the agreement report (self-reports up to id "
            f"{pve.get('report_last_self_report_id') if pve.get('report_last_self_report_id') is not None else 'n/a'}"
            f", {pve.get('n_self_reports') if pve.get('n_self_reports') is not None else 'n/a'} self-reports), "
            "observers' mean against the self value, per clip with both; intervals are bootstrap intervals "
            "resampling participants." + fresh,
            table(
                [
                    "dimension",
                    "clips",
                    "Pearson r",
                    "CCC",
                    "mean gap (self - observers)",
                    "share outside range",
                ],
                rows,
            ),
        ]
    )


def _agreement(f: Facts) -> str:
    rep = f.report
    if rep is None:
        return (
            "**Agreement.** No finished agreement report existed for this study when the export was built, so "
            "no agreement figures are given and the `report_*` columns are null. Compute one (the study page, "
            "or `python manage.py compute_agreement`) and build a new export."
        )
    result = rep["result"]
    fresh = (
        "It is **fresh**: it was computed from the same labels this export holds."
        if rep.get("fresh")
        else f"It is **not fresh**: it was computed from the labels up to annotation id "
        f"{rep.get('watermark_last_id')}, and this export holds labels up to "
        f"{f.manifest['watermark']['last_annotation_id']}; read its figures as an approximation, or compute "
        "a new report and export again."
    )
    boot = result.get("bootstrap", {})
    rows = []
    for row in agreement_rows(rep):
        for level in ("interval", "ordinal"):
            a = row[f"alpha_{level}"]
            rows.append(
                [
                    row["dimension"],
                    f"Krippendorff's α ({level})",
                    num(a.get("estimate")),
                    f"[{num(a.get('low'))}, {num(a.get('high'))}]",
                    a.get("n_units", row["n_pairable_clips"]),
                ]
            )
        for name, form in row["icc"].items():
            rows.append(
                [
                    row["dimension"],
                    f"{name} ({form.get('mcgraw_wong', '')}, {row['icc_layout']} layout)",
                    num(form.get("value")),
                    f"[{num(form.get('ci_low'))}, {num(form.get('ci_high'))}]",
                    "",
                ]
            )
    mixed = (result.get("notes") or {}).get("mixed_instruments")
    if mixed:
        fresh += f" Note: {inline(mixed)}"
    policies = "\n".join(
        f"- {r['dimension']}: {inline(r['icc_policy'] or 'no ICC')}" for r in agreement_rows(rep)
    )
    return "\n\n".join(
        [
            f"**Agreement** (report {rep['id']}, computed at {rep.get('computed_at') or result.get('computed_at')} "
            f"over {result.get('n_annotations', 'n/a')} ratings of {result.get('n_clips_rated', 'n/a')} clips). "
            + fresh,
            table(
                [
                    "dimension",
                    "statistic",
                    "estimate",
                    f"{int(100 * boot.get('confidence', 0.95))}% CI",
                    "clips",
                ],
                rows,
            ),
            f"α intervals are percentile bootstrap intervals ({boot.get('n_resamples', 'n/a')} resamples of "
            f"whole clips, seed {boot.get('seed', 'n/a')}), over the clips with 2 or more ratings. ICC forms "
            "after Shrout & Fleiss (1979) with McGraw & Wong (1996) intervals; the forms shown are those the "
            "report recommends for its layout:\n\n" + policies,
            "The report's per-clip sd is in `clip_labels.report_valence_sd` / `report_arousal_sd`, and its "
            "per-annotator figures in `annotators` (`*_r_loo`, `*_alpha_without`).",
        ]
    )


def _preprocessing(f: Facts) -> str:
    w = f.manifest.get("withdrawals") or {}
    return "\n\n".join(
        [
            "## Preprocessing, cleaning and labelling",
            "**Canonical scale.** Every rating is stored twice: as given (`valence_raw`, `arousal_raw`, with "
            "`instrument`, `scale_points`, `scale_min`, `scale_max`) and on the canonical scale [-1, 1] "
            "(`valence`, `arousal`). Points scales map linearly: canonical = -1 + 2 × (raw - 1) / (points - 1), "
            "so point 1 is -1, the middle point 0 and the last point 1; a slider's raw value is already "
            "canonical. The mapping of each scheme version is listed under Collection process.",
            "**Which labels count.** The labels the platform's analysis selector counts, up to the watermark: "
            f"clips of withdrawn participants and the labels of withdrawn annotators are left out everywhere "
            f"(rows, aggregates, media). Withdrawals applied through {w.get('applied_through', 'n/a')}: "
            f"{w.get('participants_withdrawn', 0)} participants and {w.get('annotators_withdrawn', 0)} "
            "annotators withdrawn at that time (counts only; who is never recorded here). Nothing is imputed "
            "and no rating is corrected or dropped as an outlier.",
            f"**Aggregation** ({AGGREGATION}). Per clip, over its judged ratings (cannot-judge ratings are "
            "counted in `n_cannot_judge` and left out of every distribution): means; sample sds and the 2 × 2 "
            "sample covariance (n - 1); `hist2d_counts` and `hist2d` (counts / judged ratings, summing to 1); "
            "`hist2d_entropy` (Shannon, bits); the 1-D histograms; tag counts over all of the clip's ratings and "
            "`tag_proportions` = counts / n_ratings; confidence means rescaled to [0, 1] as (c - 1) / "
            "(points - 1). Every rating is also kept in `clip_labels.ratings` (annotator, valence, arousal, "
            "confidences, cannot-judge).",
            _agreement(f),
            _perceived_vs_experienced(f),
            f"**Consent scopes applied.** {f.consent_scopes()}",
        ]
    )


def _uses() -> str:
    return "\n\n".join(
        [
            "## Uses",
            PERCEIVED_AFFECT,
            "**Intended uses.**\n\n" + bullets(INTENDED_USES),
            "**Out of scope.**\n\n" + bullets(OUT_OF_SCOPE),
            "**Limitations.**\n\n" + bullets(LIMITATIONS),
            "**Biases to keep in mind.**\n\n" + bullets(BIASES),
        ]
    )


def _distribution(f: Facts) -> str:
    sp = f.manifest.get("splits") or {}
    fractions = sp.get("fractions") or f.parameters.get("splits", {})
    clips = sp.get("clips") or {}
    participants = sp.get("participants") or {}
    formats = ", ".join(f.parameters.get("formats", ["parquet"]))
    return "\n\n".join(
        [
            "## Distribution",
            f"**Licence.** `other`: {DATA_AGREEMENT}",
            f"**Splits** are assigned per {sp.get('unit', 'participant (clip where none)')}, with seed "
            f"{sp.get('seed', f.parameters.get('split_seed'))} and fractions "
            + ", ".join(f"{k} {v:g}" for k, v in fractions.items())
            + ": no participant is in two splits, every table's `split` column agrees, and the assignment is "
            "stable across the study's exports while the fractions and seed stay the same (a clip once in "
            "test stays in test). Clips per split: "
            + (", ".join(f"{k} {v}" for k, v in clips.items()) or "n/a")
            + "; participants per split: "
            + (", ".join(f"{k} {v}" for k, v in participants.items()) or "n/a")
            + ".",
            f"**Formats.** {formats}. Parquet files are zstd-compressed, rows sorted by the table's key "
            "(ratings by clip_id, rating_id; clip_labels and clips by clip_id; annotators by annotator_id). In "
            "CSV, a fixed-length list `x` becomes columns x_0 … x_(n-1), a list of strings one cell joined "
            "with “|”, and `clip_labels.ratings` one JSON text cell.",
            f"**Personal and sensitive information.** {f.sensitive()} The filmed participants' consent scopes "
            "(labels export, self-reports export, media sharing) were obeyed; what each left out is counted under "
            "Preprocessing.",
        ]
    )


def _maintenance(f: Facts) -> str:
    return "## Maintenance\n\n" + f.maintenance()


def snippet(f: Facts) -> str:
    """Python that loads this export with `datasets` and builds soft targets, run from the export's folder
    (tests/exports/test_card.py executes it)."""
    split = next(iter(f.splits_with_rows.get("clip_labels", [])), "train")
    v, a = f.layout.grid
    return f"""from pathlib import Path

import numpy as np
from datasets import load_dataset

folder = str(Path.cwd())  # this export's folder, the one holding README.md
labels = load_dataset(folder, "clip_labels")  # one row per clip
ratings = load_dataset(folder, "ratings")  # one row per rating, the same clip_id

clips = labels["{split}"].filter(lambda clip: clip["hist2d"] is not None)  # clips with a judged rating
soft_2d = np.asarray(clips["hist2d"], dtype=np.float32).reshape(-1, {v}, {a})  # [clip, valence bin, arousal bin]
soft_valence = np.asarray(clips["valence_hist"], dtype=np.float32)  # on the valence bins above
soft_arousal = np.asarray(clips["arousal_hist"], dtype=np.float32)
weight = np.asarray(clips["n_ratings"]) - np.asarray(clips["n_cannot_judge"])  # judged ratings behind each
assert np.allclose(soft_2d.sum(axis=(1, 2)), 1) and np.allclose(soft_valence.sum(axis=1), 1)
print(f"{{len(clips)}} clips, soft targets {{soft_2d.shape}}, judged ratings per clip {{weight.min()}}..{{weight.max()}}")

# crowd-kit and similar libraries take (task, worker, label): rename, nothing else
crowd = ratings["{split}"].to_pandas().dropna(subset=["valence"])
crowd = crowd.rename(columns={{"clip_id": "task", "annotator_id": "worker", "valence": "label"}})
print(crowd[["task", "worker", "label"]].head())

# perceived (the observers' distribution) beside experienced (the filmed person's own report): separate columns
paired = labels["{split}"].filter(
    lambda clip: clip["self_valence"] is not None and clip["valence_mean"] is not None
)
observers = np.asarray(paired["valence_mean"], dtype=float)  # what annotators perceived, mean
own = np.asarray(paired["self_valence"], dtype=float)  # what the person reported experiencing
gap = np.asarray(paired["gap_valence"], dtype=float)  # self - observers
assert np.allclose(gap, own - observers)
print(f"{{len(paired)}} clips with a self-report, mean valence gap (self - observers): "
      + (f"{{gap.mean():+.3f}}" if len(paired) else "none"))
"""


def _self_report_snippet(f: Facts) -> str:
    """Loading the self_reports table beside the observers (only when it has rows: `datasets` cannot load
    a config without any)."""
    split = next(iter(f.splits_with_rows.get("self_reports", [])), None)
    if split is None:
        return ""
    return f"""
# every self-report (whole clip or a window of it), next to the observers' mean for the same clip
self_reports = load_dataset(folder, "self_reports")
observed = {{clip["clip_id"]: clip["valence_mean"] for part in labels.values() for clip in part}}
for report in self_reports["{split}"].select(range(min(3, self_reports["{split}"].num_rows))):
    window = "whole clip" if report["start_s"] is None else f"{{report['start_s']:g}}-{{report['end_s']:g}} s"
    print(report["clip_id"], window, "self", report["valence"], "observers", observed.get(report["clip_id"]))
"""


def _loading(f: Facts) -> str:
    if not f.splits_with_rows.get("clip_labels"):
        return "## Load it\n\nThis export holds no ratings: there is nothing to load."
    return "\n\n".join(
        [
            "## Load it",
            "With Hugging Face `datasets` (offline works: nothing is fetched), soft targets from the "
            "histograms, the per-rating table in the shape crowd-aggregation libraries take, and the filmed "
            "person's own reports paired with the observers' (never merged into the targets):",
            fence(snippet(f) + _self_report_snippet(f), "python"),
            'With pandas or pyarrow: `pandas.read_parquet("data/clip_labels/train.parquet")`. In `datasets` '
            "the `split` column is a class label (0 = train, 1 = validation, 2 = test); in the files it is "
            "the split's name.",
        ]
    )


def card_text(facts: Facts) -> str:
    body = "\n\n".join(
        [
            _intro(facts),
            _files(facts),
            _motivation(facts),
            _composition(facts),
            _collection(facts),
            _preprocessing(facts),
            _uses(),
            _distribution(facts),
            _maintenance(facts),
            _loading(facts),
        ]
    )
    return f"---\n{header_text(header(facts))}---\n\n{body}\n"


def write_card(folder: Path, *, export: Export, manifest: dict) -> Path:
    """Write README.md (the dataset card) into the export's folder and return its path."""
    path = Path(folder) / "README.md"
    path.write_text(card_text(gather(folder, export=export, manifest=manifest)), encoding="utf-8")
    return path
