"""manage.py export_study and verify_export."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from exports.models import Export
from tests.factories import ClipFactory, MembershipFactory, rate_next


@pytest.fixture
def rated(study, exports_root):
    ClipFactory.create_batch(4, study=study)
    for m in MembershipFactory.create_batch(3, study=study):
        for i in range(4):
            rate_next(m, valence=1 + 2 * i, arousal=9 - i)
    return study


def test_export_study_builds_copies_and_verifies(rated, tmp_path, capsys):
    out = tmp_path / "copy"
    call_command("export_study", rated.slug, "--out", str(out), "--format", "csv", "--grid", "4x3")
    printed = capsys.readouterr()
    export = Export.objects.get(study=rated)
    assert export.status == "done" and export.parameters["grid"] == [4, 3]
    assert export.parameters["formats"] == ["parquet", "csv"]
    assert str(out) in printed.out and "ratings 12" in printed.out
    assert "100%" in printed.err  # the progress bar
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["export"]["id"] == export.pk and (out / "data/ratings/train.csv").is_file()
    call_command("verify_export", str(out))
    assert "OK" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--grid", "0x5"], "grid"),
        (["--grid", "100x100"], "grid"),
        (["--splits", "0.5,0.5,0.5"], "sum to 1"),
        (["--splits", "a,b"], "splits"),
        (["--format", "xlsx"], "unknown formats: xlsx"),
        (["--seed", "-1"], "split_seed"),
    ],
)
def test_export_study_refuses_bad_parameters_and_creates_nothing(rated, args, message):
    with pytest.raises(CommandError, match=message) as caught:
        call_command("export_study", str(rated.pk), *args)
    assert caught.value.returncode == 2
    assert not Export.objects.exists()


def test_export_study_unknown_study(db, exports_root):
    with pytest.raises(CommandError, match="No study") as caught:
        call_command("export_study", "no-such-study")
    assert caught.value.returncode == 2


def test_verify_export_lists_every_problem(rated, capsys):
    call_command("export_study", rated.slug)
    folder = capsys.readouterr().out.splitlines()[0]
    from pathlib import Path

    folder = Path(folder)
    readme = folder / "README.md"
    data = bytearray(readme.read_bytes())
    data[0] ^= 0x01  # one byte changed, same size
    readme.write_bytes(bytes(data))
    (folder / "data/clips/test.parquet").unlink()
    (folder / "extra.txt").write_text("not listed")
    with pytest.raises(CommandError, match="3 problem"):
        call_command("verify_export", str(folder))
    err = capsys.readouterr().err
    assert "README.md: SHA-256 differs" in err
    assert "data/clips/test.parquet: missing" in err
    assert "extra.txt: not listed" in err
