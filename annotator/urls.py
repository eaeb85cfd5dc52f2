from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.utils.csp import CSP
from django.views.decorators.csp import csp_override
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from annotator.health import PingView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Swagger UI's start-up script is served as a file (the split view), so the page needs no inline script;
    # its bundle does set <style> elements, allowed on this page only.
    path(
        "api/docs/",
        csp_override({**settings.SECURE_CSP, "style-src": [CSP.SELF, CSP.UNSAFE_INLINE]})(
            SpectacularSwaggerSplitView.as_view(url_name="api-schema")
        ),
        name="api-docs",
    ),
    path("api/ping/", PingView.as_view(), name="api-ping"),  # the benchmark floor (annotator/health.py)
    path("api/", include("labeling.api.urls")),
    path("api/", include("exports.urls")),
    path("media/", include("labeling.media.urls")),
    path("studies/", include("labeling.urls")),
    path("studies/", include("exports.site_urls")),
    path("", include("annotator.site_urls")),
]
