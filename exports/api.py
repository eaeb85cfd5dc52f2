"""The dataset exports API: start a build, poll it, list a study's exports, find the latest, download one file
(with Range and ETag) or the whole folder as a zip, delete one.

For the study's researchers (and superusers) only: anyone else, the study's own annotators included, gets
404 for every route, as for every other object of the research API. Anonymous requests get 401.

A pipeline polls `GET /api/studies/<id>/exports/latest/`, reads that export's manifest
(`manifest_url`, whose ETag is its sha256) and downloads only the files whose sha256 changed.
Downloads of an export that did not finish are 404 ("did not finish: ..."); of one holding data withdrawn
after it was built, 410 with when (never who).
"""

from __future__ import annotations

from django.http import HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response

from labeling import selectors as labeling_selectors
from labeling.api.base import BAD_INPUT, NOT_FOUND, BaseAPIView, ErrorSerializer, error
from labeling.api.parsers import JSONParser
from labeling.api.research import ResearchView
from labeling.media.views import serve_file

from . import downloads, selectors, services
from .serializers import ExportParametersSerializer, ExportSerializer, ExportSummarySerializer

TAG = ["exports"]
NOT_DOWNLOADABLE = error("The export did not finish (404 says why), or no such export or file.")


class WithdrawnErrorSerializer(ErrorSerializer):
    withdrawn_at = serializers.DateTimeField(help_text="When data this export holds was withdrawn.")
    withdrawn_note = serializers.CharField(help_text="What was withdrawn (how many, never who).")


WITHDRAWN = OpenApiResponse(
    WithdrawnErrorSerializer,
    description="The export holds data withdrawn after it was built: build a new one.",
)


