"""Routes of the exports API, mounted at /api/ by annotator/urls.py (beside labeling.api.urls)."""

from django.urls import path

from exports import api

urlpatterns = [
    path("studies/<int:study_id>/exports/", api.StudyExportListView.as_view(), name="api-exports"),
    path(
        "studies/<int:study_id>/exports/latest/",
        api.StudyExportLatestView.as_view(),
        name="api-exports-latest",
    ),
    path("exports/<int:export_id>/", api.ExportDetailView.as_view(), name="api-export"),
    path("exports/<int:export_id>/download.zip", api.ExportZipView.as_view(), name="api-export-zip"),
    path("exports/<int:export_id>/files/<path:path>", api.ExportFileView.as_view(), name="api-export-file"),
]
