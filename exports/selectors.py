"""Reads of exports, always scoped to the requester: another study's export is NotFound, like every object."""

from __future__ import annotations

from django.db.models import QuerySet

from labeling.errors import NotFound
from labeling.models import Study
from labeling.selectors import studies_for_researcher
from labeling.selectors._base import BAD_ID, User

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
        raise NotFound("This study has no finished export yet.")
    return export
