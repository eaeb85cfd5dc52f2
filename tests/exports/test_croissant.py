"""croissant.json (exports/croissant.py), checked on real builds with mlcroissant (offline): it validates
without errors or warnings, its records are the Parquet rows, its files carry the right sha256, and the
Responsible-AI properties say what the card says."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from exports.facts import AI_ACT, PERCEIVED_AFFECT, layout_from_manifest
from exports.tables import KEYS, SPLIT_NAMES, TABLES, schemas
from tests.exports.built import OFFLINE, build, rated_study

RAI = [
    "rai:dataCollection", "rai:dataCollectionType", "rai:dataCollectionTimeFrame", "rai:dataCollectionMissingData",
    "rai:dataCollectionRawData", "rai:dataImputationProtocol", "rai:dataPreprocessingProtocol",
    "rai:dataManipulationProtocol", "rai:dataAnnotationProtocol", "rai:dataAnnotationPlatform",
    "rai:dataAnnotationAnalysis", "rai:annotationsPerItem", "rai:annotatorDemographics",
    "rai:machineAnnotationTools", "rai:dataBiases", "rai:dataUseCases", "rai:dataLimitations",
    "rai:dataSocialImpact", "rai:personalSensitiveInformation", "rai:dataReleaseMaintenancePlan",
]  # fmt: skip


@pytest.fixture
def mlc(monkeypatch):
    for key, value in OFFLINE.items():
        monkeypatch.setenv(key, value)
    import mlcroissant

    return mlcroissant


@pytest.fixture
def built(db, exports_root):
    export, folder = build(rated_study(), formats=["csv", "jsonl"])
    return export, folder, json.loads((folder / "manifest.json").read_text())


def plain(value):
    """A value as mlcroissant returns it (bytes, numpy scalars and arrays, NaN, pandas timestamps), in the
    Python form pyarrow's to_pylist gives."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, dict):
        return {k.rsplit("/", 1)[-1]: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime()
    return value


def rows_of(folder, table: str) -> dict:
    splits = ("full",) if table == "annotators" else SPLIT_NAMES
    data = pa.concat_tables([pq.read_table(folder / f"data/{table}/{s}.parquet") for s in splits])
    key = KEYS[table]
    return {row[key]: row for row in data.to_pylist()}


def test_mlcroissant_validates_it_without_errors_or_warnings(built, mlc, caplog):
    _, folder, _ = built
    dataset = mlc.Dataset(jsonld=folder / "croissant.json")
    issues = dataset.metadata.ctx.issues
    assert not issues.errors and not issues.warnings, issues.report()
    assert not [r for r in caplog.records if r.levelname == "WARNING" and "mlcroissant" in r.pathname]
    doc = json.loads((folder / "croissant.json").read_text())
    assert doc["conformsTo"] == "http://mlcommons.org/croissant/1.1"


@pytest.mark.parametrize("table", TABLES)
def test_mlcroissant_loads_the_records_of_every_table_and_they_are_the_parquet_rows(built, mlc, table):
    _, folder, manifest = built
    dataset = mlc.Dataset(jsonld=folder / "croissant.json")
    records = [plain(r) for r in dataset.records(table)]
    want = rows_of(folder, table)
    got = {r[KEYS[table]]: r for r in records}
    assert len(records) == len(got) == len(want) == manifest["tables"][table]["rows"]
    for key, row in want.items():
        mine = got[key]
        assert set(mine) == set(row), key
        for column, value in row.items():
            if isinstance(value, dt.datetime):
                assert mine[column] == value, (key, column)
            elif isinstance(value, float) or (
                isinstance(value, list) and value and isinstance(value[0], float)
            ):
                assert mine[column] == pytest.approx(value, abs=0, rel=1e-12), (key, column)
            else:
                assert mine[column] == value, (key, column)


def test_every_file_is_listed_with_its_sha256_and_size(built):
    _, folder, manifest = built
    doc = json.loads((folder / "croissant.json").read_text())
    objects = {o["contentUrl"]: o for o in doc["distribution"] if o["@type"] == "cr:FileObject"}
    listed = {f["path"] for f in manifest["files"] if f["path"] != "croissant.json"}
    assert set(objects) == listed and "README.md" in objects and "data/ratings/train.csv" in objects
    for path, entry in objects.items():
        data = (folder / path).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest(), path
        assert entry["contentSize"] == f"{len(data)} B", path
    sets = {o["@id"]: o for o in doc["distribution"] if o["@type"] == "cr:FileSet"}
    assert {s["includes"] for s in sets.values()} == {f"data/{t}/*.parquet" for t in TABLES}


def test_every_column_is_a_field_with_its_type_and_shape(built):
    _, folder, manifest = built
    doc = json.loads((folder / "croissant.json").read_text())
    record_sets = {rs["@id"]: rs for rs in doc["recordSet"]}
    for table, schema in schemas(layout_from_manifest(manifest["layout"])).items():
        fields = {f["name"]: f for f in record_sets[table]["field"]}
        assert list(fields) == schema.names, table
        for column in schema:
            field = fields[column.name]
            assert field["description"] == column.metadata[b"description"].decode()
            if pa.types.is_fixed_size_list(column.type):
                assert field["isArray"] and field["arrayShape"] == str(column.type.list_size)
            elif pa.types.is_list(column.type):
                assert field["isArray"] and field["arrayShape"] == "-1"
            else:
                assert "isArray" not in field
    ratings = {f["name"]: f for f in record_sets["clip_labels"]["field"]}["ratings"]
    assert [s["name"] for s in ratings["subField"]] == [
        "rating_id", "annotator_id", "valence", "arousal", "valence_confidence", "arousal_confidence",
        "cannot_judge",
    ]  # fmt: skip
    assert record_sets["splits"]["dataType"] == "cr:Split"


def test_the_responsible_ai_properties_say_what_the_card_says(built):
    export, folder, manifest = built
    doc = json.loads((folder / "croissant.json").read_text())
    missing = [key for key in RAI if not doc.get(key)]
    assert not missing, missing
    assert PERCEIVED_AFFECT in doc["rai:dataLimitations"] and AI_ACT in doc["rai:dataSocialImpact"]
    assert f"Out of scope: {AI_ACT}" in doc["rai:dataUseCases"]
    assert "K = 3 distinct annotators per clip" in doc["rai:annotationsPerItem"]
    assert "(annotators: clips): 3: 12." in doc["rai:annotationsPerItem"]
    assert doc["rai:annotatorDemographics"][0].startswith("None collected")
    assert "salted per export" in doc["rai:personalSensitiveInformation"][0]
    assert any(export.study.instructions in p for p in doc["rai:dataAnnotationProtocol"])
    assert "fresh" in doc["rai:dataAnnotationAnalysis"][0]
    assert any(
        a.startswith("valence: Krippendorff's alpha (interval)") for a in doc["rai:dataAnnotationAnalysis"]
    )
    first, last = (dt.datetime.fromisoformat(t) for t in doc["rai:dataCollectionTimeFrame"])
    created = rows_of(folder, "ratings")
    assert first == min(r["created_at"] for r in created.values())
    assert last == max(r["created_at"] for r in created.values())
    assert f"version {export.version}" in doc["rai:dataReleaseMaintenancePlan"]
