"""Writes of exports: start one (validated parameters, a version number, the watermark), build it (the
Celery task calls `export_build`), delete one. Built by the builder package exports/build/."""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import time
from pathlib import Path

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, transaction
from django.db.models import Max
from django.utils import timezone

from labeling.errors import Conflict
from labeling.models import Study
from labeling.selectors import annotations_for_analysis, self_reports_for_analysis
from labeling.services.jobs import TRANSIENT_DB_ERRORS, Jobs

from .build import DataChanged, build_folder
from .build.manifest import MANIFEST
from .build.source import private_snapshot
from .models import Export
from .params import parse_parameters
from .selectors import export_folder
from .version import code_version
from .withdrawal import exports_mark_withdrawn_during_build

logger = logging.getLogger(__name__)

# The build task's hard limit (10 million ratings take minutes); the soft one 60 s earlier.
TIME_LIMIT_S = 30 * 60
SOFT_TIME_LIMIT_S = TIME_LIMIT_S - 60
MAX_ATTEMPTS = 3
KILLED_ERROR = (
    f"The build was stopped {MAX_ATTEMPTS} times (time limit or worker loss) before it could finish, so it "
    "was given up. Start a new export, or run `manage.py export_study` for a very large study."
)
JOBS = Jobs(Export, TIME_LIMIT_S, SOFT_TIME_LIMIT_S, MAX_ATTEMPTS, KILLED_ERROR, noun="build")
RETRYABLE = (*TRANSIENT_DB_ERRORS, DataChanged)  # handed back to pending for the task's retry
PROGRESS_INTERVAL_S = 0.25  # saved progress: at most 4 writes a second

BROKER_DOWN = (
    "The export could not be queued: the task queue (broker) is unreachable. Nothing was started; try again "
    "in a moment, and tell the platform operator if it persists."
)


def _next_version(study: Study) -> int:
    return (Export.objects.filter(study=study).aggregate(v=Max("version"))["v"] or 0) + 1


def export_start(*, study: Study, parameters: object, created_by=None, enqueue: bool = True) -> Export:
    """Validate `parameters` (ValidationFailed names every bad one; nothing is created), take the watermark
    (the highest id among the labels that count, and among the
    self-reports that count, now) and create a pending export with the next version
    number; queue its build once the transaction commits (Unavailable, and the row deleted, if the broker
    refuses). `enqueue=False` for a caller that builds in its own process (manage.py export_study)."""
    params = parse_parameters(parameters)
    # Upper bounds, not filters: the build reads through the export selectors, up to these ids.
    last = annotations_for_analysis(study=study).aggregate(m=Max("id"))["m"]
    last_self_report = self_reports_for_analysis(study=study).aggregate(m=Max("id"))["m"]
    for _ in range(5):  # a concurrent start took the same version: take the next
        try:
            with transaction.atomic():
                export = Export.objects.create(
                    study=study,
                    version=_next_version(study),
                    parameters=params,
                    watermark_last_id=last or 0,
                    watermark_self_report_id=last_self_report or 0,
                    watermark_at=timezone.now(),
                    salt=secrets.token_hex(16),
                    created_by=created_by,
                )
            break
        except IntegrityError:
            continue
    else:
        raise IntegrityError("could not take an export version number")
    if enqueue:
        from .tasks import build_export  # the tasks module imports this one

        JOBS.enqueue(build_export, export.pk, BROKER_DOWN)
    return export


