"""Researcher pages, mounted at /studies/."""

from django.urls import path

from labeling import views

urlpatterns = [
    path("", views.study_list, name="study-list"),
    path("<int:study_id>/", views.study_detail, name="study-detail"),
    path("<int:study_id>/agreement/run/", views.study_agreement_run, name="study-agreement-run"),
    path("<int:study_id>/clips/upload/", views.clip_upload, name="study-clip-upload"),
    path("<int:study_id>/clips/<int:clip_id>/", views.study_clip, name="study-clip"),
]
