"""The queue and the submitted labels: read-only."""

from __future__ import annotations

from django.contrib import admin

from labeling import selectors
from labeling.admin.base import (
    ReadOnlyAdmin,
    SchemeVersionFilter,
    StudyFilter,
    person,
)
from labeling.models import (
    Annotation,
    Assignment,
)


@admin.register(Assignment)
class AssignmentAdmin(ReadOnlyAdmin):
    list_display = ["id", "clip", "who", "study", "status", "leased_at", "lease_expires_at", "submitted_at"]
    list_filter = ["status", StudyFilter]
    list_select_related = ["clip", "annotator", "study"]
    search_fields = ["annotator__username", "annotator__crowd_pid", "clip__original_name"]

    def rows(self):
        # Who held a withdrawn participant's clip is theirs too: out of the lists like the labels.
        return selectors.assignments_for_researcher(study=None)

    @admin.display(description="annotator", ordering="annotator__username")
    def who(self, obj):
        return person(obj.annotator)


@admin.register(Annotation)
class AnnotationAdmin(ReadOnlyAdmin):
    """Submitted labels are never changed by hand: no add, no change, no delete."""

    list_display = [
        "created_at", "clip", "who", "valence", "arousal", "raw", "confidence", "cannot_judge", "version", "study",
    ]  # fmt: skip
    fieldsets = [
        (None, {"fields": ["study", "clip", "annotator", "assignment", "scheme_version", "submission_id", "created_at"]}),
        ("Rating (canonical [-1, 1] and raw scale values)", {"fields": [
            ("valence", "valence_raw", "valence_confidence"), ("arousal", "arousal_raw", "arousal_confidence"),
            ("cannot_judge", "cannot_judge_reason"),
        ]}),
        ("Context", {"fields": ["context_tags", "context_note"]}),
        ("How it was made", {"fields": ["time_on_task_ms", "watched_fraction", "user_agent"]}),
    ]  # fmt: skip
    list_filter = [StudyFilter, "cannot_judge", SchemeVersionFilter]
    list_select_related = ["clip", "annotator", "study", "scheme_version"]

    def rows(self):
        # The labels that count: those of withdrawn participants' clips are kept in the database but shown nowhere.
        return selectors.annotations_for_analysis(study=None)

    search_fields = ["annotator__username", "annotator__crowd_pid", "clip__original_name", "=clip__sha256"]

    @admin.display(description="annotator", ordering="annotator__username")
    def who(self, obj):
        return person(obj.annotator)

    @admin.display(description="raw V / A")
    def raw(self, obj):
        return "—" if obj.cannot_judge else f"{obj.valence_raw:g} / {obj.arousal_raw:g}"

    @admin.display(description="confidence")
    def confidence(self, obj):
        if obj.valence_confidence is None:
            return "—"
        return f"{obj.valence_confidence} / {obj.arousal_confidence}"

    @admin.display(description="scheme", ordering="scheme_version__version")
    def version(self, obj):
        return f"v{obj.scheme_version.version}"
