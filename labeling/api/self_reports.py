"""A study's self-reports (the filmed participants' own ratings): the list, and the import of a file.

For the study's researchers (and superusers); anyone else, the study's annotators included, gets 404: to
them the self-reports do not exist. The list reads the self-reports that count
(selectors.self_reports_for_analysis: withdrawn participants' are out). The import is
labeling.services.self_reports_import: all or nothing; the rules and messages are in docs/self-reports.md.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from labeling import selectors, services
from labeling.api.base import NOT_FOUND, ErrorSerializer, error
from labeling.api.parsers import CSVFileParser, FileBody, JSONFileParser, MultiPartParser
from labeling.api.research import ResearchView
from labeling.api.serializers import MAX_ID, SelfReportSerializer
from labeling.errors import ValidationFailed
from labeling.models import SelfReport

TAG = ["research"]


class SelfReportFilterSerializer(serializers.Serializer):
    clip = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="Only this clip's self-reports (clip id)."
    )
    participant = serializers.CharField(
        required=False, max_length=64, help_text="Only this participant's self-reports (their code)."
    )


class ImportQuerySerializer(serializers.Serializer):
    dry_run = serializers.BooleanField(
        required=False, default=False, help_text="1: check the file and report, write nothing."
    )


class ImportUploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        allow_empty_file=True,  # the import says what is wrong with an empty file
        help_text="A CSV or JSON file of self-reports (format from the name: .csv, .tsv, .txt or .json).",
    )


class ImportErrorSerializer(serializers.Serializer):
    line = serializers.IntegerField(
        allow_null=True,
        help_text="CSV: the physical line (the header is line 1). JSON: the item's index, from 1. "
        "Null: the file as a whole.",
    )
    where = serializers.CharField(help_text='"line 3", "item 3" or "file".')
    field = serializers.CharField(help_text='The column at fault, or "row" (the whole row) or "file".')
    message = serializers.CharField()


class ImportReportSerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=["csv", "json"])
    dry_run = serializers.BooleanField()
    imported = serializers.BooleanField(help_text="Whether the rows were written (not a dry run, no errors).")
    rows = serializers.IntegerField(help_text="Rows (CSV) or items (JSON) read.")
    created = serializers.IntegerField(help_text="New self-reports (a dry run: that would be created).")
    unchanged = serializers.IntegerField(help_text="Rows equal to self-reports already stored.")
    lines = serializers.CharField(help_text="What the errors' `line` counts.")
    errors = ImportErrorSerializer(many=True)


class ImportRefusedSerializer(ErrorSerializer):
    report = ImportReportSerializer(help_text="Every bad row, each with its line and why.")


class ImportRowSerializer(serializers.Serializer):
    """One self-report of a JSON import (the CSV columns have the same names; docs/self-reports.md)."""

    id = serializers.CharField(required=False, help_text="Your id for the row (unique in the study).")
    participant = serializers.CharField(help_text="The participant's code.")
    clip = serializers.IntegerField(required=False, help_text="The clip's id (or give clip_file).")
    clip_file = serializers.CharField(required=False, help_text="The clip's original file name.")
    start_s = serializers.FloatField(required=False, allow_null=True)
    end_s = serializers.FloatField(required=False, allow_null=True)
    instrument = serializers.ChoiceField(choices=SelfReport.Instrument.choices)
    points = serializers.IntegerField(required=False, allow_null=True)
    valence = serializers.FloatField(required=False, allow_null=True)
    arousal = serializers.FloatField(required=False, allow_null=True)
    valence_confidence = serializers.IntegerField(required=False, allow_null=True)
    arousal_confidence = serializers.IntegerField(required=False, allow_null=True)
    confidence_points = serializers.IntegerField(required=False, allow_null=True)
    tags = serializers.ListField(child=serializers.CharField(), required=False)
    note = serializers.CharField(required=False)
    reported_at = serializers.DateTimeField()


class SelfReportListView(ResearchView):
    @extend_schema(
        tags=TAG,
        operation_id="self_reports_list",
        summary="A study's self-reports (researchers only)",
        description=(
            "The filmed participants' own ratings of their clips: `valence`/`arousal` canonical [-1, 1], "
            "`*_raw` on the named instrument's scale (`scale_points` for sam and grid). `start_s`/`end_s` null: "
            "the whole clip. Withdrawn participants' self-reports are not listed. Newest first."
        ),
        parameters=[SelfReportFilterSerializer],
        responses={200: SelfReportSerializer(many=True), 400: error("Bad filter."), 404: NOT_FOUND},
    )
    def get(self, request: Request, study_id: int) -> Response:
        study = selectors.study_for_researcher(user=request.user, study_id=study_id)
        filters = SelfReportFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        reports = selectors.self_reports_for_researcher(
            study=study,
            clip_id=filters.validated_data.get("clip"),
            participant=filters.validated_data.get("participant"),
        )
        return self.paginated(reports, SelfReportSerializer)


def _sent_file(request: Request) -> tuple[bytes, str]:
    """The file's bytes and its name (or format): the multipart field `file`, or the whole body."""
    if isinstance(request.data, FileBody):
        return request.data.content, request.data.format
    upload = ImportUploadSerializer(data=request.data)
    if not upload.is_valid():
        raise ValidationFailed(
            "Send the file as the multipart field `file`, or as the body with Content-Type text/csv or "
            "application/json.",
            {"file": "No file was sent."},
        )
    file = upload.validated_data["file"]
    return file.read(), file.name or ""


class SelfReportImportView(ResearchView):
    parser_classes = [MultiPartParser, CSVFileParser, JSONFileParser]

    @extend_schema(
        tags=TAG,
        operation_id="self_reports_import",
        summary="Import self-reports from a CSV or JSON file (all or nothing)",
        description=(
            "Send the file as the multipart field `file` (its name says the format), or as the body with "
            "Content-Type `text/csv` or `application/json` (a list of objects). Every row is checked; a file "
            "with any bad row imports nothing and answers 400 with `report.errors` listing every bad row with "
            "its line (CSV, header = line 1) or item (JSON, from 1) and why. Re-importing a file creates "
            "nothing: rows equal to stored self-reports count as `unchanged`; a row with a stored report's "
            "key but other values is refused (delete the stored one in the admin first). `?dry_run=1` "
            "checks and reports without writing. Columns and rules: docs/self-reports.md."
        ),
        parameters=[ImportQuerySerializer],
        request={
            "multipart/form-data": ImportUploadSerializer,
            "text/csv": OpenApiTypes.STR,
            "application/json": ImportRowSerializer(many=True),
        },
        responses={
            201: OpenApiResponse(ImportReportSerializer, description="Imported: `created` new self-reports."),
            200: OpenApiResponse(
                ImportReportSerializer, description="A dry run, or nothing new (every row `unchanged`)."
            ),
            400: OpenApiResponse(ImportRefusedSerializer, description="Nothing was imported; see `report`."),
            404: NOT_FOUND,
            409: error("Another import wrote the same self-reports meanwhile; nothing was imported."),
        },
    )
    def post(self, request: Request, study_id: int) -> Response:
        study = selectors.study_for_researcher(user=request.user, study_id=study_id)
        query = ImportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        content, name = _sent_file(request)
        report = services.self_reports_import(
            study=study,
            content=content,
            filename_or_format=name,
            by=request.user,
            dry_run=query.validated_data["dry_run"],
        )
        created = report.created and not report.dry_run
        return Response(report.as_dict(), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)
