"""croissant.json: the export described in MLCommons Croissant 1.1 (JSON-LD), with the Responsible-AI
vocabulary (rai:*).

- distribution: a FileObject per file of the folder (sha256 and contentSize: every data file, CSV/JSONL
  copies, README.md), and per table a FileSet of its Parquet split files (`includes`), which the record sets
  read; the media, when included, as one FileSet (each clip's sha256 is in clips.media_sha256).
- recordSet: a split record set (cr:Split: train, validation, test, full), then one record set per table
  with a field per column: its dataType, `isArray` + `arrayShape` for lists (the fixed length, or -1), and
  `subField`s for the list of structs in clip_labels.ratings; `split` references the split record set.
- rai:*: the same statements as the dataset card (exports/facts.py), so the two cannot disagree.

Written as plain JSON (mlcroissant is a test dependency, not a runtime one); tests/exports/
test_croissant.py validates it with mlcroissant and loads records.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path, PurePosixPath

import pyarrow as pa

from labeling.scheme import DIMENSIONS, PROMPTS

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
)
from .models import Export
from .tables import ROW_ORDER, SPLIT_NAMES, TABLES, schemas

CONFORMS_TO = "http://mlcommons.org/croissant/1.1"
# The Croissant 1.1 @context, as mlcroissant 1.1 writes it (a reader warns on any other).
CONTEXT = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "arrayShape": "cr:arrayShape",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "containedIn": "cr:containedIn",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "description": {"@container": "@language"},
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isArray": "cr:isArray",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "name": {"@container": "@language"},
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}
ENCODINGS = {
    "parquet": "application/x-parquet",
    "csv": "text/csv",
    "jsonl": "application/jsonlines",
    "md": "text/markdown",
    "json": "application/json",
}
DATA_TYPES = {
    "int64": "cr:Int64",
    "int32": "cr:Int32",
    "int16": "cr:Int16",
    "double": "cr:Float64",
    "float": "cr:Float32",
    "bool": "sc:Boolean",
    "string": "sc:Text",
    "large_string": "sc:Text",
}
SPLITS_RS = "splits"
VIDEO_TYPES = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".webm": "video/webm",
    ".mov": "video/quicktime",
    ".mkv": "video/x-matroska",
    ".avi": "video/x-msvideo",
    ".ogv": "video/ogg",
}


def _data_type(type_: pa.DataType) -> str:
    if pa.types.is_dictionary(type_):
        return _data_type(type_.value_type)
    if pa.types.is_timestamp(type_):
        return "sc:DateTime"
    return DATA_TYPES[str(type_)]


def _doc(f: pa.Field) -> str:
    return (f.metadata or {}).get(b"description", b"").decode()


def _field(record_set: str, f: pa.Field, source: dict) -> dict:
    """A Croissant field for one column (`source`: the FileSet and the column to extract)."""
    out: dict = {"@type": "cr:Field", "@id": f"{record_set}/{f.name}", "name": f.name, "description": _doc(f)}
    type_ = f.type
    if pa.types.is_fixed_size_list(type_) or pa.types.is_list(type_):
        out["isArray"] = True
        out["arrayShape"] = str(type_.list_size if pa.types.is_fixed_size_list(type_) else -1)
        type_ = type_.value_type
    if pa.types.is_struct(type_):
        out["subField"] = [
            {
                "@type": "cr:Field",
                "@id": f"{record_set}/{f.name}/{sub.name}",
                "name": sub.name,
                "dataType": _data_type(sub.type),
                "source": {**source, "extract": {"column": f.name}, "transform": {"jsonPath": sub.name}},
            }
            for sub in type_
        ]
    else:
        out["dataType"] = _data_type(type_)
        out["source"] = {**source, "extract": {"column": f.name}}
    if f.name == "split":
        out["references"] = {"field": {"@id": f"{SPLITS_RS}/name"}}
    return out


def _file_id(path: str) -> str:
    return "file:" + path


def _encoding(path: str) -> str:
    return ENCODINGS.get(path.rsplit(".", 1)[-1], "application/octet-stream")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def distribution(facts: Facts) -> list[dict]:
    files = [f for f in facts.manifest.get("files", []) if not f["path"].startswith("media/")]
    listed = {f["path"] for f in files}
    card = facts.folder / "README.md"
    if "README.md" not in listed and card.exists():  # written just before croissant.json (the build order)
        data = card.stat().st_size
        files.append({"path": "README.md", "bytes": data, "sha256": _sha256(card)})
    out = []
    for f in files:
        what = (
            f"The {f['table']} table, {f.get('split')} split, as {f.get('format', 'parquet')} ({f.get('rows')} rows)."
            if f.get("table")
            else "The dataset card (datasheet and Hugging Face metadata)."
            if f["path"] == "README.md"
            else f"{f['path']}."
        )
        out.append(
            {
                "@type": "cr:FileObject",
                "@id": _file_id(f["path"]),
                "name": f["path"],
                "description": what,
                "contentUrl": f["path"],
                "contentSize": f"{f['bytes']} B",
                "encodingFormat": _encoding(f["path"]),
                "sha256": f["sha256"],
            }
        )
    for table in TABLES:
        if facts.parquet.get(table):
            out.append(
                {
                    "@type": "cr:FileSet",
                    "@id": f"parquet:{table}",
                    "name": f"{table} (Parquet)",
                    "description": f"The Parquet split files of the {table} table (one per split; each also "
                    "listed above with its sha256).",
                    "encodingFormat": ENCODINGS["parquet"],
                    "includes": f"data/{table}/*.parquet",
                }
            )
    media = Counter(
        PurePosixPath(f["path"]).suffix.lower()
        for f in facts.manifest.get("files", [])
        if f["path"].startswith("media/")
    )
    for suffix, n in sorted(media.items()):
        out.append(
            {
                "@type": "cr:FileSet",
                "@id": f"media{suffix}",
                "name": f"media{suffix}",
                "description": f"{n} video clips whose filmed participants consented to sharing, named as in "
                "clips.media_file; each clip's sha256 is clips.media_sha256 (and in manifest.json).",
                "encodingFormat": VIDEO_TYPES.get(suffix, "application/octet-stream"),
                "includes": f"media/*{suffix}",
            }
        )
    return out


def record_sets(facts: Facts) -> list[dict]:
    splits_rs = {
        "@type": "cr:RecordSet",
        "@id": SPLITS_RS,
        "name": SPLITS_RS,
        "dataType": "cr:Split",
        "description": "The splits: train, validation and test (assigned per filmed participant, per clip "
        "where none); the annotators table is not split (full).",
        "key": {"@id": f"{SPLITS_RS}/name"},
        "field": [
            {
                "@type": "cr:Field",
                "@id": f"{SPLITS_RS}/name",
                "name": "name",
                "description": "The split's name.",
                "dataType": "sc:Text",
            },
            {
                "@type": "cr:Field",
                "@id": f"{SPLITS_RS}/url",
                "name": "url",
                "description": "The split's Croissant type.",
                "dataType": "sc:URL",
            },
        ],
        "data": [
            {f"{SPLITS_RS}/name": name, f"{SPLITS_RS}/url": f"cr:{kind}Split"}
            for name, kind in zip(
                (*SPLIT_NAMES, FULL_SPLIT), ("Training", "Validation", "Test", "Full"), strict=True
            )
        ],
    }
    out = [splits_rs]
    for table, schema in schemas(facts.layout).items():
        if not facts.parquet.get(table):
            continue
        source = {"fileSet": {"@id": f"parquet:{table}"}}
        key = ROW_ORDER[table]
        out.append(
            {
                "@type": "cr:RecordSet",
                "@id": table,
                "name": table,
                "description": f"{facts.rows(table)} rows: {TABLE_ROWS[table]}.",
                "key": [{"@id": f"{table}/{k}"} for k in key],
                "field": [_field(table, f, source) for f in schema],
            }
        )
    return out


def _agreement_texts(facts: Facts) -> list[str]:
    rep = facts.report
    if rep is None:
        return ["No agreement report existed when the export was built; no agreement figures are given."]
    fresh = (
        "fresh (computed from the same labels)"
        if rep.get("fresh")
        else "not fresh (computed from fewer labels)"
    )
    out = [f"Agreement report {rep['id']}, computed at {rep.get('computed_at')}, {fresh}."]
    for row in agreement_rows(rep):
        parts = []
        for level in ("interval", "ordinal"):
            a = row[f"alpha_{level}"]
            if a.get("estimate") is not None:
                ci = f"{100 * a.get('confidence', 0.95):.0f}% CI [{num(a.get('low'))}, {num(a.get('high'))}]"
                parts.append(f"Krippendorff's alpha ({level}) {num(a['estimate'])}, {ci}")
        for name, form in row["icc"].items():
            if form.get("value") is not None:
                parts.append(
                    f"{name} {num(form['value'])} [{num(form.get('ci_low'))}, {num(form.get('ci_high'))}]"
                )
        out.append(f"{row['dimension']}: " + ("; ".join(parts) or "not computable") + ".")
    return out


def _protocol(facts: Facts) -> list[str]:
    out = [
        "Annotators watched each clip in the browser and rated how the person seemed to feel: "
        + "; ".join(
            f"{PROMPTS[d]['label']} ({PROMPTS[d]['low']} to {PROMPTS[d]['high']})" for d in DIMENSIONS
        )
        + ", with per-dimension confidence where asked, context tags (setting, social situation, activity, "
        "what happened before) and the option to say the clip could not be judged.",
        "Instructions shown to annotators (Markdown source, verbatim): "
        + (facts.study.instructions or "(none)"),
    ]
    for entry in facts.scheme_versions:
        out.append(
            f"Scheme version {entry['version']} ({entry.get('n_ratings')} ratings), verbatim: "
            + json.dumps(entry["spec"], ensure_ascii=False, sort_keys=True)
        )
    return out


def croissant(facts: Facts) -> dict:
    e = facts.manifest["export"]
    title = " ".join(str(facts.study.title).split()) or facts.study.slug
    times = [t.isoformat() for t in (facts.first_rating, facts.last_rating) if t is not None]
    return {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": CONFORMS_TO,
        "name": f"{facts.study.slug}-v{facts.export.version}",
        "alternateName": title,
        "description": f"{title}: perceived valence and arousal labels for video clips, export version "
        f"{facts.export.version}. {PERCEIVED_AFFECT} {AI_ACT}",
        "version": f"{facts.export.version}.0.0",
        "datePublished": e.get("finished_at") or e.get("created_at"),
        "license": "LicenseRef-study-data-agreement: " + DATA_AGREEMENT,
        "citeAs": f"{title}, perceived-affect labels, export version {facts.export.version} "
        f"(study {facts.study.slug}, export {e['id']}).",
        "keywords": [
            "affective computing",
            "valence",
            "arousal",
            "soft labels",
            "perceived affect",
            "self-report",
        ],
        "isLiveDataset": False,
        "distribution": distribution(facts),
        "recordSet": record_sets(facts),
        "rai:dataCollection": "Video clips uploaded by the study's researchers (decoded and checked on upload); "
        "annotators who accepted the study's consent text rated them one at a time in the browser, each clip "
        "by several annotators who never saw each other's ratings. Where a filmed participant reported their "
        f"own affect for a clip (imported, or given through a private link), the {facts.rows('self_reports')} "
        "self-reports that may be exported are in the self_reports table. " + TWO_PERSPECTIVES,
        "rai:dataCollectionType": ["Manual Human Curator"],
        "rai:dataCollectionTimeFrame": times,
        "rai:dataCollectionMissingData": "A clip an annotator could not judge has a rating with cannot_judge = "
        "true and null valence and arousal; missing values are nulls, never sentinel codes. Withdrawn "
        "participants and annotators are left out entirely.",
        "rai:dataCollectionRawData": "Raw scale values are kept beside the canonical ones (valence_raw, "
        "arousal_raw, instrument, scale_min, scale_max); the media are "
        + (f"included for {facts.media_files} clips." if facts.media_files else "not included."),
        "rai:dataImputationProtocol": "None: nothing is imputed.",
        "rai:dataPreprocessingProtocol": [
            "Raw values mapped linearly onto [-1, 1]: canonical = -1 + 2 (raw - 1) / (points - 1); a slider's "
            "raw value is canonical.",
            "Per clip, over its judged ratings: means, sample sds and covariance (n - 1), 2-D and 1-D histograms "
            "(counts and normalised), Shannon entropy, tag counts and proportions; unweighted, no consensus "
            "label chosen.",
            SELF_VALUE,
        ],
        "rai:dataManipulationProtocol": "Annotator and participant ids are salted; free text is left out "
        "unless the researcher opted in; withdrawn participants' and annotators' data are removed. "
        + facts.consent_scopes(),
        "rai:dataAnnotationProtocol": _protocol(facts),
        "rai:dataAnnotationPlatform": [
            "The study's instance of an open web platform for context-rich affect labels (browser; accounts, "
            "invitations or a crowd link). Annotators by how they joined: "
            + (", ".join(f"{k} {v}" for k, v in facts.joined_via.items()) or "none")
            + "."
        ],
        "rai:dataAnnotationAnalysis": _agreement_texts(facts),
        "rai:annotationsPerItem": facts.annotations_per_item(),
        "rai:annotatorDemographics": [
            "None collected: the platform records no annotator demographics, so none are included (no annotator "
            "consented to sharing any)."
        ],
        "rai:machineAnnotationTools": ["None: every label was given by a person."],
        "rai:dataBiases": BIASES,
        "rai:dataUseCases": INTENDED_USES + [f"Out of scope: {x}" for x in OUT_OF_SCOPE],
        "rai:dataLimitations": [PERCEIVED_AFFECT, *LIMITATIONS],
        "rai:dataSocialImpact": f"{PERCEIVED_AFFECT} {AI_ACT}",
        "rai:personalSensitiveInformation": [facts.sensitive(), facts.consent_scopes()],
        "rai:dataReleaseMaintenancePlan": facts.maintenance(),
    }


def write_croissant(folder: Path, *, export: Export, manifest: dict) -> Path:
    """Write croissant.json into the export's folder and return its path."""
    path = Path(folder) / "croissant.json"
    data = croissant(gather(folder, export=export, manifest=manifest))
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
