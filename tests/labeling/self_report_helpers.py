"""Set-up for the self-report import tests: a study with participants and clips, and files built from rows."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass

from labeling.models import Clip, Participant, Study
from labeling.services import participant_withdraw
from tests.factories import ClipFactory, StudyFactory

COLUMNS = [
    "id", "participant", "clip", "clip_file", "start_s", "end_s", "instrument", "points", "valence", "arousal",
    "valence_confidence", "arousal_confidence", "confidence_points", "tags", "note", "reported_at",
]  # fmt: skip


@dataclass
class World:
    study: Study
    p1: Participant  # films clip1 (3 s) and clip2 (10 s)
    p2: Participant  # films clip3
    gone: Participant  # withdrawn; films clip_gone
    clip1: Clip
    clip2: Clip
    clip3: Clip
    nobody: Clip  # no participant linked
    clip_gone: Clip


def world(study: Study | None = None) -> World:
    study = study or StudyFactory()
    p1, p2, gone = (Participant.objects.create(study=study, code=code) for code in ("P-01", "P-02", "P-gone"))
    w = World(
        study=study,
        p1=p1,
        p2=p2,
        gone=gone,
        clip1=ClipFactory(study=study, participant=p1, original_name="one.mp4", duration_s=3.0),
        clip2=ClipFactory(study=study, participant=p1, original_name="two.mp4", duration_s=10.0),
        clip3=ClipFactory(study=study, participant=p2, original_name="three.mp4"),
        nobody=ClipFactory(study=study, participant=None, original_name="nobody.mp4"),
        clip_gone=ClipFactory(study=study, participant=gone, original_name="gone.mp4"),
    )
    participant_withdraw(participant=gone, note="asked")
    return w


def row(w: World, **changes) -> dict:
    """A valid CSV row (text cells) on clip1 by P-01, whole clip, 9-point SAM; `changes` replace cells."""
    data = {
        "id": "",
        "participant": w.p1.code,
        "clip": str(w.clip1.pk),
        "clip_file": "",
        "start_s": "",
        "end_s": "",
        "instrument": "sam",
        "points": "9",
        "valence": "7",
        "arousal": "3",
        "valence_confidence": "4",
        "arousal_confidence": "",
        "confidence_points": "5",
        "tags": "setting:home;social:alone",
        "note": "at home after work",
        "reported_at": "2026-03-01T14:30:00+01:00",
    }
    data.update(changes)
    return data


def csv_bytes(
    rows: list[dict], *, columns: list[str] | None = None, delimiter: str = ",", bom: bool = False
) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns or COLUMNS, delimiter=delimiter, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return ("\ufeff" if bom else "").encode() + out.getvalue().encode()


def as_json_item(cells: dict) -> dict:
    """A CSV row as a JSON item: numbers as numbers, empty cells left out, tags as a list."""
    item: dict = {}
    for key, value in cells.items():
        if value == "":
            continue
        if key == "tags":
            item[key] = [tag for tag in value.split(";") if tag]
        elif key in ("participant", "id", "clip_file", "instrument", "note", "reported_at"):
            item[key] = value
        else:
            number = float(value)
            item[key] = int(number) if number.is_integer() and key != "start_s" and key != "end_s" else number
    return item


def json_bytes(rows: list[dict]) -> bytes:
    return json.dumps([as_json_item(r) for r in rows]).encode()
