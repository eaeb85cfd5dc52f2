"""The `clips` table (and the media copy): the clips that have labels in the export, each with its split.
Read first, since every rating's split is its clip's; what the rest of the build keeps of it is small
(ClipIndex: two arrays)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
import pyarrow as pa
from django.core.files.storage import default_storage

from exports.models import Export
from exports.tables import SPLIT_NAMES

from .ids import Salted, split_of
from .source import CLIP_FIELDS, clip_batches, media_sharing
from .writers import TableWriter

COL = {name: i for i, name in enumerate(CLIP_FIELDS)}
MEDIA_DIR = "media"


@dataclass
class ClipIndex:
    ids: np.ndarray  # clip ids, ascending
    split: np.ndarray  # index into SPLIT_NAMES, per clip
    participants: dict[str, set[int]] = field(default_factory=dict)  # split -> participant pks
    media_files: int = 0

    def lookup(self, clip_ids: np.ndarray) -> np.ndarray | None:
        """Positions of `clip_ids` in the index, or None if one of them is not in it."""
        if not self.ids.size:
            return None if clip_ids.size else clip_ids
        pos = np.minimum(np.searchsorted(self.ids, clip_ids), self.ids.size - 1)
        return pos if bool((self.ids[pos] == clip_ids).all()) else None


def _media_name(clip_id: int, stored: str) -> str:
    suffix = PurePosixPath(stored).suffix.lower()
    suffix = suffix if suffix[1:].isalnum() and len(suffix) <= 6 else ""
    return f"{MEDIA_DIR}/{clip_id}{suffix}"


def _copy_media(folder: Path, stored: str, name: str) -> None:
    target = folder / name
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with default_storage.open(stored, "rb") as src, target.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    except FileNotFoundError:
        raise FileNotFoundError(f"the media file of clip {name} is missing from the media storage") from None


def write_clips(
    export: Export, writer: TableWriter, *, folder: Path, participant_ids: Salted, batch_size: int
) -> ClipIndex:
    params = export.parameters
    seed, fractions = params["split_seed"], params["splits"]
    # Media only where the participant consented to sharing; a clip without a participant is never shared.
    sharing = media_sharing(export.study) if params["include_media"] else {}
    by_participant: dict[int, int] = {}
    ids, splits = [], []
    index = ClipIndex(ids=np.empty(0, np.int64), split=np.empty(0, np.int8))
    index.participants = {name: set() for name in SPLIT_NAMES}
    schema = writer.schema
    for rows in clip_batches(export, size=batch_size):
        cols = list(zip(*rows, strict=True))
        clip_ids = np.array(cols[COL["id"]], dtype=np.int64)
        codes = np.empty(len(rows), dtype=np.int8)
        participant, group, media = [], [], []
        for i, (clip_id, person) in enumerate(
            zip(clip_ids.tolist(), cols[COL["participant_id"]], strict=True)
        ):
            if person is None:
                codes[i] = split_of(f"clip:{clip_id}", seed=seed, fractions=fractions)
                participant.append(None)
                group.append(f"clip:{clip_id}")
            else:
                if person not in by_participant:
                    by_participant[person] = split_of(f"participant:{person}", seed=seed, fractions=fractions)
                codes[i] = by_participant[person]
                index.participants[SPLIT_NAMES[codes[i]]].add(person)
                participant.append(participant_ids(person))
                group.append(participant[-1])
            if person is not None and sharing.get(person, False):
                name = _media_name(clip_id, cols[COL["file"]][i])
                _copy_media(folder, cols[COL["file"]][i], name)
                index.media_files += 1
                media.append(name)
            else:
                media.append(None)
        arrays = {
            "clip_id": pa.array(clip_ids),
            "participant_id": pa.array(participant, pa.string()),
            "duration_s": pa.array(cols[COL["duration_s"]], pa.float64()),
            "fps": pa.array(cols[COL["fps"]], pa.float64()),
            "width": pa.array(cols[COL["width"]], pa.int32()),
            "height": pa.array(cols[COL["height"]], pa.int32()),
            "size_bytes": pa.array(cols[COL["size_bytes"]], pa.int64()),
            "container": pa.array(cols[COL["container"]], pa.string()),
            "video_codec": pa.array([c or None for c in cols[COL["video_codec"]]], pa.string()),
            "has_audio": pa.array(cols[COL["has_audio"]], pa.bool_()),
            "media_sha256": pa.array(cols[COL["sha256"]], pa.string()),
            "media_file": pa.array(media, pa.string()),
            "split": pa.array(np.array(SPLIT_NAMES)[codes], pa.string()),
            "split_group": pa.array(group, pa.string()),
        }
        writer.write_by_split(
            SPLIT_NAMES, codes, pa.Table.from_arrays([arrays[n] for n in schema.names], schema=schema)
        )
        ids.append(clip_ids)
        splits.append(codes)
    if ids:
        index.ids, index.split = np.concatenate(ids), np.concatenate(splits)
    return index
