"""The exports API's input and output shapes (exports/api.py)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.reverse import reverse

from .build.manifest import MANIFEST
from .models import Export
from .params import DEFAULTS, FORMATS, GRID_MAX, GRID_MIN, SEED_MAX


class SplitFractionsSerializer(serializers.Serializer):
    train = serializers.FloatField(min_value=0, max_value=1)
    validation = serializers.FloatField(min_value=0, max_value=1)
    test = serializers.FloatField(min_value=0, max_value=1)


class ExportParametersSerializer(serializers.Serializer):
    """What a build may be asked for; every field is optional (the default is used). It documents the body:
    the body itself is checked by exports.params.parse_parameters, which also refuses unknown fields."""

    formats = serializers.ListField(
        child=serializers.ChoiceField(choices=FORMATS),
        required=False,
        help_text=f"Parquet is always written; add csv and/or jsonl. Default {DEFAULTS['formats']}.",
    )
    grid = serializers.ListField(
        child=serializers.IntegerField(min_value=GRID_MIN, max_value=GRID_MAX),
        min_length=2,
        max_length=2,
        required=False,
        help_text="[valence bins, arousal bins] of the 2-D histogram over [-1, 1]² (default [5, 5]).",
    )
    splits = SplitFractionsSerializer(
        required=False, help_text="Fractions of participants (clips where none) per split; they sum to 1."
    )
    split_seed = serializers.IntegerField(
        min_value=0, max_value=SEED_MAX, required=False, help_text="Fixes the split assignment (default 0)."
    )
    include_free_text = serializers.BooleanField(
        required=False, help_text="Context notes and cannot-judge reasons (default false: left out)."
    )
    include_media = serializers.BooleanField(
        required=False, help_text="Copy the clips whose participants consented to sharing (default false)."
    )
    stable_salt = serializers.BooleanField(
        required=False,
        help_text="Keep annotator and participant ids the same across this study's exports (default false: "
        "salted per export).",
    )


class ExportWatermarkSerializer(serializers.Serializer):
    last_annotation_id = serializers.IntegerField(
        allow_null=True, help_text="The export holds the labels that count with id up to this one."
    )
    at = serializers.DateTimeField(allow_null=True, help_text="When the watermark was taken.")
    last_self_report_id = serializers.IntegerField(
        allow_null=True,
        help_text="The build reads the self-reports that may be exported with ids up to this one (null: an "
        "export requested before self-reports were exported holds none).",
    )


class ExportFileSerializer(serializers.Serializer):
    path = serializers.CharField(help_text="Path inside the export folder (and the zip's top folder).")
    bytes = serializers.IntegerField()
    sha256 = serializers.CharField(help_text="Hex digest; also the file's ETag.")
    rows = serializers.IntegerField(required=False, allow_null=True, help_text="Rows, for a table file.")
    table = serializers.CharField(required=False)
    split = serializers.CharField(required=False)
    format = serializers.CharField(required=False)
    url = serializers.URLField(allow_null=True, help_text="Download (null while it may not be downloaded).")


class ExportSupersedesSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    version = serializers.IntegerField()


class ExportSummarySerializer(serializers.ModelSerializer):
    """An export in a list: everything but the list of its files (an export with media may hold thousands).
    URLs are absolute, and null while the files may not be downloaded."""

    watermark = serializers.SerializerMethodField()
    n_files = serializers.SerializerMethodField()
    supersedes = serializers.SerializerMethodField()
    created_by = serializers.SerializerMethodField()
    withdrawn = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()
    manifest_url = serializers.SerializerMethodField()
    zip_url = serializers.SerializerMethodField()

    class Meta:
        model = Export
        fields = [
            "id", "study", "version", "status", "progress", "progress_message", "parameters", "watermark",
            "row_counts", "n_files", "total_bytes", "duration_s", "code_version", "supersedes", "created_by",
            "created_at", "started_at", "finished_at", "error", "withdrawn", "withdrawn_data_at",
            "withdrawn_note", "url", "manifest_url", "zip_url",
        ]  # fmt: skip
        read_only_fields = fields
        extra_kwargs = {
            "progress": {"help_text": "0..1 while building; 1 when done."},
            "error": {"help_text": "Why a failed build failed; empty otherwise."},
            "withdrawn_data_at": {
                "help_text": "When data this export holds was withdrawn (downloads are then refused: 410)."
            },
        }

    def _url(self, name: str, export: Export, **kwargs) -> str:
        return reverse(name, kwargs={"export_id": export.pk, **kwargs}, request=self.context.get("request"))

    def _downloadable(self, export: Export) -> bool:
        return export.status == Export.Status.DONE and export.withdrawn_data_at is None

    @extend_schema_field(ExportWatermarkSerializer)
    def get_watermark(self, export: Export) -> dict:
        return {
            "last_annotation_id": export.watermark_last_id,
            "at": export.watermark_at,
            "last_self_report_id": export.watermark_self_report_id,
        }

    @extend_schema_field(serializers.IntegerField(help_text="Files in the export, manifest.json aside."))
    def get_n_files(self, export: Export) -> int:
        return len(export.files)

    @extend_schema_field(ExportSupersedesSerializer(allow_null=True))
    def get_supersedes(self, export: Export) -> dict | None:
        old = export.supersedes
        return {"id": old.pk, "version": old.version} if old is not None else None

    @extend_schema_field(serializers.CharField(allow_null=True, help_text="Username of who started it."))
    def get_created_by(self, export: Export) -> str | None:
        return export.created_by.get_username() if export.created_by else None

    @extend_schema_field(serializers.BooleanField(help_text="True when the export holds withdrawn data."))
    def get_withdrawn(self, export: Export) -> bool:
        return export.withdrawn_data_at is not None

    @extend_schema_field(serializers.URLField())
    def get_url(self, export: Export) -> str:
        return self._url("api-export", export)

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_manifest_url(self, export: Export) -> str | None:
        return self._url("api-export-file", export, path=MANIFEST) if self._downloadable(export) else None

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_zip_url(self, export: Export) -> str | None:
        return self._url("api-export-zip", export) if self._downloadable(export) else None


class ExportSerializer(ExportSummarySerializer):
    """One export, with every file (path, bytes, sha256, rows, download URL)."""

    files = serializers.SerializerMethodField()

    class Meta(ExportSummarySerializer.Meta):
        fields = [*ExportSummarySerializer.Meta.fields, "files"]
        read_only_fields = fields

    @extend_schema_field(ExportFileSerializer(many=True))
    def get_files(self, export: Export) -> list[dict]:
        ok = self._downloadable(export)
        return [
            {**f, "url": self._url("api-export-file", export, path=f["path"]) if ok else None}
            for f in export.files
        ]