class _AnyAccept(DefaultContentNegotiation):
    """A download answers with its file whatever the client accepts (a browser asks for text/html, curl for
    */*, a zip tool for application/zip); errors are JSON. DRF's own negotiation would refuse with 406."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def _export_out(request: Request, export) -> dict:
    return ExportSerializer(export, context={"request": request}).data


class StudyExportListView(ResearchView):
    parser_classes = [JSONParser]

    @extend_schema(
        tags=TAG,
        operation_id="exports_list",
        summary="A study's exports, newest first (cursor-paginated)",
        responses={200: ExportSummarySerializer(many=True), 404: NOT_FOUND},
    )
    def get(self, request: Request, study_id: int) -> Response:
        study = labeling_selectors.study_for_researcher(user=request.user, study_id=study_id)
        return self.paginated(selectors.exports_for_study(study=study), ExportSummarySerializer)

    @extend_schema(
        tags=TAG,
        operation_id="exports_create",
        summary="Start a dataset export of the study",
        description=(
            "Answers 202 at once with the pending export (and its URL in `Location`); a worker builds it. "
            "Poll `GET /api/exports/<id>/` for its status and progress. Every parameter is optional. Unknown "
            "parameters and values out of range are a 400 naming each field, and nothing is created. 503 when "
            "the task queue is unreachable: nothing was started."
        ),
        request=ExportParametersSerializer,
        responses={
            202: ExportSerializer,
            400: BAD_INPUT,
            404: NOT_FOUND,
            503: error("The task queue (broker) is unreachable; nothing was started."),
        },
    )
    def post(self, request: Request, study_id: int) -> Response:
        study = labeling_selectors.study_for_researcher(user=request.user, study_id=study_id)
        export = services.export_start(study=study, parameters=request.data, created_by=request.user)
        body = _export_out(request, export)
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})


class StudyExportLatestView(BaseAPIView):
    @extend_schema(
        tags=TAG,
        operation_id="exports_latest",
        summary="The study's latest finished export that holds no withdrawn data",
        description="Read its manifest (`manifest_url`) first to download only what changed.",
        responses={200: ExportSerializer, 404: NOT_FOUND},
    )
    def get(self, request: Request, study_id: int) -> Response:
        study = labeling_selectors.study_for_researcher(user=request.user, study_id=study_id)
        return Response(_export_out(request, selectors.export_latest(study=study)))


class ExportDetailView(BaseAPIView):
    @extend_schema(
        tags=TAG,
        operation_id="exports_retrieve",
        summary="An export: status, progress, parameters, watermark, files with sha256, download URLs",
        responses={200: ExportSerializer, 404: NOT_FOUND},
    )
    def get(self, request: Request, export_id: int) -> Response:
        return Response(
            _export_out(request, selectors.export_for_researcher(user=request.user, export_id=export_id))
        )

    @extend_schema(
        tags=TAG,
        operation_id="exports_delete",
        summary="Delete an export (its files and its record)",
        responses={
            204: OpenApiResponse(description="Deleted."),
            404: NOT_FOUND,
            409: error("The export is still being built; delete it once it has finished or failed."),
        },
    )
    def delete(self, request: Request, export_id: int) -> Response:
        export = selectors.export_for_researcher(user=request.user, export_id=export_id)
        services.export_delete(export=export)
        return Response(status=status.HTTP_204_NO_CONTENT)


class _DownloadView(BaseAPIView):
    content_negotiation_class = _AnyAccept


class ExportFileView(_DownloadView):
    @extend_schema(
        tags=TAG,
        operation_id="exports_file",
        summary="Download one file of an export (Range and If-None-Match supported)",
        description=(
            "`path` is a file of the export's manifest (`files[].path`) or `manifest.json` itself. The ETag is "
            'the file\'s sha256 in quotes ("<sha256>"): send it in If-None-Match to get 304 for an unchanged file. '
            "One byte range per request (`Range: bytes=0-1023`, `bytes=-1024`, `bytes=1024-`): 206; a Range "
            "header that is not one satisfiable byte range (several ranges, past the end, bad syntax) is 416."
        ),
        parameters=[
            OpenApiParameter(
                "path", str, OpenApiParameter.PATH, description="e.g. data/ratings/train.parquet"
            )
        ],
        responses={
            (200, "application/octet-stream"): OpenApiTypes.BINARY,
            (206, "application/octet-stream"): OpenApiResponse(
                OpenApiTypes.BINARY, description="One byte range."
            ),
            304: OpenApiResponse(description="Not modified (If-None-Match matched the ETag)."),
            404: NOT_DOWNLOADABLE,
            410: WITHDRAWN,
            416: OpenApiResponse(description="Range not satisfiable; `Content-Range: bytes */<size>`."),
        },
    )
    def get(self, request: Request, export_id: int, path: str) -> HttpResponseBase:
        export = selectors.export_for_researcher(user=request.user, export_id=export_id)
        file, entry = selectors.export_file(export=export, path=path)
        return serve_file(
            request,
            file,
            content_type=downloads.content_type(path),
            etag=downloads.etag(entry, file),
            last_modified=(export.finished_at or export.created_at).timestamp(),
            attachment=downloads.attachment_name(export, path),
            strict_range=True,
        )


class ExportZipView(_DownloadView):
    @extend_schema(
        tags=TAG,
        operation_id="exports_zip",
        summary="Download the whole export as one zip (streamed)",
        description=(
            "Every file of the manifest and manifest.json, stored (not compressed) under a top folder "
            "`<study-slug>-v<version>/`. Streamed as it is written: no Content-Length, no Range; check the files "
            "against manifest.json's sha256 after unpacking."
        ),
        responses={
            (200, "application/zip"): OpenApiTypes.BINARY,
            404: NOT_DOWNLOADABLE,
            410: WITHDRAWN,
        },
    )
    def get(self, request: Request, export_id: int) -> HttpResponseBase:
        export = selectors.export_for_researcher(user=request.user, export_id=export_id)
        folder, entries = selectors.export_files(export=export, complete=True)
        name = f"{downloads.top_folder(export)}.zip"
        response: HttpResponseBase
        if request.method == "HEAD":
            response = HttpResponse(content_type="application/zip")
        else:
            response = StreamingHttpResponse(
                downloads.zip_stream(export, folder, entries), content_type="application/zip"
            )
        response["Content-Disposition"] = content_disposition_header(True, name)
        response["Cache-Control"] = "private, no-store"
        response["X-Accel-Buffering"] = "no"  # a proxy passes the stream on rather than spooling it
        return response
