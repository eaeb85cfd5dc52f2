"""Self-reports: the filmed participants' own ratings of their clips (experienced affect). Researchers only:
no annotator page, response or count ever reads them."""

from __future__ import annotations

from django.db.models import OuterRef, QuerySet

from labeling.models import SelfReport, Study


def self_reports_for_analysis(*, study: Study | OuterRef | None) -> QuerySet[SelfReport]:
    """The self-reports that count: the one rule, like annotations_for_analysis for labels. Today every
    self-report of the study except those of a withdrawn participant (Participant.withdrawn_at) or of a
    withdrawn clip. The agreement report, the study page, the research API and the exporter read through
    this (the exporter through self_reports_for_export), never with a filter of their own. `study` may be
    an OuterRef (beat's due-check counts them per study in one query), or None for every study's (only for a
    caller that scopes rows by study itself, like the admin's list)."""
    reports = SelfReport.objects.filter(
        participant__withdrawn_at__isnull=True, clip__withdrawn_at__isnull=True
    )
    return reports if study is None else reports.filter(study=study)


def self_reports_for_export(*, study: Study) -> QuerySet[SelfReport]:
    """The self-reports that count AND whose participant consented to their export
    (Participant.consent_self_reports_export)."""
    return self_reports_for_analysis(study=study).filter(participant__consent_self_reports_export=True)


def self_reports_for_researcher(
    *, study: Study, clip_id: int | None = None, participant: str | None = None
) -> QuerySet[SelfReport]:
    """The study's self-reports a researcher may read (those that count), with their participant;
    optionally only one clip's (by id) or one participant's (by code). `study` is already scoped to the
    requester (study_for_researcher)."""
    reports = self_reports_for_analysis(study=study).select_related("participant")
    if clip_id is not None:
        reports = reports.filter(clip_id=clip_id)
    if participant is not None:
        reports = reports.filter(participant__code=participant)
    return reports
