"""exports.verify.verify_folder: a folder against its manifest (the command: test_commands.py)."""

import json

import pytest

from exports.verify import verify_folder
from tests.exports.conftest import build, folder_of


@pytest.fixture
def folder(rated):
    return folder_of(build(rated, formats=["csv"]))


def edit_manifest(folder, change):
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def test_a_fresh_export_verifies(folder):
    assert verify_folder(folder) == []


def test_one_changed_byte_is_caught(folder):
    path = folder / "data/ratings/train.parquet"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    assert verify_folder(folder) == [
        "data/ratings/train.parquet: SHA-256 differs from the manifest (the file was changed or damaged)."
    ]


def test_every_problem_is_listed(folder):
    (folder / "data/clips/test.csv").write_text("clip_id\n")
    (folder / "data/annotators/full.parquet").unlink()
    (folder / "notes.txt").write_text("mine")
    problems = verify_folder(folder)
    assert len(problems) == 3
    assert any(p.startswith("data/clips/test.csv: ") and "bytes, the manifest says" in p for p in problems)
    assert "data/annotators/full.parquet: missing." in problems
    assert "notes.txt: not listed in the manifest." in problems


def test_row_counts_are_checked_against_the_parquet_footer(folder):
    def more_rows(manifest):
        entry = next(f for f in manifest["files"] if f["path"] == "data/clip_labels/train.parquet")
        entry["rows"] += 1

    edit_manifest(folder, more_rows)
    problems = verify_folder(folder)
    assert len(problems) == 1 and "data/clip_labels/train.parquet: " in problems[0] and "rows" in problems[0]


def test_a_manifest_cannot_point_outside_the_folder(folder):
    edit_manifest(folder, lambda m: m["files"].append({"path": "../outside", "bytes": 1, "sha256": "0"}))
    assert verify_folder(folder) == [
        "The manifest lists a path outside the folder or malformed: '../outside'."
    ]


def test_a_missing_or_broken_manifest(folder, tmp_path):
    (folder / "manifest.json").write_text("{not json")
    assert verify_folder(folder)[0].startswith("manifest.json cannot be read")
    (folder / "manifest.json").unlink()
    assert verify_folder(folder) == ["manifest.json is missing."]
    assert verify_folder(tmp_path / "nope") == [f"{tmp_path / 'nope'} is not a folder."]
