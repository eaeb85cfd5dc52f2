"""labeling.services.self_reports_import: CSV and JSON files, every kind of bad row, all or nothing, re-import
(nothing twice), dry run (nothing written, the same report), file-level refusals, and a bounded query count."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from labeling.errors import Conflict
from labeling.models import SelfReport
from labeling.services import SelfReportImportRefused, self_reports_import
from labeling.services import self_reports as module
from labeling.services._self_report_file import file_format
from tests.factories import ClipFactory, UserFactory
from tests.labeling.self_report_helpers import COLUMNS, csv_bytes, json_bytes, row, world

pytestmark = pytest.mark.django_db


def refused(w, content: bytes, fmt: str = "csv", **kwargs) -> list[dict]:
    """The errors of an import that must be refused; asserts nothing was written."""
    before = SelfReport.objects.count()
    with pytest.raises(SelfReportImportRefused) as caught:
        self_reports_import(study=w.study, content=content, filename_or_format=fmt, **kwargs)
    assert SelfReport.objects.count() == before
    errors = caught.value.report.errors
    assert errors and caught.value.as_dict()["report"]["errors"] == errors
    return errors


def one_problem(w, **changes) -> dict:
    """The single error of a file with one good row and one bad row (line 3)."""
    content = csv_bytes([row(w, clip=str(w.clip2.pk), id="good"), row(w, **changes)])
    errors = refused(w, content)
    assert {e["line"] for e in errors} == {3}, errors
    assert len(errors) == 1, errors
    return errors[0]


# --- valid files ------------------------------------------------------------------------------------------


def test_a_valid_csv_is_imported_raw_and_canonical(db):
    w = world()
    researcher = UserFactory()
    rows = [
        row(w, id="r1"),
        row(w, id="r2", start_s="0", end_s="1.5", instrument="slider", points="", valence="-0.5", arousal="",
            valence_confidence="", confidence_points="", tags="", note=""),
        row(w, id="r3", clip="", clip_file="two.mp4", start_s="1.5", end_s="10.04", instrument="grid", points="5",
            valence="1", arousal="5", valence_confidence="2", arousal_confidence="3", reported_at="2026-03-01T13:00:00Z"),
    ]  # fmt: skip
    report = self_reports_import(
        study=w.study, content=csv_bytes(rows), filename_or_format="reports.csv", by=researcher
    )
    assert (report.rows, report.created, report.unchanged, report.errors) == (3, 3, 0, [])
    assert report.as_dict()["imported"] is True
    r1, r2, r3 = (SelfReport.objects.get(external_id=i) for i in ("r1", "r2", "r3"))
    assert (r1.participant, r1.clip, r1.start_s, r1.end_s) == (w.p1, w.clip1, None, None)
    assert (r1.instrument, r1.scale_points, r1.valence_raw, r1.arousal_raw) == ("sam", 9, 7, 3)
    assert (r1.valence, r1.arousal) == (0.5, -0.5)  # 1..9 -> -1..1: 7 -> 0.5, 3 -> -0.5
    assert (r1.valence_confidence, r1.arousal_confidence, r1.confidence_points) == (4, None, 5)
    assert r1.context_tags == ["setting:home", "social:alone"] and r1.context_note == "at home after work"
    assert r1.reported_at == datetime(2026, 3, 1, 13, 30, tzinfo=UTC)
    assert (r1.source, r1.created_by, r1.link, r1.submission_id) == ("imported", researcher, None, None)
    assert (r2.start_s, r2.end_s, r2.scale_points, r2.valence, r2.valence_raw, r2.arousal) == (
        0,
        1.5,
        None,
        -0.5,
        -0.5,
        None,
    )
    assert (r2.confidence_points, r2.context_tags, r2.context_note) == (None, [], "")
    assert (r3.clip, r3.end_s, r3.valence, r3.arousal, r3.scale_points) == (w.clip2, 10.04, -1.0, 1.0, 5)
    # One import, one created_at: the admin lists and deletes an import by it.
    assert len({r.created_at for r in (r1, r2, r3)}) == 1


def test_a_valid_json_file_stores_what_the_same_csv_stores(db):
    w = world()
    rows = [row(w, id="a"), row(w, id="b", start_s="0", end_s="2.5", clip="", clip_file="one.mp4")]
    fields = ["participant", "clip", "start_s", "end_s", "instrument", "scale_points", "valence", "arousal",
              "valence_raw", "arousal_raw", "valence_confidence", "arousal_confidence", "confidence_points",
              "context_tags", "context_note", "reported_at", "source", "external_id"]  # fmt: skip
    self_reports_import(study=w.study, content=csv_bytes(rows), filename_or_format="csv")
    from_csv = list(SelfReport.objects.order_by("external_id").values(*fields))
    SelfReport.objects.all().delete()
    report = self_reports_import(study=w.study, content=json_bytes(rows), filename_or_format="reports.json")
    assert (report.format, report.created) == ("json", 2)
    assert list(SelfReport.objects.order_by("external_id").values(*fields)) == from_csv


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
@pytest.mark.parametrize("bom", [False, True])
def test_csv_delimiter_comes_from_the_header_and_a_byte_order_mark_is_fine(db, delimiter, bom):
    w = world()
    content = csv_bytes([row(w), row(w, start_s="0", end_s="1")], delimiter=delimiter, bom=bom)
    report = self_reports_import(study=w.study, content=content, filename_or_format="x.txt")
    assert report.created == 2
    assert SelfReport.objects.get(start_s=None).context_tags == ["setting:home", "social:alone"]


def test_columns_may_be_few_in_any_order_and_case(db):
    w = world()
    content = (
        f"Reported_At,Instrument,PARTICIPANT,clip_file,arousal\n2026-03-01T10:00:00Z,slider,{w.p1.code},one.mp4,0.25\n"
    ).encode()
    report = self_reports_import(study=w.study, content=content, filename_or_format="csv")
    assert report.created == 1
    only = SelfReport.objects.get()
    assert (only.arousal, only.valence, only.clip) == (0.25, None, w.clip1)


def test_blank_lines_and_empty_rows_are_skipped_and_lines_stay_physical(db):
    w = world()
    header = ",".join(COLUMNS)
    good = ",".join(row(w)[c] for c in COLUMNS)
    bad = ",".join(row(w, participant="nobody")[c] for c in COLUMNS)
    content = f"\n{header}\n\n{good}\n{',' * (len(COLUMNS) - 1)}\n{bad}\n".encode()
    errors = refused(w, content)
    assert [(e["line"], e["field"]) for e in errors] == [(6, "participant")]


def test_a_tag_from_an_older_scheme_version_is_in_the_vocabulary(db):
    w = world()
    w.study.schemes.create(
        version=2, spec={"instrument": "slider", "context_groups": [{"name": "mood", "tags": ["calm"]}]}
    )
    report = self_reports_import(
        study=w.study, content=csv_bytes([row(w, tags="mood:calm;setting:home")]), filename_or_format="csv"
    )
    assert report.created == 1 and SelfReport.objects.get().context_tags == ["mood:calm", "setting:home"]


def test_a_window_may_end_up_to_the_tolerance_past_the_clip(db):
    w = world()
    end = 3.0 + module.WINDOW_TOLERANCE_S
    report = self_reports_import(
        study=w.study, content=csv_bytes([row(w, start_s="2", end_s=f"{end:g}")]), filename_or_format="csv"
    )
    assert report.created == 1
    error = one_problem(w, start_s="2", end_s=f"{end + 0.01:g}", instrument="grid")
    assert error["field"] == "end_s" and "clip" in error["message"] and "3.00 s" in error["message"]


# --- every kind of bad row ------------------------------------------------------------------------------------

BAD_ROWS = [
    # (cells changed, column at fault, words in the message)
    ({"participant": "P-99"}, "participant", "no participant with the code 'P-99'"),
    ({"participant": ""}, "participant", "is required"),
    ({"participant": "P-gone", "clip": "{clip_gone}"}, "participant", "has withdrawn"),
    ({"clip": "999999"}, "clip", "no clip with the id 999999"),
    ({"clip": "abc"}, "clip", "must be a clip's id"),
    ({"clip": "", "clip_file": "missing.mp4"}, "clip_file", "no clip with the file name 'missing.mp4'"),
    ({"clip": "", "clip_file": "dup.mp4"}, "clip_file", "2 clips of this study have the file name"),
    ({"clip": "{clip1}", "clip_file": "two.mp4"}, "clip_file", "is the file 'one.mp4', not 'two.mp4'"),
    ({"clip": ""}, "clip", "is required"),
    ({"clip": "{clip3}"}, "clip", "is participant P-02's, not P-01's"),
    ({"clip": "{nobody}"}, "clip", "has no participant"),
    ({"clip": "{other_study_clip}"}, "clip", "in this study"),
    ({"valence": "10"}, "valence", "'10' must be between 1 and 9 on a 9-point sam scale"),
    ({"arousal": "0"}, "arousal", "must be between 1 and 9"),
    ({"valence": "6.5"}, "valence", "must be a whole scale point from 1 to 9"),
    ({"valence": "high"}, "valence", "must be a number"),
    ({"instrument": "slider", "points": "", "valence": "1.5", "arousal": ""}, "valence", "on the slider"),
    ({"instrument": "grid", "points": "4"}, "points", "must be odd"),
    ({"points": "25"}, "points", "from 3 to 21"),
    ({"points": "7.5"}, "points", "must be a whole number"),
    ({"points": ""}, "points", "is required for a sam scale"),
    ({"instrument": "slider", "points": "9", "valence": "0.5"}, "points", "a slider has no points"),
    ({"instrument": "knob"}, "instrument", "must be one of sam, slider, grid, not 'knob'"),
    ({"instrument": ""}, "instrument", "is required"),
    ({"valence": "", "arousal": "", "valence_confidence": ""}, "valence", "give valence, arousal or both"),
    ({"start_s": "2", "end_s": "1"}, "end_s", "must end after it starts"),
    ({"start_s": "1", "end_s": "1"}, "end_s", "must end after it starts"),
    ({"start_s": "-1", "end_s": "1"}, "start_s", "must not be negative"),
    ({"start_s": "one", "end_s": "2"}, "start_s", "must be a number of seconds"),
    ({"start_s": "1", "end_s": ""}, "end_s", "needs both start_s and end_s"),
    ({"start_s": "", "end_s": "1"}, "start_s", "needs both start_s and end_s"),
    ({"start_s": "1", "end_s": "3.5"}, "end_s", "lasts 3.00 s"),
    ({"tags": "setting:home;setting:moon"}, "tags", "not in this study's vocabulary"),
    ({"tags": "home"}, "tags", "home"),
    ({"valence_confidence": "6"}, "valence_confidence", "from 1 to 5"),
    ({"valence_confidence": "0"}, "valence_confidence", "from 1 to 5"),
    (
        {"confidence_points": "", "valence_confidence": "3"},
        "confidence_points",
        "is required with a confidence",
    ),
    ({"confidence_points": "11"}, "confidence_points", "from 2 to 10"),
    ({"valence": "", "valence_confidence": "3"}, "valence_confidence", "needs a valence value"),
    ({"reported_at": "yesterday"}, "reported_at", "is not an ISO 8601 date and time"),
    ({"reported_at": "2026-03-01T14:30:00"}, "reported_at", "has no time zone"),
    ({"reported_at": "2026-03-01"}, "reported_at", "has no time zone"),
    ({"reported_at": ""}, "reported_at", "is required"),
    ({"reported_at": "{future}"}, "reported_at", "is in the future"),
    ({"note": "x" * 2001}, "note", "at most 2000 characters"),
    ({"id": "x" * 129}, "id", "at most 128 characters"),
]


@pytest.mark.parametrize(("changes", "column", "words"), BAD_ROWS, ids=[f"{c}:{w}" for _, c, w in BAD_ROWS])
def test_each_kind_of_bad_row_is_refused_with_its_line_column_and_why(db, changes, column, words):
    w = world()
    ClipFactory(study=w.study, participant=w.p1, original_name="dup.mp4")
    ClipFactory(study=w.study, participant=w.p1, original_name="dup.mp4")
    names = {
        "clip1": w.clip1.pk, "clip3": w.clip3.pk, "nobody": w.nobody.pk, "clip_gone": w.clip_gone.pk,
        "other_study_clip": ClipFactory().pk, "future": (timezone.now() + timedelta(hours=1)).isoformat(),
    }  # fmt: skip
    error = one_problem(w, **{key: value.format(**names) for key, value in changes.items()})
    assert (error["line"], error["where"], error["field"]) == (3, "line 3", column)
    assert words in error["message"], error["message"]


def test_a_row_in_the_file_twice_is_a_duplicate_by_natural_key_or_id(db):
    w = world()
    rows = [
        row(w, id="a"),
        row(w, id="b", valence="2"),  # the same participant, clip, instrument, whole clip
        row(w, id="c", start_s="0", end_s="1"),
        row(w, id="d", start_s="0", end_s="1", note="again"),  # the same window
        row(
            w, id="e", start_s="0", end_s="1", instrument="slider", points="", valence="0.5", arousal=""
        ),  # fine
        row(w, id="a", start_s="1", end_s="2"),  # a repeated id
    ]
    errors = refused(w, csv_bytes(rows))
    assert [(e["line"], e["field"]) for e in errors] == [(3, "row"), (5, "row"), (7, "id")]
    assert errors[0]["message"] == "the same participant, clip, instrument and window as line 2"
    assert errors[1]["message"] == "the same participant, clip, instrument and window as line 4"
    assert errors[2]["message"] == "the id 'a' is also on line 2"


def test_a_row_that_differs_from_an_imported_report_of_the_same_key_is_refused(db):
    w = world()
    self_reports_import(study=w.study, content=csv_bytes([row(w, id="a")]), filename_or_format="csv")
    stored = SelfReport.objects.get()
    errors = refused(w, csv_bytes([row(w, id="a", valence="8", note="changed")]))
    assert [(e["line"], e["field"]) for e in errors] == [(2, "row")]
    assert errors[0]["message"] == (
        f"already imported with different values (valence, note) as self-report {stored.pk}; delete it in the "
        "admin first"
    )
    # Without the id the stored one had: the id differs too.
    assert "(id)" in refused(w, csv_bytes([row(w)]))[0]["message"]
    # An id already used for another key.
    errors = refused(w, csv_bytes([row(w, id="a", start_s="0", end_s="1")]))
    assert errors[0]["field"] == "id" and "already imported for another participant" in errors[0]["message"]


def test_a_row_with_the_key_of_a_report_given_in_the_platform_is_refused(db):
    w = world()
    given = SelfReport.objects.create(
        study=w.study, participant=w.p1, clip=w.clip1, instrument="sam", scale_points=9, valence=0.5,
        valence_raw=7, reported_at=timezone.now(), source="platform",
    )  # fmt: skip
    errors = refused(w, csv_bytes([row(w)]))
    assert errors[0]["field"] == "row" and f"in the platform (self-report {given.pk})" in errors[0]["message"]


def test_a_mixed_file_imports_nothing_and_reports_every_bad_row_with_its_physical_line(db):
    w = world()
    rows = [
        row(w, id="ok1"),
        row(w, id="bad1", participant="P-99"),  # line 3
        row(w, id="ok2", clip=str(w.clip2.pk), note="a note\nover two lines"),  # lines 4-5
        row(w, id="bad2", clip=str(w.clip2.pk), start_s="4", end_s="2", valence="12", tags="x:y"),  # line 6
        row(w, id="ok3", start_s="0", end_s="1"),  # line 7
        row(
            w, id="bad3", start_s="1", end_s="2", reported_at="soon", note="one\ntwo\nthree"
        ),  # lines 8-10: reported at its first
        row(w, id="bad4", instrument="slider", points="", valence="2", arousal=""),  # line 11
    ]
    errors = refused(w, csv_bytes(rows))
    assert [(e["line"], e["field"]) for e in errors] == [
        (3, "participant"), (6, "end_s"), (6, "valence"), (6, "tags"), (8, "reported_at"), (11, "valence"),
    ]  # fmt: skip
    with pytest.raises(SelfReportImportRefused) as caught:
        self_reports_import(study=w.study, content=csv_bytes(rows), filename_or_format="csv")
    assert caught.value.message == (
        "Nothing was imported: 4 of 7 rows have problems; the report lists each with its line and why."
    )
    assert caught.value.as_dict()["errors"] == {"file": caught.value.message}


def test_json_errors_name_the_item_counted_from_one(db):
    w = world()
    items = json.loads(json_bytes([row(w), row(w, id="x", start_s="0", end_s="1", participant="P-99")]))
    items.append(
        {**items[0], "start_s": 1, "end_s": 2, "valence": True, "tags": "setting:home", "colour": "red"}
    )
    items.append("not an object")
    items.append({**items[0], "participant": "P\u0000-01"})
    errors = refused(w, json.dumps(items).encode(), "json")
    assert [(e["line"], e["where"], e["field"]) for e in errors] == [
        (2, "item 2", "participant"), (3, "item 3", "row"), (3, "item 3", "valence"), (3, "item 3", "tags"),
        (4, "item 4", "row"), (5, "item 5", "participant"),
    ]  # fmt: skip
    assert errors[-1]["message"] == "Null characters are not allowed."
    assert errors[1]["message"] == "unknown key(s): 'colour'"
    assert "list" in errors[3]["message"]
    with pytest.raises(SelfReportImportRefused) as caught:
        self_reports_import(study=w.study, content=json.dumps(items).encode(), filename_or_format="json")
    assert "items of the JSON list, counted from 1" in caught.value.report.lines


# --- re-import and dry run ----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_reimporting_a_file_creates_nothing_and_counts_every_row_unchanged(db, fmt):
    w = world()
    rows = [row(w, id="a"), row(w, start_s="0.25", end_s="1.75"), row(w, clip=str(w.clip2.pk), tags="")]
    content = csv_bytes(rows) if fmt == "csv" else json_bytes(rows)
    first = self_reports_import(study=w.study, content=content, filename_or_format=fmt)
    ids = set(SelfReport.objects.values_list("pk", flat=True))
    second = self_reports_import(study=w.study, content=content, filename_or_format=fmt)
    assert (first.created, first.unchanged, second.created, second.unchanged) == (3, 0, 0, 3)
    assert set(SelfReport.objects.values_list("pk", flat=True)) == ids
    # A file with the old rows and a new one adds only the new one.
    more = rows + [row(w, clip=str(w.clip2.pk), start_s="2", end_s="3")]
    third = self_reports_import(
        study=w.study, content=csv_bytes(more) if fmt == "csv" else json_bytes(more), filename_or_format=fmt
    )
    assert (third.created, third.unchanged, SelfReport.objects.count()) == (1, 3, 4)


def test_a_dry_run_writes_nothing_and_reports_what_the_import_then_does(db):
    w = world()
    self_reports_import(study=w.study, content=csv_bytes([row(w, id="a")]), filename_or_format="csv")
    content = csv_bytes([row(w, id="a"), row(w, id="b", start_s="0", end_s="1")])
    dry = self_reports_import(study=w.study, content=content, filename_or_format="csv", dry_run=True)
    assert SelfReport.objects.count() == 1
    real = self_reports_import(study=w.study, content=content, filename_or_format="csv")
    assert SelfReport.objects.count() == 2
    assert (dry.created, dry.unchanged, dry.dry_run, dry.as_dict()["imported"]) == (1, 1, True, False)
    assert {**dry.as_dict(), "dry_run": False, "imported": True} == real.as_dict()
    bad = csv_bytes([row(w, id="c", participant="P-99")])
    assert refused(w, bad, dry_run=True) == refused(w, bad)


# --- the file as a whole ------------------------------------------------------------------------------------


def test_a_file_that_is_not_utf8_gets_one_clear_message(db):
    w = world()
    content = csv_bytes([row(w, note="café")]).replace("é".encode(), "é".encode("latin-1"))
    errors = refused(w, content)
    assert len(errors) == 1 and errors[0]["line"] is None and errors[0]["where"] == "file"
    assert "not UTF-8" in errors[0]["message"] and "line 2" in errors[0]["message"]


@pytest.mark.parametrize(
    ("content", "fmt", "words", "line"),
    [
        (b"", "csv", "The file is empty", None),
        (b"  \n\n", "json", "The file is empty", None),
        (b"participant,clip,instrument,valence,reported_at\n", "csv", "no rows of self-reports", None),
        (b"participant,clip,instrument,valence,reported_at,colour,mood\nP,1,sam,1,x,y,z\n", "csv",
         "Unknown column(s): 'colour', 'mood'", 1),
        (b"participant,clip,clip,instrument,valence,reported_at\n", "csv", "Column(s) given twice: clip", 1),
        (b"\nparticipant,valence\nP,1\n", "csv", "Missing column(s): instrument, reported_at, clip (or clip_file)", 2),
        (b'participant,clip,instrument,valence,reported_at\n"P,1,sam,1,x\n', "csv", "cannot be read", None),
        (b"{not json", "json", "The JSON cannot be read", None),
        (b'{"participant": "P"}', "json", "must be a list of objects", None),
        (b"[]", "json", "empty list", None),
        (b"[" + b"9" * 5000 + b"]", "json", "The JSON cannot be read", None),
        (b"participant\x00,clip\n", "csv", "NUL", None),
    ],
)  # fmt: skip
def test_a_file_that_cannot_be_read_is_refused_with_one_message(db, content, fmt, words, line):
    w = world()
    errors = refused(w, content, fmt)
    assert len(errors) == 1 and errors[0]["field"] == "file"
    assert words in errors[0]["message"] and errors[0]["line"] == line, errors[0]


def test_a_csv_row_with_more_fields_than_the_header_is_a_bad_row(db):
    w = world()
    cells = [row(w, start_s="0", end_s="1")[c] for c in COLUMNS] + ["extra", "more"]
    content = csv_bytes([row(w)]) + (",".join(cells) + "\n").encode()
    errors = refused(w, content)
    assert [(e["line"], e["field"]) for e in errors] == [(3, "row")]
    assert "18 fields but the header has 16 columns" in errors[0]["message"]


def test_size_and_row_limits_are_settings(db, settings):
    w = world()
    content = csv_bytes([row(w), row(w, start_s="0", end_s="1"), row(w, start_s="1", end_s="2")])
    settings.SELF_REPORT_IMPORT_MAX_ROWS = 2
    assert "more than 2 rows" in refused(w, content)[0]["message"]
    assert "at most 2 (split it)" in refused(w, json_bytes([row(w)] * 3), "json")[0]["message"]
    settings.SELF_REPORT_IMPORT_MAX_ROWS = 100
    settings.SELF_REPORT_IMPORT_MAX_BYTES = 100
    assert "at most 100 bytes" in refused(w, content)[0]["message"]


def test_the_format_comes_from_the_name_else_from_the_content():
    assert file_format("JSON", b"a,b") == "json"
    assert file_format("reports.CSV", b"[1]") == "csv"
    assert file_format("reports.tsv", b"") == "csv"
    assert file_format("upload", b"\xef\xbb\xbf  [{}]") == "json"
    assert file_format("", b"participant,clip") == "csv"


# --- cost and races ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dry_run", [True, False])
def test_an_import_takes_a_few_queries_whatever_the_number_of_rows(db, dry_run):
    w = world()
    clips = [ClipFactory(study=w.study, participant=w.p1, duration_s=500) for _ in range(30)]

    def queries(n: int) -> int:
        rows = [
            row(w, id=f"r{i}", clip=str(clips[i % 30].pk), start_s=str(i), end_s=str(i + 1)) for i in range(n)
        ]
        content = csv_bytes(rows)
        with CaptureQueriesContext(connection) as ctx:
            report = self_reports_import(
                study=w.study, content=content, filename_or_format="csv", dry_run=dry_run
            )
        assert report.created + report.unchanged == n  # (the first 10 rows are in both files)
        return len(ctx.captured_queries)

    small, large = queries(10), queries(400)
    assert small == large <= 12, (small, large)


def test_an_import_racing_another_that_wrote_the_same_rows_first_writes_nothing(db, monkeypatch):
    w = world()
    content = csv_bytes([row(w, id="a"), row(w, id="b", start_s="0", end_s="1")])
    real = module._Import.against_stored

    def then_someone_else_imports(self, candidates):
        found = real(self, candidates)
        SelfReport.objects.create(study=self.study, **found[0][0])  # stored by "another import" first
        return found

    monkeypatch.setattr(module._Import, "against_stored", then_someone_else_imports)
    with pytest.raises(Conflict, match="Another import wrote some of these self-reports"):
        self_reports_import(study=w.study, content=content, filename_or_format="csv")
    assert SelfReport.objects.count() == 0
