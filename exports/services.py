"""Writes of exports: start one (validated parameters, a version number, the watermark), build it (the
Celery task calls `export_build`), delete one. Built by the builder package exports/build/."""

from __future__ import annotations

import logging
import secrets
import shutil

from django.db import IntegrityError, transaction
from django.db.models import Max

from labeling.errors import Conflict, Unavailable
from labeling.models import Study
from labeling.selectors import annotations_for_analysis

from .models import Export
from .params import parse_parameters
from .selectors import export_folder

logger = logging.getLogger(__name__)

BROKER_DOWN = (
    "The export could not be queued: the task queue (broker) is unreachable. Nothing was started; try again "
    "in a moment, and tell the platform operator if it persists."
)


def _next_version(study: Study) -> int:
    return (Export.objects.filter(study=study).aggregate(v=Max("version"))["v"] or 0) + 1


def export_start(*, study: Study, parameters: object, created_by=None, enqueue: bool = True) -> Export:
    """Validate `parameters` (ValidationFailed names every bad one; nothing is created), take the watermark
    (the highest id among the labels that count, now) and create a pending export with the next version
    number; queue its build once the transaction commits (Unavailable, and the row deleted, if the broker
    refuses). `enqueue=False` for a caller that builds in its own process (manage.py export_study)."""
    params = parse_parameters(parameters)
    last = annotations_for_analysis(study=study).aggregate(m=Max("id"))["m"]
    for _ in range(5):  # a concurrent start took the same version: take the next
        try:
            with transaction.atomic():
                export = Export.objects.create(
                    study=study,
                    version=_next_version(study),
                    parameters=params,
                    watermark_last_id=last or 0,
                    salt=secrets.token_hex(16),
                    created_by=created_by,
                )
            break
        except IntegrityError:
            continue
    else:
        raise IntegrityError("could not take an export version number")
    if enqueue:
        _enqueue(export.pk)
    return export


def _enqueue(export_id: int) -> None:
    from .tasks import build_export  # the tasks module imports this one

    def send():
        try:
            build_export.apply_async((export_id,))
        except Exception as exc:  # kombu's OperationalError, a missing transport dependency, ...
            logger.error("could not queue export %s: %r; it was withdrawn", export_id, exc)
            Export.objects.filter(pk=export_id, status=Export.Status.PENDING, attempts=0).delete()
            raise Unavailable(BROKER_DOWN) from exc

    transaction.on_commit(send, robust=False)


def export_build(*, export_id: int, progress=None, final_attempt: bool = True) -> Export | None:
    """Build a pending export (or a running one a killed worker left behind) into its folder: written to a
    temporary folder, moved into place at the end. Idempotent: a done or failed export is left alone and
    None returned. `progress(fraction, message)` is called as the build goes (besides the saved progress).
    Implemented in exports/build/ (issue 8)."""
    raise NotImplementedError


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
