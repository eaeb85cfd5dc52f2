"""Researchers' REST API: studies, clips (upload), members, annotations. Cursor-paginated lists.

Permissions: every endpoint below a study is for that study's researchers (and superusers). Anyone else,
including the study's own annotators, gets 404: to them the study's researcher data does not exist.
Creating a study is for staff users; the creator becomes its researcher.
"""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from labeling import selectors, services
from labeling.api.base import BAD_INPUT, NOT_FOUND, BaseAPIView, error
from labeling.api.parsers import FormParser, JSONParser, MultiPartParser
from labeling.api.perceived import ClipDetailSerializer
from labeling.api.serializers import (
    AnnotationFilterSerializer,
    ClipSerializer,
    ClipUploadSerializer,
    MemberAddSerializer,
    MemberSerializer,
    NoteSerializer,
    ResearchAnnotationSerializer,
    StudyCreateSerializer,
    StudySerializer,
    StudyUpdateSerializer,
)
from labeling.errors import NotAllowed
from labeling.models import Study

TAG = ["research"]


class ResearchView(BaseAPIView, generics.GenericAPIView):
    """Researcher endpoints: lists are cursor-paginated (?cursor=, ?page_size= up to the cap)."""

    def paginated(self, queryset: QuerySet, serializer_class) -> Response:
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(
            serializer_class(page, many=True, context={"request": self.request}).data
        )


def _study_out(study: Study) -> dict:
    return StudySerializer(selectors.study_with_stats(study=study)).data


class StudyListView(ResearchView):
    parser_classes = [JSONParser]

    @extend_schema(
        tags=TAG,
        operation_id="studies_list",
        summary="Studies the requester is a researcher of",
        responses={200: StudySerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        studies = selectors.studies_with_stats(studies=selectors.studies_for_researcher(user=request.user))
        return self.paginated(studies, StudySerializer)

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
        return Response(_study_out(study), status=status.HTTP_201_CREATED)


class StudyDetailView(ResearchView):
    parser_classes = [JSONParser]

    @extend_schema(
        tags=TAG, operation_id="studies_retrieve", responses={200: StudySerializer, 404: NOT_FOUND}
    )
    def get(self, request: Request, study_id: int) -> Response:
        study = selectors.study_for_researcher(user=request.user, study_id=study_id)
        return Response(_study_out(study))

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
        return Response(_study_out(study))


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
        clip = selectors.clip_for_researcher(study=study, clip_id=clip.pk)
        return Response(ClipSerializer(clip).data, status=status.HTTP_201_CREATED)


class ClipDetailView(ResearchView):
    @extend_schema(
        tags=TAG,
        operation_id="clips_retrieve",
        summary="A clip, with the observers' summary and the filmed person's self-reports",
        description=(
            "`observers`: per dimension the observers' n, mean, sd, min and max (the labels that count), the "
            "clip's self-report value, the gap (self - observers' mean) and whether the self-report lies "
            "outside the observers' range or mean +/- 1 sd; `self_reports`: each self-report that counts "
            "(withdrawn participants' are out). Canonical scale -1..1."
        ),
        responses={200: ClipDetailSerializer, 404: NOT_FOUND},
    )
    def get(self, request: Request, study_id: int, clip_id: int) -> Response:
        study = selectors.study_for_researcher(user=request.user, study_id=study_id)
        clip = selectors.clip_for_researcher(study=study, clip_id=clip_id)
        perceived = selectors.clip_perceived(study=study, clip=clip)
        return Response(ClipDetailSerializer(clip, context={"perceived": perceived}).data)


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
        members = selectors.study_members(study=study)
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
        membership, created = services.membership_add_by_username(
            study=study, username=data.validated_data["username"], role=data.validated_data["role"]
        )
        membership = selectors.study_member(study=study, membership_id=membership.pk)
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(MemberSerializer(membership).data, status=code)


class MemberLabelsView(ResearchView):
    """Withdraw or reinstate a member's labels (labeling.services.withdrawal); the body gives the reason."""

    parser_classes = [JSONParser]
    service = staticmethod(services.annotator_labels_withdraw)

    def post(self, request: Request, study_id: int, member_id: int) -> Response:
        study = selectors.study_for_researcher(user=request.user, study_id=study_id)
        membership = selectors.study_member(study=study, membership_id=member_id)
        data = NoteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        self.service(membership=membership, by=request.user, note=data.validated_data["note"])
        return Response(MemberSerializer(selectors.study_member(study=study, membership_id=member_id)).data)


class MemberLabelsWithdrawView(MemberLabelsView):
    @extend_schema(
        tags=TAG,
        operation_id="members_labels_withdraw",
        summary="Withdraw a member's labels from the study (a spammer, or at their request)",
        description=(
            "Their ratings stay stored but leave every list, count, report and export; their leases end and "
            "they can take no more clips here; each clip they rated wants one more annotator. Finished exports "
            "that hold their ratings are marked. Logged with `note`. Reversible until an export is built."
        ),
        request=NoteSerializer,
        responses={
            200: MemberSerializer,
            400: BAD_INPUT,
            404: NOT_FOUND,
            409: error("Their labels are already withdrawn."),
        },
    )
    def post(self, request: Request, study_id: int, member_id: int) -> Response:
        return super().post(request, study_id, member_id)


class MemberLabelsReinstateView(MemberLabelsView):
    service = staticmethod(services.annotator_labels_reinstate)

    @extend_schema(
        tags=TAG,
        operation_id="members_labels_reinstate",
        summary="Undo the withdrawal of a member's labels",
        description="Logged with `note`. Refused (409) once an export of the study was built since the withdrawal.",
        request=NoteSerializer,
        responses={
            200: MemberSerializer,
            400: BAD_INPUT,
            404: NOT_FOUND,
            409: error("Not withdrawn, or an export was built since the withdrawal."),
        },
    )
    def post(self, request: Request, study_id: int, member_id: int) -> Response:
        return super().post(request, study_id, member_id)


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
        study = selectors.study_for_researcher(user=request.user, study_id=study_id)
        filters = AnnotationFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        wanted = filters.validated_data
        annotations = selectors.annotations_for_researcher(
            study=study,
            clip_id=wanted.get("clip"),
            annotator_id=wanted.get("annotator"),
            since=wanted.get("since"),
        )
        return self.paginated(annotations, ResearchAnnotationSerializer)
