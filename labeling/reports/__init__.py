"""Agreement reports, the Django side: the study ratings loader (ratings.py), the self-reports loader
(self_reports.py), the layouts the statistics take (layout.py), the context-tag sections (tags.py), the
perceived-vs-experienced section (perceived.py) and the report builder (builder.py) whose JSON is stored in
AgreementReport.result."""

from labeling.reports.builder import build_result, policy_candidates
from labeling.reports.ratings import StudyRatings, load_ratings
from labeling.reports.self_reports import StudySelfReports, load_self_reports

__all__ = [
    "StudyRatings",
    "StudySelfReports",
    "build_result",
    "load_ratings",
    "load_self_reports",
    "policy_candidates",
]
