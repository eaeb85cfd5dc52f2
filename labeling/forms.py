"""Forms for researchers: clip upload (study page and admin), the admin's self-report import, and the study
admin's scheme field."""

from __future__ import annotations

import json

from django import forms
from django.conf import settings

from labeling.models import Study
from labeling.scheme import SchemeError, validate_spec
from labeling.text import text_problem

# Django refuses requests with more files than this (DATA_UPLOAD_MAX_NUMBER_FILES); say so up front.
MAX_FILES_PER_UPLOAD = getattr(settings, "DATA_UPLOAD_MAX_NUMBER_FILES", 100) or 100


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.Field):
    """A list of uploaded files. Files are not judged here: clip_create refuses each bad one with a reason."""

    widget = MultipleFileInput

    def __init__(self, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "video/*", "multiple": True}))
        super().__init__(**kwargs)

    def to_python(self, data):
        if not data:
            return []
        return [f for f in (data if isinstance(data, (list, tuple)) else [data]) if f]

    def validate(self, value):
        if self.required and not value:
            raise forms.ValidationError("Choose one or more video files.", code="required")
        if len(value) > MAX_FILES_PER_UPLOAD:
            raise forms.ValidationError(
                f"At most {MAX_FILES_PER_UPLOAD} files per upload; use `manage.py import_clips` for more.",
                code="too_many",
            )


class ClipUploadForm(forms.Form):
    files = MultipleFileField(
        label="Video files",
        help_text=(
            "MP4, WebM, MOV … Each file is decoded to check it; files that are not videos, exceed the limits "
            "or duplicate a clip of this study are refused with the reason."
        ),
    )


class AdminClipUploadForm(ClipUploadForm):
    """The admin's bulk upload: the study is chosen among those the user may manage."""

    study = forms.ModelChoiceField(queryset=Study.objects.none(), empty_label=None)

    field_order = ["study", "files"]

    def __init__(self, *args, studies=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["study"].queryset = studies if studies is not None else Study.objects.all()


class SchemeJSONField(forms.JSONField):
    """A rating scheme as JSON, checked against labeling.scheme (the message names the bad key)."""

    def __init__(self, **kwargs):
        kwargs.setdefault(
            "widget", forms.Textarea(attrs={"rows": 22, "cols": 90, "class": "vLargeTextField mono"})
        )
        kwargs.setdefault(
            "help_text",
            "instrument: sam | slider | grid; points (odd, 3–21); ask_confidence; confidence_points; "
            "context_groups [{name, label, tags}]; context_note. A version already used by a rating or a lease "
            "is frozen: saving a change to it creates the next version.",
        )
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, (dict, list)):
            text = json.dumps(value, indent=2, ensure_ascii=False)
            # A refused scheme is shown again as typed; a lone surrogate stays an escape (\ud800), since
            # the page itself could not be encoded with it.
            return json.dumps(value, indent=2) if text_problem(text) else text
        return super().prepare_value(value)

    def validate(self, value):
        super().validate(value)
        try:
            validate_spec(value)
        except SchemeError as exc:
            raise forms.ValidationError([f"{key}: {msg}" for key, msg in exc.errors.items()]) from None

    def clean(self, value):
        return validate_spec(super().clean(value))


class SelfReportImportForm(forms.Form):
    """The admin's self-report import: a study among those the user may manage, a CSV or JSON file, and
    whether to only check it (docs/self-reports.md)."""

    study = forms.ModelChoiceField(queryset=Study.objects.none(), empty_label=None)
    file = forms.FileField(
        label="CSV or JSON file",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.tsv,.txt,.json,text/csv,application/json"}),
    )
    dry_run = forms.BooleanField(
        required=False,
        label="Dry run",
        help_text="Check the file and show the report; import nothing.",
    )

    def __init__(self, *args, studies=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["study"].queryset = studies if studies is not None else Study.objects.all()
        self.fields["file"].help_text = (
            "The format is read from the name (.csv, .tsv, .txt or .json). UTF-8, at most "
            f"{settings.SELF_REPORT_IMPORT_MAX_BYTES / (1024 * 1024):g} MB and "
            f"{settings.SELF_REPORT_IMPORT_MAX_ROWS:,} rows."
        )
