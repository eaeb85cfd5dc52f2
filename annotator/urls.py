from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from annotator.health import PingView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/ping/", PingView.as_view(), name="api-ping"),  # the benchmark floor (annotator/health.py)
    path("api/", include("labeling.api_urls")),
    path("media/", include("labeling.media_urls")),
    path("studies/", include("labeling.urls")),
    path("", include("annotator.site_urls")),
]
