"""Studies and their schemes: creating a study and changing its scheme go through labeling.services (a used
version is frozen: a change makes the next one)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import slugify

from labeling import selectors, services
from labeling.admin.base import ReadOnlyAdmin, ScopedAdmin, StudyFilter
from labeling.errors import ServiceError
from labeling.forms import SchemeJSONField
from labeling.models import SchemeVersion, Study
from labeling.scheme import DEFAULT_SPEC


class SchemeVersionInline(admin.TabularInline):
    model = SchemeVersion
    extra = 0
    can_delete = False
    fields = ["version", "created_at", "summary", "labels"]
    readonly_fields = fields
    ordering = ["-version"]
    verbose_name_plural = (
        "scheme versions (a version in use is frozen; edit the scheme above to make a new one)"
    )

    def get_queryset(self, request):
        return selectors.scheme_versions_with_counts(versions=super().get_queryset(request))

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="scheme")
    def summary(self, obj):
        spec = obj.spec
        groups = ", ".join(g.get("label") or g["name"] for g in spec.get("context_groups", []))
        confidence = (
            f"confidence 1–{spec.get('confidence_points')}" if spec.get("ask_confidence") else "no confidence"
        )
        return f"{spec.get('instrument')} · {spec.get('points')} points · {confidence} · context: {groups or '—'}"

    @admin.display(description="labels")
    def labels(self, obj):
        return obj.annotation_count


QUEUE_FIELDS = ("overlap_k", "lease_minutes", "require_full_view")
POLICY_FIELDS = ("extra_annotator_sd_threshold", "extra_annotator_cap_k")
STUDY_FIELDS = (
    "is_active",
    "instructions",
    "consent_text",
    *QUEUE_FIELDS,
    "completion_code",
    "completion_url",
    "crowd_key",
    *POLICY_FIELDS,
)


class StudyForm(forms.ModelForm):
    scheme = SchemeJSONField(label="Rating scheme")

    class Meta:
        model = Study
        fields = ["title", "slug", *STUDY_FIELDS]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "slug" in self.fields:
            self.fields["slug"].required = False
            self.fields["slug"].help_text = "Used in crowd links. Left empty, it is made from the title."
        self.current_scheme = selectors.scheme_current(study=self.instance) if self.instance.pk else None
        self.fields["scheme"].initial = (
            self.current_scheme.spec if self.current_scheme else dict(DEFAULT_SPEC)
        )

    def clean(self):
        data = super().clean()
        if "slug" in self.fields and not data.get("slug") and data.get("title"):
            data["slug"] = slugify(data["title"])[:80]
            if not data["slug"]:
                self.add_error("slug", "The title gives no usable slug; enter one.")
            elif Study.objects.filter(slug=data["slug"]).exclude(pk=self.instance.pk).exists():
                self.add_error("slug", f"{data['slug']!r} is taken; enter another slug.")
        return data


@admin.register(Study)
class StudyAdmin(ScopedAdmin):
    study_path = "pk"
    form = StudyForm
    list_display = ["title", "slug", "is_active", "overlap_k", "clips", "annotators", "created_at", "page"]
    list_filter = ["is_active"]
    search_fields = ["title", "slug"]
    fieldsets = [
        (None, {"fields": ["title", "slug", "is_active"]}),
        ("Text shown to annotators (Markdown)", {"fields": ["instructions", "consent_text"]}),
        ("Queue", {"fields": list(QUEUE_FIELDS)}),
        ("Crowd platforms", {"fields": ["crowd_key", "completion_code", "completion_url"]}),
        ("Agreement: one more annotator for clips rated far apart (K+1)", {"fields": list(POLICY_FIELDS)}),
        ("Rating scheme", {"fields": ["scheme"]}),
    ]
    actions = ["compute_agreement"]

    @admin.action(description="Compute agreement now")
    def compute_agreement(self, request, queryset):
        started = running = 0
        for study in queryset:  # already scoped to the user's studies
            try:
                _, created = services.agreement_request(study=study, requested_by=request.user)
            except ServiceError as exc:  # the broker is down: say so, and stop (the next would fail too)
                self.message_user(request, f"{study}: {exc.message}", messages.ERROR)
                break
            started += created
            running += not created
        if not (started or running):
            return
        parts = [f"Agreement run queued for {started} {'study' if started == 1 else 'studies'}."]
        if running:
            parts.append(f"{running} already had a run pending or going; it was left to finish.")
        self.message_user(request, " ".join(parts), messages.SUCCESS)

    def get_queryset(self, request):
        return selectors.studies_with_counts(studies=super().get_queryset(request), annotators=True)

    def get_inlines(self, request, obj):
        return [SchemeVersionInline] if obj is not None else []

    def view_on_site(self, obj):
        return reverse("study-detail", args=[obj.pk])

    @admin.display(description="clips", ordering="clip_count")
    def clips(self, obj):
        return obj.clip_count

    @admin.display(description="annotators", ordering="annotator_count")
    def annotators(self, obj):
        return obj.annotator_count

    @admin.display(description="study page")
    def page(self, obj):
        return format_html('<a href="{}">open</a>', reverse("study-detail", args=[obj.pk]))

    def save_model(self, request, obj, form, change):
        spec = form.cleaned_data["scheme"]
        if not change:  # through the service: scheme v1 and the creator's researcher membership
            created = services.study_create(
                title=form.cleaned_data["title"],
                slug=form.cleaned_data["slug"],
                created_by=request.user,
                scheme=spec,
                **{f: form.cleaned_data[f] for f in STUDY_FIELDS if f in form.cleaned_data},
            )
            obj.pk, obj.created_by, obj.created_at = created.pk, created.created_by, created.created_at
            obj._state.adding, obj._state.db = False, created._state.db
            return
        current = form.current_scheme
        changed_scheme = current is None or spec != current.spec
        fields = {f: form.cleaned_data[f] for f in ("title", "slug", *STUDY_FIELDS) if f in form.changed_data}
        services.study_update(study=obj, fields=fields, scheme=spec if changed_scheme else None)
        if changed_scheme:
            version = selectors.scheme_current(study=obj)
            if current is not None and version.version != current.version:
                self.message_user(
                    request,
                    f"Scheme v{current.version} is in use, so the change was saved as v{version.version}.",
                    messages.WARNING,
                )


@admin.register(SchemeVersion)
class SchemeVersionAdmin(ReadOnlyAdmin):
    list_display = ["study", "version", "created_at"]
    list_filter = [StudyFilter]
    list_select_related = ["study"]
    readonly_fields = ["study", "version", "spec", "created_at"]
