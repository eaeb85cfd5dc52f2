"""Clip media, mounted at /media/: every file goes through a permission check (no direct MEDIA_URL serving)."""

from django.urls import path

from labeling.media import views as media_views

urlpatterns = [
    path("clips/<int:clip_id>/", media_views.clip_media, name="clip-media"),
    path("clips/<int:clip_id>/poster/", media_views.clip_poster, name="clip-poster"),
]
