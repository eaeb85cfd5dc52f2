"""Researchers' API for self-report links: issue one for a participant (the whole link is in the 201 response,
once), list a participant's links (never a key: its first characters only), revoke one.

Permissions as the rest of the research API: the study's researchers (and superusers); anyone else, the
study's annotators included, gets 404. Another study's participant, or another participant's link, is 404.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from labeling import selectors, services
from labeling.api.base import BAD_INPUT, NOT_FOUND, error
from labeling.api.parsers import JSONParser
from labeling.api.research import ResearchView
from labeling.links import participant_link_url
from labeling.models import ParticipantLink
from labeling.services.participant_links import DEFAULT_DAYS, MAX_DAYS, MAX_NOTE_CHARS

TAG = ["self-report links"]


class ParticipantLinkSerializer(serializers.ModelSerializer):
    participant = serializers.IntegerField(source="participant_id")
    status = serializers.SerializerMethodField(
        help_text="active, expired, revoked, or withdrawn (the participant withdrew: no link of theirs works)."
    )
    created_by = serializers.CharField(source="created_by.get_username", allow_null=True, default=None)

    class Meta:
        model = ParticipantLink
        fields = [
            "id",
            "participant",
            "prefix",
            "note",
            "status",
            "created_at",
            "created_by",
            "expires_at",
            "revoked_at",
            "consented_at",
            "last_used_at",
        ]
        read_only_fields = fields

    def get_status(self, link: ParticipantLink) -> str:
        return selectors.participant_link_state(link)


class ParticipantLinkIssuedSerializer(ParticipantLinkSerializer):
    url = serializers.CharField(
        help_text="The whole link to send to the participant. Shown only in this response: it is not stored."
    )

    class Meta(ParticipantLinkSerializer.Meta):
        fields = [*ParticipantLinkSerializer.Meta.fields, "url"]
        read_only_fields = fields


class ParticipantLinkIssueSerializer(serializers.Serializer):
    days = serializers.IntegerField(
        min_value=1,
        max_value=MAX_DAYS,
        default=DEFAULT_DAYS,
        help_text=f"How long it works, 1 to {MAX_DAYS} days.",
    )
    note = serializers.CharField(
        max_length=MAX_NOTE_CHARS,
        required=False,
        allow_blank=True,
        default="",
        help_text="For the research team, to tell links apart. Never shown to the participant.",
    )


class ParticipantLinkListView(ResearchView):
    parser_classes = [JSONParser]

    def _participant(self, request: Request, study_id: int, participant_id: int):
        study = selectors.study_for_researcher(user=request.user, study_id=study_id)
        return selectors.participant_for_researcher(study=study, participant_id=participant_id)

    @extend_schema(
        tags=TAG,
        operation_id="participant_links_list",
        summary="A participant's self-report links (never the keys), newest first",
        responses={200: ParticipantLinkSerializer(many=True), 404: NOT_FOUND},
    )
    def get(self, request: Request, study_id: int, participant_id: int) -> Response:
        participant = self._participant(request, study_id, participant_id)
        return self.paginated(selectors.participant_links(participant=participant), ParticipantLinkSerializer)

    @extend_schema(
        tags=TAG,
        operation_id="participant_links_issue",
        summary="Issue a self-report link for a participant (the whole link is shown once)",
        description=(
            "The link opens only this participant's own clips, after a consent step, on the annotators' rating "
            "page and instrument; their ratings are stored as self-reports. `url` is in this response only: the "
            "key is stored as a hash. Refused (409) for a withdrawn participant."
        ),
        request=ParticipantLinkIssueSerializer,
        responses={
            201: ParticipantLinkIssuedSerializer,
            400: BAD_INPUT,
            404: NOT_FOUND,
            409: error("The participant has withdrawn."),
        },
    )
    def post(self, request: Request, study_id: int, participant_id: int) -> Response:
        participant = self._participant(request, study_id, participant_id)
        data = ParticipantLinkIssueSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        link, key = services.participant_link_issue(
            participant=participant,
            by=request.user,
            days=data.validated_data["days"],
            note=data.validated_data["note"],
        )
        link = selectors.participant_link_for_researcher(participant=participant, link_id=link.pk)
        link.url = participant_link_url(request, key)
        response = Response(ParticipantLinkIssuedSerializer(link).data, status=status.HTTP_201_CREATED)
        response["Cache-Control"] = "no-store"
        return response


class ParticipantLinkRevokeView(ResearchView):
    parser_classes = [JSONParser]

    @extend_schema(
        tags=TAG,
        operation_id="participant_links_revoke",
        summary="Revoke a self-report link now",
        description="It opens nothing any more; reports given through it stay. Revoking twice changes nothing.",
        request=None,
        responses={200: ParticipantLinkSerializer, 404: NOT_FOUND},
    )
    def post(self, request: Request, study_id: int, participant_id: int, link_id: int) -> Response:
        study = selectors.study_for_researcher(user=request.user, study_id=study_id)
        participant = selectors.participant_for_researcher(study=study, participant_id=participant_id)
        link = selectors.participant_link_for_researcher(participant=participant, link_id=link_id)
        services.participant_link_revoke(link=link, by=request.user)
        return Response(ParticipantLinkSerializer(link).data)
