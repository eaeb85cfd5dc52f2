from django.contrib.auth import views as auth_views
from django.urls import path

from annotator import (
    converters,  # noqa: F401 - registers the <dbid:...> converter
    views,
)
from annotator.views import participant
from annotator.views.login import LoginView

urlpatterns = [
    path(
        "login/",
        LoginView.as_view(),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.home, name="home"),
    path("invite/<str:token>/", views.invite_entry, name="invite"),
    path("crowd/<slug:slug>/", views.crowd_entry, name="crowd-entry"),
    path("s/<dbid:study_id>/", views.queue, name="study-queue"),
    path("s/<dbid:study_id>/consent/", views.consent, name="study-consent"),
    path("s/<dbid:study_id>/declined/", views.declined, name="study-declined"),
    path("s/<dbid:study_id>/a/<dbid:assignment_id>/", views.rate, name="study-rate"),
    path("s/<dbid:study_id>/done/", views.done, name="study-done"),
    # A filmed participant's self-report link: the key is the credential (redacted from logs).
    path("p/<str:key>/", participant.home, name="participant-home"),
    path("p/<str:key>/declined/", participant.declined, name="participant-declined"),
    path("p/<str:key>/next/", participant.next_clip, name="participant-next"),
    path("p/<str:key>/clips/<dbid:clip_id>/", participant.rate, name="participant-clip"),
    path("p/<str:key>/clips/<dbid:clip_id>/report/", participant.report, name="participant-report"),
    path("p/<str:key>/clips/<dbid:clip_id>/media/", participant.clip_media, name="participant-clip-media"),
    path("p/<str:key>/clips/<dbid:clip_id>/poster/", participant.clip_poster, name="participant-clip-poster"),
]
