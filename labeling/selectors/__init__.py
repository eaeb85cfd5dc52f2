"""Reads, always scoped to who is asking. A row the requester may not see is NotFound (labeling.errors), never
a 403; every surface answers it with the same 404.

One module per area, mirroring labeling/services (people: members, invites and filmed participants); import
from here: ``from labeling import selectors; selectors.study_for_researcher(...)``. Query building (counts,
subqueries, aggregates) lives in these modules, once, for the API, the pages and the admin alike. Which
submitted labels count is decided by one selector, annotations_for_analysis: read labels through it.
"""

from .agreement import agreement_latest, annotation_watermark, self_report_watermark
from .annotations import (
    annotations_for_analysis,
    annotations_for_export,
    annotations_for_researcher,
    study_rating_rate,
    study_recent_annotations,
)
from .assignments import (
    Outlook,
    annotator_outlook,
    annotator_progress,
    assignment_for_annotator,
    assignments_for_researcher,
)
from .clips import clip_for_member, clip_for_researcher, clips_for_researcher, study_coverage
from .heartbeats import background_status
from .people import (
    annotator_labels_withdrawn,
    invite_get,
    invites_for_study,
    membership_find,
    membership_get,
    memberships_for_user,
    participants_with_counts,
    study_annotator_counts,
    study_annotators,
    study_member,
    study_members,
)
from .perceived import clip_perceived
from .self_reports import self_reports_for_analysis, self_reports_for_export, self_reports_for_researcher
from .studies import (
    scheme_current,
    scheme_versions_with_counts,
    studies_for_researcher,
    studies_for_user,
    studies_overview_for_researcher,
    studies_with_counts,
    studies_with_stats,
    study_for_researcher,
    study_with_stats,
)
from .tokens import api_tokens_for_user

__all__ = [
    "clip_perceived",
    "Outlook",
    "agreement_latest",
    "annotation_watermark",
    "annotations_for_analysis",
    "annotations_for_export",
    "annotations_for_researcher",
    "annotator_labels_withdrawn",
    "annotator_outlook",
    "annotator_progress",
    "api_tokens_for_user",
    "assignment_for_annotator",
    "assignments_for_researcher",
    "background_status",
    "clip_for_member",
    "clip_for_researcher",
    "clips_for_researcher",
    "invite_get",
    "invites_for_study",
    "membership_find",
    "membership_get",
    "memberships_for_user",
    "participants_with_counts",
    "scheme_current",
    "self_reports_for_analysis",
    "self_reports_for_export",
    "self_reports_for_researcher",
    "self_report_watermark",
    "scheme_versions_with_counts",
    "studies_for_researcher",
    "studies_for_user",
    "studies_overview_for_researcher",
    "studies_with_counts",
    "studies_with_stats",
    "study_annotator_counts",
    "study_annotators",
    "study_coverage",
    "study_for_researcher",
    "study_member",
    "study_members",
    "study_rating_rate",
    "study_recent_annotations",
    "study_with_stats",
]
