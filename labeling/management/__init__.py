"""Management commands of the labeling app (import_clips, import_self_reports, demo, simulate_annotators, …)."""

from django.core.management.base import CommandError


def study_from_ref(ref: str):
    """A study by slug or numeric id, or CommandError naming what was tried."""
    from labeling.models import Study

    study = Study.objects.filter(slug=ref).first()
    if study is None and str(ref).isdigit():
        study = Study.objects.filter(pk=int(ref)).first()
    if study is None:
        raise CommandError(f"No study with slug or id {ref!r}.")
    return study