def export_build(*, export_id: int, progress=None, final_attempt: bool = True) -> Export | None:
    """Build a pending export (or a running one a killed worker left behind) into its folder: written to a
    temporary folder under EXPORTS_ROOT/.tmp, moved into place at the end, then recorded (files, row
    counts, sizes, timing, code version, the export it supersedes). Returns the export, or None when there
    was nothing to do (done, failed, unknown, or being built elsewhere).

    A failure (SoftTimeLimitExceeded and KeyboardInterrupt included) marks it failed with a plain message and
    leaves no folder behind; a transient database error hands it back to pending and is raised again so the
    task retries (unless `final_attempt`). A retry reads the same labels (the watermark) with the same
    parameters and salt, so it builds the same content. `progress(fraction, message)` is called as the build
    goes; the saved progress is throttled to a few writes per second."""
    mine = JOBS.claim(export_id, timezone.now())
    if mine is None:
        return None
    export = Export.objects.select_related("study").get(pk=export_id)
    clock = time.monotonic()
    # The build reads in a transaction of its own where it can (exports.build.source.snapshot): its progress
    # is then saved through a second connection, so the study page sees it as it goes.
    side = connections.create_connection(DEFAULT_DB_ALIAS) if private_snapshot() else None
    save = JOBS.progress_saver(mine, PROGRESS_INTERVAL_S, via=side)

    def report(fraction: float, message: str) -> None:
        save(fraction, message)
        if progress is not None:
            progress(fraction, message)

    root = Path(settings.EXPORTS_ROOT)
    temp = root / ".tmp" / f"{export.pk}-{secrets.token_hex(4)}"
    final = root / str(export.study_id) / f"v{export.version}-{export.pk}"
    moved = False
    try:
        _remove_leftovers(root, export)
        temp.mkdir(parents=True)
        export.code_version = code_version()
        manifest = build_folder(export, temp, report)
        report(0.99, "moving into place")
        if final.exists():  # a killed attempt moved it there but could not record it
            shutil.rmtree(final)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(temp, final)
        moved = True
        supersedes = manifest["export"]["supersedes"]
        done = mine.update(
            status=Export.Status.DONE,
            progress=1.0,
            progress_message="done",
            folder=final.relative_to(root).as_posix(),
            files=manifest["files"],
            row_counts={name: table["rows"] for name, table in manifest["tables"].items()},
            total_bytes=sum(f["bytes"] for f in manifest["files"]) + (final / MANIFEST).stat().st_size,
            code_version=export.code_version,
            supersedes_id=supersedes["id"] if supersedes else None,
            finished_at=timezone.now(),
            duration_s=time.monotonic() - clock,
        )
        if done:  # withdrawals committed while it read: marked now (exports/withdrawal.py)
            exports_mark_withdrawn_during_build(export_id=export.pk)
        if progress is not None:
            progress(1.0, "done")
        if not done:  # another run took it over (this one was thought killed); its folder is the same
            logger.warning("export %s was taken over by another run while this one finished", export_id)
    except (Exception, KeyboardInterrupt) as exc:  # SoftTimeLimitExceeded included
        _discard(temp)
        if moved:
            _discard(final)
        if isinstance(exc, RETRYABLE) and not final_attempt:
            JOBS.release(mine)
            raise
        if not isinstance(exc, RETRYABLE):
            logger.exception("export %s failed", export_id)
        JOBS.fail(mine, exc, clock, _error_text(exc))
        if isinstance(exc, KeyboardInterrupt):
            raise
    finally:
        if side is not None:
            side.close()
    return Export.objects.get(pk=export_id)


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, DataChanged):
        return str(exc)
    if isinstance(exc, TRANSIENT_DB_ERRORS):
        return f"The database could not be read (it may be restarting): {exc}. Start the export again."
    if isinstance(exc, OSError):
        return f"Writing the export's files failed: {exc}"
    return JOBS.error_text(exc)


def _remove_leftovers(root: Path, export: Export) -> None:
    """Temporary folders of this export's earlier attempts (killed workers): this run holds the claim."""
    for path in (root / ".tmp").glob(f"{export.pk}-*"):
        _discard(path)


def _discard(path: Path) -> None:
    try:
        shutil.rmtree(path)
    except FileNotFoundError:
        pass
    except OSError:
        logger.warning("could not remove %s", path, exc_info=True)


STILL_BUILDING = (
    "Export v{version} is still being built ({status}); it can be deleted once it has finished or failed."
)


def export_delete(*, export: Export) -> None:
    """Delete a finished or failed export: its folder, then its row. One still pending or running is a
    Conflict (its build would write a folder nobody owns), and nothing is changed. Deleting twice is no error."""
    current = Export.objects.filter(pk=export.pk).first()
    if current is None:
        return
    if current.status in Export.OPEN:
        status = current.get_status_display().lower()
        raise Conflict(STILL_BUILDING.format(version=current.version, status=status))
    folder = export_folder(current)
    if folder is not None:
        # Moved aside first (one rename: a concurrent delete finds nothing to move), so no download ever
        # reads half a folder; then removed. The build never touches a done or failed export again.
        trash = folder.with_name(f".deleting-{folder.name}-{secrets.token_hex(4)}")
        try:
            folder.rename(trash)
        except FileNotFoundError:
            pass
        else:
            shutil.rmtree(trash)
    Export.objects.filter(pk=current.pk, status__in=[Export.Status.DONE, Export.Status.FAILED]).delete()
