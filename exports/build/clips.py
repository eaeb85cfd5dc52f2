"""Splits and the `clips` table (with the media copy).

The ratings pass meets each clip first (ratings are read by clip): `Splits` gives it its split there and
remembers it (`ClipIndex`: a few arrays, whatever the study's size). The clips pass then streams the study's
clips, keeps those the ratings pass met (a clip is in the export when it has a label that counts), and
writes them, each with the split its ratings got."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from django.core.files.storage import default_storage

from exports.models import Export
from exports.tables import SPLIT_NAMES

from .ids import Salted, split_of
from .source import DataChanged, clip_batches, media_sharing
from .writers import TableWriter

MEDIA_DIR = "media"
NO_PARTICIPANT = -1


class Splits:
    """Split of each clip: by its participant (all their clips in one split), by the clip when none. Each
    participant's is kept (the participants of a study are far fewer than its clips)."""

    def __init__(self, *, seed: int, fractions: dict[str, float]):
        self.seed, self.fractions = seed, fractions
        self.by_participant: dict[int, int] = {}

    def of(self, clip_ids: np.ndarray, participants: np.ndarray) -> np.ndarray:
        out = np.empty(clip_ids.size, dtype=np.int8)
        alone = participants == NO_PARTICIPANT
        out[alone] = [
            split_of(f"clip:{clip}", seed=self.seed, fractions=self.fractions)
            for clip in clip_ids[alone].tolist()
        ]
        people, which = np.unique(participants[~alone], return_inverse=True)
        codes = np.array([self._participant(int(p)) for p in people.tolist()], dtype=np.int8)
        out[~alone] = codes[which]
        return out

    def _participant(self, pk: int) -> int:
        code = self.by_participant.get(pk)
        if code is None:
            code = self.by_participant[pk] = split_of(
                f"participant:{pk}", seed=self.seed, fractions=self.fractions
            )
        return code

    def participants_per_split(self) -> dict[str, int]:
        """How many of the participants met so far are in each split."""
        counts = np.bincount(np.fromiter(self.by_participant.values(), np.int64), minlength=len(SPLIT_NAMES))
        return {s: int(counts[i]) for i, s in enumerate(SPLIT_NAMES)}


class ClipIndex:
    """The clips the ratings pass met, in id order, with the split of each (9 bytes a clip)."""

    def __init__(self):
        self._parts: list[tuple[np.ndarray, np.ndarray]] = []
        self.ids = np.empty(0, np.int64)
        self.split = np.empty(0, np.int8)
        self.media_files = 0
        # with include_media: clips (and their participants) whose media stayed out for want of consent
        self.media_withheld: set[int] = set()
        self.media_withheld_clips = 0
        self.media_without_participant = 0

    def add(self, ids: np.ndarray, splits: np.ndarray) -> None:
        self._parts.append((ids, splits))

    def freeze(self) -> None:
        if self._parts:
            self.ids, self.split = (np.concatenate(p) for p in zip(*self._parts, strict=True))
            self._parts = []

    def media_scope(self) -> dict:
        """What the media-sharing consent left out (counts, never who)."""
        return {
            "requested": True,
            "participants_left_out": len(self.media_withheld),
            "clips_left_out": self.media_withheld_clips,
            "clips_without_participant": self.media_without_participant,
        }

    def clips_per_split(self) -> dict[str, int]:
        counts = np.bincount(self.split, minlength=len(SPLIT_NAMES))
        return {s: int(counts[i]) for i, s in enumerate(SPLIT_NAMES)}


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
        raise FileNotFoundError(f"the media file for {name} is missing from the media storage") from None


def write_clips(
    export: Export,
    writer: TableWriter,
    index: ClipIndex,
    *,
    folder: Path,
    participant_ids: Salted,
    splits: Splits,
    batch_size: int,
    progress: Callable[[int], None] = lambda clip_id: None,
) -> int:
    """Write the clips the ratings pass met; returns how many were found (the caller checks it against the
    index: a clip cannot go away while it has labels)."""
    # Media only where the participant consented to sharing; a clip without a participant is never shared.
    sharing = media_sharing(export.study) if export.parameters["include_media"] else {}
    found = 0
    schema = writer.schema
    names = np.array(SPLIT_NAMES)
    for table in clip_batches(export, size=batch_size):
        if not index.ids.size:
            break
        ids = table.column("id").to_numpy()
        pos = np.minimum(np.searchsorted(index.ids, ids), index.ids.size - 1)
        keep = index.ids[pos] == ids
        if not keep.any():
            continue
        found += int(keep.sum())
        pos, ids = pos[keep], ids[keep]
        table = table.filter(pa.array(keep)).combine_chunks()
        people = table.column("participant_id").fill_null(NO_PARTICIPANT).to_numpy()
        codes = index.split[pos]
        if not np.array_equal(splits.of(ids, people), codes):
            raise DataChanged()  # a clip moved to another participant since its ratings were read
        has = people != NO_PARTICIPANT
        distinct, where = np.unique(people, return_inverse=True)
        salted = pa.array(
            [None if p == NO_PARTICIPANT else participant_ids(p) for p in distinct.tolist()], pa.string()
        )
        participant = salted.take(pa.array(where))
        media = [None] * ids.size
        if export.parameters["include_media"]:
            index.media_without_participant += int((~has).sum())
            for i in np.flatnonzero(has).tolist():
                if not sharing.get(int(people[i]), False):
                    index.media_withheld.add(int(people[i]))
                    index.media_withheld_clips += 1
                    continue
                stored = table.column("file")[i].as_py()
                media[i] = _media_name(int(ids[i]), stored)
                _copy_media(folder, stored, media[i])
                index.media_files += 1
        clip_groups = pc.binary_join_element_wise("clip:", pa.array(ids).cast(pa.string()), "")
        arrays = {
            "clip_id": pa.array(ids),
            "participant_id": participant,
            "duration_s": table.column("duration_s"),
            "fps": table.column("fps"),
            "width": table.column("width"),
            "height": table.column("height"),
            "size_bytes": table.column("size_bytes"),
            "container": table.column("container"),
            "video_codec": pc.if_else(
                pc.equal(table.column("video_codec"), ""),
                pa.scalar(None, pa.string()),
                table.column("video_codec"),
            ),
            "has_audio": table.column("has_audio"),
            "media_sha256": table.column("sha256"),
            "media_file": pa.array(media, pa.string()),
            "split": pa.array(names[codes], pa.string()),
            "split_group": pc.if_else(pa.array(has), participant, clip_groups),
        }
        out = pa.Table.from_arrays([arrays[n] for n in schema.names], schema=schema)
        writer.write_by_split(SPLIT_NAMES, codes, out)
    return found
