"""docs/exports.md against the code: its column tables are generated from exports/tables.py (this test fails
when they disagree, and prints the block to paste), what it says of CSV flattening holds for a real build,
and its Python examples run against a real export."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from exports.build.layout import make_layout, study_schemes
from exports.card import columns_markdown
from exports.facts import layout_from_manifest
from exports.tables import SPLIT_NAMES, TABLES, schemas
from tests.exports.built import build, offline_env, rated_study
from tests.factories import StudyFactory

DOCS = Path(__file__).resolve().parents[2] / "docs" / "exports.md"
BLOCK = re.compile(r"<!-- columns: (\w+) -->\n(.*?)<!-- /columns -->", re.S)


def render(text: str, layout) -> str:
    """The docs with every column block regenerated from the schemas (for `layout`)."""
    tables = schemas(layout)
    return BLOCK.sub(
        lambda m: (
            f"<!-- columns: {m.group(1)} -->\n{columns_markdown(tables[m.group(1)])}\n<!-- /columns -->"
        ),
        text,
    )


def test_the_column_tables_are_the_schemas_of_exports_tables(db):
    """Shown for the default grid and scheme, as the page says."""
    layout = make_layout(study_schemes(StudyFactory()), (5, 5))
    assert len(layout.tags) == 26 and len(layout.valence_bins) == 9  # "9-point SAM, 26 context tags"
    text = DOCS.read_text(encoding="utf-8")
    assert [name for name, _ in BLOCK.findall(text)] == list(TABLES)
    for name, block in BLOCK.findall(text):
        want = columns_markdown(schemas(layout)[name])
        assert block.strip() == want, (
            f"docs/exports.md: the {name} columns differ from exports/tables.py:\n{want}"
        )
    assert render(text, layout) == text


@pytest.fixture
def built(db, exports_root):
    return build(rated_study(), formats=["csv", "jsonl"])


def test_csv_is_flattened_as_the_docs_say(built):
    _, folder = built
    manifest = json.loads((folder / "manifest.json").read_text())
    layout = layout_from_manifest(manifest["layout"])
    text = " ".join(DOCS.read_text(encoding="utf-8").split())
    assert "`hist2d_0` … `hist2d_24`" in text and "`covariance_0` … `covariance_3`" in text
    for table, schema in schemas(layout).items():
        # a split that holds rows (which one depends on the database's ids)
        split = next(s for s, n in manifest["tables"][table]["splits"].items() if n)
        with (folder / f"data/{table}/{split}.csv").open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        want = []
        for f in schema:
            if pa.types.is_fixed_size_list(f.type):
                want += [f"{f.name}_{i}" for i in range(f.type.list_size)]
            else:
                want.append(f.name)
        assert list(rows[0]) == want, table
        if table == "clip_labels":
            cells = json.loads(rows[0]["ratings"])  # one JSON text cell: a list of objects
            assert cells and set(cells[0]) == {f.name for f in schema.field("ratings").type.value_type}
        if table == "ratings":
            tagged = [r["context_tags"] for r in rows if r["context_tags"]]
            assert tagged and all(t == "|".join(t.split("|")) and ":" in t for t in tagged)
        jsonl = (folder / f"data/{table}/{split}.jsonl").read_text(encoding="utf-8").splitlines()
        assert len(jsonl) == len(rows) and list(json.loads(jsonl[0])) == schema.names


def test_the_python_examples_run_against_an_export(built, tmp_path):
    """Each ```python block of the page, with path/to/export replaced by a real export's folder, offline."""
    _, folder = built
    blocks = re.findall(r"^```python\n(.*?)^```$", DOCS.read_text(encoding="utf-8"), re.S | re.M)
    assert len(blocks) == 3
    code = "\n".join(blocks).replace("path/to/export", str(folder))
    code += "\nprint(len(labels['train']), len(clips), len(ratings), len(crowd), sorted({'task', 'worker', 'label'} & set(crowd)))"
    run = subprocess.run(
        [sys.executable, "-c", code],
        env=offline_env(tmp_path / "hf"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    tables = json.loads((folder / "manifest.json").read_text())["tables"]
    train, n = tables["clip_labels"]["splits"]["train"], tables["ratings"]["rows"]
    cannot = sum(
        pq.read_table(folder / f"data/ratings/{s}.parquet", columns=["cannot_judge"])
        .column(0)
        .to_pylist()
        .count(True)
        for s in SPLIT_NAMES
    )
    assert cannot >= 1  # the study has a cannot-judge rating, which the crowd example drops
    assert run.stdout.strip().endswith(f"{train} {train} {n} {n - cannot} ['label', 'task', 'worker']"), (
        run.stdout
    )
