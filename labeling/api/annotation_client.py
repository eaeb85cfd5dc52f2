"""The annotation client's three calls: claim the next clip, keep the lease alive, submit the rating.

Used by the rating page (session auth + X-CSRFToken) and by external clients (token auth).
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from labeling import selectors, services
from labeling.api.base import BAD_INPUT, NOT_FOUND, BaseAPIView, error
from labeling.api.serializers import (
    AnnotationInputSerializer,
    AnnotationSerializer,
    AssignmentSerializer,
    ClaimInputSerializer,
    LeaseSerializer,
)

TAG = ["annotation client"]


class ClaimNextView(BaseAPIView):
    @extend_schema(
        tags=TAG,
        operation_id="assignment_claim_next",
        summary="Claim the next clip to rate",
        description=(
            "Returns the annotator's own unexpired lease first, else a new lease on the least-covered clip "
            "(breadth-first towards K distinct annotators per clip; never a clip this annotator already had). "
            "Pass `exclude` with the ids of leases the client holds to preload a second clip; until the "
            "annotator's first rating in the study that second clip is refused with 409 (rate the first one, "
            "then claim again), and a first lease is short until the rating page's heartbeat extends it."
        ),
        request=ClaimInputSerializer,
        responses={
            201: AssignmentSerializer,
            204: OpenApiResponse(description="Nothing is left for this annotator."),
            400: BAD_INPUT,
            403: error("Consent not yet given, or the study is closed."),
            404: NOT_FOUND,
            409: error(
                "The queue is busy (try again), or a second clip was asked for before the first rating "
                "(`errors.exclude`: rate the clip held, then claim)."
            ),
        },
    )
    def post(self, request: Request, study_id: int) -> Response:
        membership = selectors.membership_get(user=request.user, study_id=study_id)
        exclude = []
        if request.data:  # most claims send no body: skip the serializer then
            data = ClaimInputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            exclude = data.validated_data["exclude"]
        assignment = services.assignment_claim_next(membership=membership, exclude_ids=exclude)
        if assignment is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(AssignmentSerializer(assignment).data, status=status.HTTP_201_CREATED)


class HeartbeatView(BaseAPIView):
    @extend_schema(
        tags=TAG,
        operation_id="assignment_heartbeat",
        summary="Extend the lease while the rating page is open",
        request=None,
        responses={
            200: LeaseSerializer,
            404: NOT_FOUND,
            409: error("The lease was lost (the clip went to someone else) or the clip is already rated."),
        },
    )
    def post(self, request: Request, assignment_id: int) -> Response:
        assignment = selectors.assignment_for_annotator(
            user=request.user, assignment_id=assignment_id, with_clip=False
        )
        assignment = services.assignment_heartbeat(assignment=assignment)
        return Response(LeaseSerializer(assignment).data)


class AnnotationSubmitView(BaseAPIView):
    @extend_schema(
        tags=TAG,
        operation_id="annotation_submit",
        summary="Submit the rating of an assigned clip",
        description=(
            "Idempotent by the client-generated `submission_id`: a retry returns the first annotation with 200 "
            "and creates nothing. Values are checked against the scheme version the annotator was shown."
        ),
        request=AnnotationInputSerializer,
        responses={
            201: AnnotationSerializer,
            200: OpenApiResponse(
                AnnotationSerializer, description="Repeated submission id: the first annotation."
            ),
            400: BAD_INPUT,
            404: NOT_FOUND,
            409: error("The clip was already rated with another submission id."),
        },
    )
    def post(self, request: Request, assignment_id: int) -> Response:
        assignment = selectors.assignment_for_annotator(
            user=request.user, assignment_id=assignment_id, with_clip=False
        )
        # The service checks every value against the scheme the annotator was shown (types included), so
        # AnnotationInputSerializer only documents the body in the schema; running it too would check twice.
        annotation, created = services.annotation_submit(
            assignment=assignment, data=request.data, user_agent=request.headers.get("User-Agent", "")
        )
        if annotation.scheme_version_id == assignment.scheme_version_id:
            annotation.scheme_version = assignment.scheme_version  # already loaded: no extra query
        return Response(
            AnnotationSerializer(annotation).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )
