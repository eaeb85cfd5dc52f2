"""Researchers' REST API: studies, clips (upload), members, annotations. Cursor-paginated lists.

Permissions: every endpoint below a study is for that study's researchers (and superusers). Anyone else,
including the study's own annotators, gets 404: to them the study's researcher data does not exist.
Creating a study is for staff users; the creator becomes its researcher.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import F, Func, IntegerField, OuterRef, Prefetch, QuerySet, Subquery
from django.db.models.functions import Coalesce
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from labeling import selectors, services
from labeling.api.base import BAD_INPUT, NOT_FOUND, BaseAPIView, error
from labeling.api.parsers import FormParser, JSONParser, MultiPartParser
from labeling.api.serializers import (
    AnnotationFilterSerializer,
    ClipSerializer,
    ClipUploadSerializer,
    MemberAddSerializer,
    MemberSerializer,
    ResearchAnnotationSerializer,
    StudyCreateSerializer,
    StudySerializer,
    StudyUpdateSerializer,
)
from labeling.errors import Conflict, NotAllowed, ValidationFailed
from labeling.models import Annotation, Clip, Membership, SchemeVersion, Study

TAG = ["research"]


class ResearchView(BaseAPIView, generics.GenericAPIView):
    """Researcher endpoints: lists are cursor-paginated (?cursor=, ?page_size= up to the cap)."""

    def paginated(self, queryset: QuerySet, serializer_class) -> Response:
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(serializer_class(page, many=True).data)


def _count(queryset: QuerySet) -> Coalesce:
    """A correlated COUNT subquery (no row multiplication when several counts sit side by side)."""
    counted = queryset.order_by().annotate(n=Func(F("pk"), function="COUNT")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def _with_stats(studies: QuerySet[Study]) -> QuerySet[Study]:
    return (
        studies.select_related("created_by")
        .annotate(
            clip_count=_count(Clip.objects.filter(study=OuterRef("pk"))),
            annotation_count=_count(Annotation.objects.filter(study=OuterRef("pk"))),
        )
        .prefetch_related(
            Prefetch(
                "schemes", queryset=SchemeVersion.objects.order_by("-version"), to_attr="scheme_versions"
            )
        )
    )


def _study_out(study_id: int) -> dict:
    study = _with_stats(Study.objects.filter(pk=study_id)).get()
    return StudySerializer(study).data


class StudyListView(ResearchView):
    parser_classes = [JSONParser]

    @extend_schema(
        tags=TAG,
        operation_id="studies_list",
        summary="Studies the requester is a researcher of",
        responses={200: StudySerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        return self.paginated(
            _with_stats(selectors.studies_for_researcher(user=request.user)), StudySerializer
        )

    @extend_schema(
        tags=TAG,
        operation_id="studies_create",
        summary="Create a study (staff users); the creator becomes its researcher",
        request=StudyCreateSerializer,
        responses={201: StudySerializer, 400: BAD_INPUT, 403: error("Only staff users may create studies.")},
    )
    def post(self, request: Request) -> Response:
        if not request.user.is_staff:
            raise NotAllowed("Only staff users may create studies.")
        data = StudyCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        study = services.study_create(
            title=fields.pop("title"),
            slug=fields.pop("slug", ""),
            scheme=fields.pop("scheme", None),
            created_by=request.user,
            **fields,
        )
        return Response(_study_out(study.pk), status=status.HTTP_201_CREATED)


class StudyDetailView(ResearchView):
    parser_classes = [JSONParser]

    @extend_schema(
        tags=TAG, operation_id="studies_retrieve", responses={200: StudySerializer, 404: NOT_FOUND}
    )
    def get(self, request: Request, study_id: int) -> Response:
        study = selectors.study_for_researcher(user=request.user, study_id=study_id)
        return Response(_study_out(study.pk))

    @extend_schema(
        tags=TAG,
        operation_id="studies_partial_update",
        summary="Change a study's settings or scheme",
        description=(
            "Only the fields sent change. A scheme already used by a label or a lease is frozen: sending "
            "`scheme` then makes the next version, which new claims use; the response shows the current one. "
            "Changing `overlap_k` retargets every clip to max(K, annotators it already has)."
        ),
        request=StudyUpdateSerializer,
        responses={200: StudySerializer, 400: BAD_INPUT, 404: NOT_FOUND},
    )
    def patch(self, request: Request, study_id: int) -> Response:
        study = selectors.study_for_researcher(user=request.user, study_id=study_id)
        data = StudyUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        scheme = fields.pop("scheme", None)
        services.study_update(study=study, fields=fields, scheme=scheme)
        return Response(_study_out(study.pk))


class ClipListView(ResearchView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        tags=TAG,
        operation_id="clips_list",
        summary="A study's clips, with their coverage (n_assigned, n_submitted of target_k)",
        responses={200: ClipSerializer(many=True), 404: NOT_FOUND},
    )
    def get(self, request: Request, study_id: int) -> Response:
        study = selectors.study_for_researcher(user=request.user, study_id=study_id)
        clips = selectors.clips_for_researcher(study=study)
        return self.paginated(clips, ClipSerializer)

    @extend_schema(
        tags=TAG,
        operation_id="clips_upload",
        summary="Upload a clip (multipart form: file, optional participant code)",
        description=(
            "The file is decoded to read its container, duration, fps, size and audio; a poster frame is made. "
            "A file that is not a decodable video, is a duplicate, or exceeds the configured limits is refused "
            "with a message that says why, and leaves nothing behind."
        ),
        request={"multipart/form-data": ClipUploadSerializer},
        responses={201: ClipSerializer, 400: BAD_INPUT, 404: NOT_FOUND},
    )
    def post(self, request: Request, study_id: int) -> Response:
        study = selectors.study_for_researcher(user=request.user, study_id=study_id)
        data = ClipUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        clip = services.clip_create(
            study=study,
            file=upload,
            original_name=upload.name,
            uploaded_by=request.user,
            participant_code=data.validated_data.get("participant", "").strip() or None,
        )
        clip = selectors.clips_for_researcher(study=study).get(pk=clip.pk)
        return Response(ClipSerializer(clip).data, status=status.HTTP_201_CREATED)


class ClipDetailView(ResearchView):
    @extend_schema(tags=TAG, operation_id="clips_retrieve", responses={200: ClipSerializer, 404: NOT_FOUND})
    def get(self, request: Request, study_id: int, clip_id: int) -> Response:
        study = selectors.study_for_researcher(user=request.user, study_id=study_id)
        clip = generics.get_object_or_404(selectors.clips_for_researcher(study=study), pk=clip_id)
        return Response(ClipSerializer(clip).data)


class MemberListView(ResearchView):
    parser_classes = [JSONParser]

    @extend_schema(
        tags=TAG,
        operation_id="members_list",
        summary="A study's members with the number of ratings each made",
        responses={200: MemberSerializer(many=True), 404: NOT_FOUND},
    )
    def get(self, request: Request, study_id: int) -> Response:
        study = selectors.study_for_researcher(user=request.user, study_id=study_id)
        members = (
            Membership.objects.filter(study=study)
            .select_related("user")
            .annotate(
                annotation_count=_count(Annotation.objects.filter(study=study, annotator=OuterRef("user_id")))
            )
        )
        return self.paginated(members, MemberSerializer)

    @extend_schema(
        tags=TAG,
        operation_id="members_add",
        summary="Add an existing user to the study by username",
        description="201 for a new member; 200 when the user is already a member with that role.",
        request=MemberAddSerializer,
        responses={
            201: MemberSerializer,
            200: OpenApiResponse(MemberSerializer, description="Already a member with this role."),
            400: BAD_INPUT,
            404: NOT_FOUND,
            409: error("Already a member with another role."),
        },
    )
    def post(self, request: Request, study_id: int) -> Response:
        study = selectors.study_for_researcher(user=request.user, study_id=study_id)
        data = MemberAddSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        username, role = data.validated_data["username"], data.validated_data["role"]
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise ValidationFailed("Nobody was added.", {"username": f"no user named {username!r}"})
        existing = Membership.objects.filter(study=study, user=user).first()
        problem = existing is None and services.membership_problem(study=study, user=user, role=role)
        if problem:  # a crowd participant's account belongs to its own study only
            raise ValidationFailed("Nobody was added.", {"username": problem})
        if existing is not None and existing.role != role:
            raise Conflict(
                f"{username} is already a member of this study as {existing.get_role_display().lower()}."
            )
        membership = existing or services.membership_add(study=study, user=user, role=role)
        membership = (
            Membership.objects.filter(pk=membership.pk)
            .select_related("user")
            .annotate(
                annotation_count=_count(Annotation.objects.filter(study=study, annotator=OuterRef("user_id")))
            )
            .get()
        )
        code = status.HTTP_200_OK if existing else status.HTTP_201_CREATED
        return Response(MemberSerializer(membership).data, status=code)


class AnnotationListView(ResearchView):
    @extend_schema(
        tags=TAG,
        operation_id="annotations_list",
        summary="All ratings of a study, with annotator and scheme version (researchers only)",
        description=(
            "`valence`/`arousal` are on the canonical [-1, 1] scale, `*_raw` on the instrument's own scale of "
            "the recorded `scheme_version`. Newest first. For incremental pulls pass `since` (inclusive) and "
            "de-duplicate by `id`."
        ),
        parameters=[
            OpenApiParameter("clip", int, description="Only this clip's ratings."),
            OpenApiParameter("annotator", int, description="Only this annotator's ratings (user id)."),
            OpenApiParameter("since", str, description="ISO 8601 time; ratings created at or after it."),
        ],
        responses={200: ResearchAnnotationSerializer(many=True), 400: BAD_INPUT, 404: NOT_FOUND},
    )
    def get(self, request: Request, study_id: int) -> Response:
        annotations = selectors.annotations_for_researcher(user=request.user, study_id=study_id)
        filters = AnnotationFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        wanted = filters.validated_data
        if "clip" in wanted:
            annotations = annotations.filter(clip_id=wanted["clip"])
        if "annotator" in wanted:
            annotations = annotations.filter(annotator_id=wanted["annotator"])
        if "since" in wanted:
            annotations = annotations.filter(created_at__gte=wanted["since"])
        return self.paginated(annotations, ResearchAnnotationSerializer)
