"""The exports section of the study page, mounted at /studies/ by annotator/urls.py (beside labeling.urls)."""

from django.urls import path

from exports import views

urlpatterns = [
    path("<int:study_id>/exports/", views.study_exports, name="study-exports"),
    path("<int:study_id>/exports/start/", views.study_export_start, name="study-export-start"),
    path(
        "<int:study_id>/exports/<int:export_id>/delete/",
        views.study_export_delete,
        name="study-export-delete",
    ),
]
