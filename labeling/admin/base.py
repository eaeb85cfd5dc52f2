"""The scoped admin every labeling admin builds on (staff who are not superusers see only the studies they
are researchers of), the study and scheme-version filters, and shared helpers."""

from __future__ import annotations

import contextvars

from django.contrib import admin
from django.db.models import QuerySet

from labeling import selectors
from labeling.models import SchemeVersion

# The request being served, so list columns can build absolute URLs (a ContextVar is per thread/task).
current_request: contextvars.ContextVar = contextvars.ContextVar("labeling_admin_request", default=None)


def id_param(value) -> int | None:
    """A row id from a query parameter, or None: ASCII digits within 64 bits (SQLite refuses larger integers
    with an OverflowError, and str.isdigit() accepts digits int() refuses, such as "²")."""
    value = str(value or "")
    if not (value.isascii() and value.isdigit() and len(value) <= 19):
        return None
    number = int(value)
    return number if number <= 2**63 - 1 else None


class IdFilter(admin.SimpleListFilter):
    """A list filter on one foreign key (`field`) by row id; an id that is not one (text, beyond 64 bits)
    lists nothing rather than failing."""

    field = ""

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        row_id = id_param(value)
        return queryset.filter(**{self.field: row_id}) if row_id is not None else queryset.none()


class StudyFilter(IdFilter):
    """The studies the user manages (one query), as ?study=<id>."""

    title = "study"
    parameter_name = "study"
    field = "study_id"

    def lookups(self, request, model_admin):
        return list(
            selectors.studies_for_researcher(user=request.user).order_by("title").values_list("id", "title")
        )


class SchemeVersionFilter(IdFilter):
    title = "scheme version"
    parameter_name = "scheme"
    field = "scheme_version_id"

    def lookups(self, request, model_admin):
        qs = SchemeVersion.objects.filter(study__in=selectors.studies_for_researcher(user=request.user))
        study = request.GET.get("study", "")
        if study:
            study_id = id_param(study)
            qs = qs.filter(study_id=study_id) if study_id is not None else qs.none()
        qs = qs.order_by("study__title", "version").values_list("id", "study__title", "version")
        return [(pk, f"{title} v{version}") for pk, title, version in qs]


class ScopedAdmin(admin.ModelAdmin):
    """Rows of the user's own studies only (superusers see everything)."""

    study_path = "study"
    show_full_result_count = False  # no second COUNT(*) over big tables

    def rows(self) -> QuerySet:
        """Every row this admin may list, before scoping to the user's studies: the model's, unless an admin
        lists what a selector decides (the labels that count, say)."""
        return self.model._default_manager.get_queryset()

    def get_queryset(self, request):
        current_request.set(request)
        qs = self.rows()
        ordering = self.get_ordering(request)
        if ordering:
            qs = qs.order_by(*ordering)
        if request.user.is_superuser:
            return qs
        return qs.filter(**{f"{self.study_path}__in": selectors.studies_for_researcher(user=request.user)})

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "study" and not request.user.is_superuser:
            kwargs["queryset"] = selectors.studies_for_researcher(user=request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ReadOnlyAdmin(ScopedAdmin):
    """History and queue state: viewable, never edited, added or deleted by hand."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def person(user) -> str:
    return user.crowd_pid or user.get_username()
