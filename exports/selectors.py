"""Reads of exports, always scoped to the requester: another study's export is NotFound, like every object."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db.models import QuerySet

from labeling.errors import Gone, NotFound
from labeling.models import Study
from labeling.selectors import studies_for_researcher
from labeling.selectors._base import BAD_ID, User

from .build.manifest import MANIFEST
from .models import Export


def exports_for_study(*, study: Study) -> QuerySet[Export]:
    """The study's exports, newest version first (`study` already scoped to the requester)."""
    return Export.objects.filter(study=study).select_related("created_by", "supersedes").order_by("-version")


def export_for_researcher(*, user: User, export_id: int) -> Export:
    """An export of one of the requester's studies as a researcher, or NotFound."""
    try:
        return (
            Export.objects.select_related("study", "created_by", "supersedes")
            .filter(study__in=studies_for_researcher(user=user))
            .get(pk=export_id)
        )
    except (Export.DoesNotExist, *BAD_ID):
        raise NotFound("No such export.") from None


def export_latest(*, study: Study) -> Export:
    """The study's newest finished export that holds no withdrawn data, or NotFound."""
    export = (
        Export.objects.filter(study=study, status=Export.Status.DONE, withdrawn_data_at__isnull=True)
        .order_by("-version")
        .first()
    )
    if export is None:
        raise NotFound(
            "This study has no finished export without withdrawn data yet: start one with "
            f"POST /api/studies/{study.pk}/exports/ (or from the study page)."
        )
    return export


class WithdrawnData(Gone):
    """A download of an export that holds withdrawn data: 410, with when and what (never who)."""

    def __init__(self, export: Export):
        when = export.withdrawn_data_at
        assert when is not None
        super().__init__(
            f"Export v{export.version} holds data withdrawn on {when:%Y-%m-%d}; it can no longer be "
            "downloaded. Build a new one (it leaves the withdrawn data out), and delete this one."
        )
        self.withdrawn_at = when
        self.withdrawn_note = export.withdrawn_note

    def as_dict(self) -> dict:
        return {
            **super().as_dict(),
            "withdrawn_at": self.withdrawn_at.isoformat(),
            "withdrawn_note": self.withdrawn_note,
        }


def export_refusal(export: Export) -> NotFound | WithdrawnData | None:
    """Why the export's files may not be downloaded (the error a download raises), or None when they may."""
    if export.status != Export.Status.DONE:
        reason = {
            Export.Status.PENDING: "it is waiting for a worker to start it",
            Export.Status.RUNNING: f"it is still being built ({export.progress:.0%})",
            Export.Status.FAILED: f"the build failed: {export.error or 'no reason was recorded'}",
        }[Export.Status(export.status)]
        return NotFound(f"Export v{export.version} did not finish: {reason}.")
    if export.withdrawn_data_at is not None:
        return WithdrawnData(export)
    return None


def export_folder(export: Export) -> Path | None:
    """The export's folder on disk (under settings.EXPORTS_ROOT), or None when it has none. A folder value
    that leads outside EXPORTS_ROOT is refused (ValueError): a path from a row is never trusted."""
    if not export.folder:
        return None
    root = Path(settings.EXPORTS_ROOT).resolve()
    folder = (root / export.folder).resolve()
    if folder == root or not folder.is_relative_to(root):
        raise ValueError(f"export {export.pk}: folder {export.folder!r} is not inside EXPORTS_ROOT")
    return folder


def export_files(*, export: Export, complete: bool = False) -> tuple[Path, list[dict]]:
    """(folder, entries) of a downloadable export: every file of its manifest, then manifest.json itself
    ({path, bytes, sha256, ...}; Export.files never lists the manifest, so its entry is {path} alone).
    NotFound for an export that did not finish or whose folder is missing (`complete`: or any of its files),
    WithdrawnData for one that holds withdrawn data."""
    if refusal := export_refusal(export):
        raise refusal
    folder = export_folder(export)
    if folder is None or not folder.is_dir():
        raise NotFound(f"Export v{export.version}'s files are missing on the server; build a new one.")
    entries = [*map(dict, export.files), {"path": MANIFEST}]
    if complete and (damaged := [e["path"] for e in entries if not _intact(folder / e["path"], e)]):
        raise NotFound(
            f"Export v{export.version} is damaged on the server ({', '.join(damaged[:3])} missing or not the "
            "size its manifest says); build a new one."
        )
    return folder, entries


def _intact(file: Path, entry: dict) -> bool:
    """The file is there with the size its manifest entry says (a stat, no reading: sha256 is checked as the
    zip streams it, and by the client against the ETag)."""
    try:
        size = file.stat().st_size
    except OSError:
        return False
    return file.is_file() and size == entry.get("bytes", size)


def export_file(*, export: Export, path: str) -> tuple[Path, dict]:
    """(file on disk, its entry) for one file of a downloadable export, by its path in the manifest.
    Anything the manifest does not list (another path, a traversal, a folder) is NotFound."""
    folder, entries = export_files(export=export)
    entry = next((e for e in entries if e["path"] == path), None)
    file = (folder / path).resolve() if entry is not None else None
    if entry is None or file is None or not file.is_relative_to(folder) or not file.is_file():
        raise NotFound("No such file in this export.")
    if not _intact(file, entry):
        raise NotFound(f"{path} of export v{export.version} is damaged on the server; build a new one.")
    return file, entry
