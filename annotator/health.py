"""Operational endpoints: a liveness/readiness probe for containers, and the benchmark's floor.

- ``/healthz/`` is answered by a middleware placed first, before host validation and the HTTPS redirect,
  so that a container healthcheck can call ``http://127.0.0.1:8000/healthz/`` whatever ALLOWED_HOSTS is.
  It is the web process's liveness: 200 when the database answers, else 503. The body also says whether
  the background processes are alive, ``{"status": "ok", "worker": "ok"|"stale"|"never", "beat": ...}``
  (from their heartbeats, labeling.selectors.background_status), without failing on them: a dead worker
  must not get the web containers restarted. ``/healthz/?full=1`` is for monitoring: 503 unless the
  database, a worker and beat are all ok. It reveals nothing else.
- ``GET /api/ping/?study=<id>`` is the floor that tests/perf compares claim and submit against: the same
  DRF stack and authentication as the annotation API, and exactly one indexed SELECT (the requester's
  membership of the study). Not part of the public API schema.
"""

from __future__ import annotations

import logging

from django.db import DatabaseError, connection
from django.http import Http404, JsonResponse
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from labeling.api.base import BaseAPIView
from labeling.models import Membership
from labeling.selectors import background_status

logger = logging.getLogger(__name__)
HEALTH_PATH = "/healthz/"


class HealthCheckMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path != HEALTH_PATH:
            return self.get_response(request)
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
            background = background_status()
        except DatabaseError:
            logger.exception("health check: database unreachable")
            return JsonResponse({"status": "database unreachable"}, status=503)
        body = {"status": "ok", "worker": background["worker"], "beat": background["beat"]}
        full = request.GET.get("full", "") in {"1", "true", "yes"}
        if full and not (body["worker"] == body["beat"] == "ok"):
            body["status"] = "background processes not running"
            return JsonResponse(body, status=503)
        return JsonResponse(body)


class PingView(BaseAPIView):
    @extend_schema(exclude=True)
    def get(self, request: Request) -> Response:
        try:
            study_id = int(request.query_params.get("study", ""))
        except ValueError:
            raise Http404("No such study.") from None
        role = (
            Membership.objects.filter(study_id=study_id, user_id=request.user.pk)
            .values_list("role", flat=True)
            .first()
        )
        if role is None:
            raise Http404("No such study.")
        return Response({"study": study_id, "user": request.user.pk, "role": role})
