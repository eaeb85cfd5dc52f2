"""Writes of exports: start one (validated parameters, a version number, the watermark), build it (the
Celery task calls `export_build`), delete one. Built by the builder package exports/build/."""

from __future__ import annotations

import logging
import secrets

from django.db import IntegrityError, transaction
from django.db.models import Max

from labeling.errors import Unavailable
from labeling.models import Study
from labeling.selectors import annotations_for_analysis

from .models import Export
from .params import parse_parameters

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
