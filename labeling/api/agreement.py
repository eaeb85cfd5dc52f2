"""A study's inter-rater agreement report: read the latest one, or start a run.

For the study's researchers (and superusers); anyone else gets 404. Runs are computed by a Celery worker:
a POST answers 202 at once with the pending (or already running) report, or 503 when the broker refuses the
message (then nothing is left queued); poll the GET for its progress.
The result's JSON shape is documented in labeling/reports/builder.py and docs (numbers on the canonical scale
-1..1, undefined statistics as null).
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from labeling import selectors, services
from labeling.api.base import NOT_FOUND, BaseAPIView, error
from labeling.api.parsers import JSONParser
from labeling.models import AgreementReport

TAG = ["research"]


class WatermarkSerializer(serializers.Serializer):
    annotation_count = serializers.IntegerField(help_text="Annotations the report was computed from.")
    last_annotation_id = serializers.IntegerField(help_text="The highest annotation id among them.")
    self_report_count = serializers.IntegerField(
        help_text="The filmed participants' self-reports it was computed from (0 for a report made before "
        "self-reports were part of it)."
    )
    last_self_report_id = serializers.IntegerField(help_text="The highest self-report id among them.")


class AgreementReportSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=AgreementReport.Status.choices)
    progress = serializers.FloatField(help_text="0..1 while running; 1 when done.")
    progress_message = serializers.CharField()
    requested_at = serializers.DateTimeField()
    not_before = serializers.DateTimeField(help_text="Queued to start at (runs are at least 30 s apart).")
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    duration_s = serializers.FloatField(allow_null=True)
    watermark = serializers.SerializerMethodField()
    error = serializers.CharField(help_text="Why a failed run failed; empty otherwise.")

    @extend_schema_field(WatermarkSerializer(allow_null=True))
    def get_watermark(self, report: AgreementReport) -> dict | None:
        if report.watermark_count is None:
            return None
        return {
            "annotation_count": report.watermark_count,
            "last_annotation_id": report.watermark_last_id,
            "self_report_count": report.watermark_self_report_count or 0,
            "last_self_report_id": report.watermark_last_self_report_id or 0,
        }


class AgreementReportResultSerializer(AgreementReportSerializer):
    result = serializers.JSONField(
        allow_null=True,
        help_text=(
            "The report: counts, bootstrap settings, per dimension (valence, arousal) Krippendorff's alpha "
            "(interval, ordinal) with CI, six ICC forms with the missing-data policy used, per-clip n/mean/sd, "
            "low-agreement clips, per-annotator reliability, alpha as labels accumulated; per-tag and set "
            "alpha on context tags; the K+1 policy applied; `perceived_vs_experienced`: the observers' ratings "
            "beside the filmed people's own self-reports (per clip: observers' n/mean/sd/min/max, the "
            "self-report value, the gap and whether it lies outside the observers' range; per dimension: "
            "Pearson r and CCC with participant-cluster bootstrap CIs, mean signed gap with a CI, mean "
            "absolute gap, share outside the range and outside mean +/- 1 sd, and why a figure is null). "
            "Null values are undefined statistics."
        ),
    )


class AgreementStatusSerializer(serializers.Serializer):
    study = serializers.IntegerField()
    report = AgreementReportResultSerializer(allow_null=True, help_text="The latest finished (done) report.")
    running = AgreementReportSerializer(allow_null=True, help_text="The pending or running report, if any.")
    failed = AgreementReportSerializer(
        allow_null=True, help_text="The latest report, if it failed after the latest done one."
    )
    stale = serializers.BooleanField(
        help_text="True when the study's annotations or self-reports changed since `report` was computed."
    )
    current = WatermarkSerializer(
        help_text="The study's annotations and self-reports now (what a new run would use)."
    )


class AgreementView(BaseAPIView):
    parser_classes = [JSONParser]

    @extend_schema(
        tags=TAG,
        operation_id="agreement_retrieve",
        summary="A study's latest agreement report, with any run in progress",
        parameters=[
            OpenApiParameter(
                "result", bool, description="false: leave the report's result out (to poll progress)."
            )
        ],
        responses={200: AgreementStatusSerializer, 404: NOT_FOUND},
    )
    def get(self, request: Request, study_id: int) -> Response:
        study = selectors.study_for_researcher(user=request.user, study_id=study_id)
        latest = selectors.agreement_latest(study=study)
        data = AgreementStatusSerializer(
            {
                "study": study.pk,
                "report": latest["report"],
                "running": latest["running"],
                "failed": latest["failed"],
                "stale": latest["stale"],
                "current": {
                    "annotation_count": latest["current_count"],
                    "last_annotation_id": latest["current_last_id"],
                    "self_report_count": latest["current_self_report_count"],
                    "last_self_report_id": latest["current_last_self_report_id"],
                },
            }
        ).data
        if request.query_params.get("result", "").lower() in {"false", "0", "no"} and data["report"]:
            data["report"].pop("result", None)
        return Response(data)

    @extend_schema(
        tags=TAG,
        operation_id="agreement_compute",
        summary="Start an agreement run (or get the one already pending or running)",
        description=(
            "Answers 202 at once; a worker computes the report. One run per study at a time: while one is "
            "pending or running, that one is returned. Runs start at least 30 s after the previous one finished. "
            "503 when the task queue is unreachable: nothing was started (retry later)."
        ),
        request=None,
        responses={
            202: AgreementReportSerializer,
            404: NOT_FOUND,
            503: error("The task queue (broker) is unreachable; nothing was started."),
        },
    )
    def post(self, request: Request, study_id: int) -> Response:
        study = selectors.study_for_researcher(user=request.user, study_id=study_id)
        report, _ = services.agreement_request(study=study, requested_by=request.user)
        return Response(AgreementReportSerializer(report).data, status=status.HTTP_202_ACCEPTED)
