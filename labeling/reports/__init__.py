"""Agreement reports, the Django side: the study ratings loader (ratings.py), the layouts the statistics take
(layout.py), the context-tag sections (tags.py) and the report builder (builder.py) whose JSON is stored in
AgreementReport.result."""

from labeling.reports.builder import build_result, policy_candidates
from labeling.reports.ratings import StudyRatings, load_ratings

__all__ = ["StudyRatings", "build_result", "load_ratings", "policy_candidates"]
