"""Routes of the JSON API, mounted at /api/ by annotator/urls.py."""

from django.urls import path

from labeling.api import account, agreement, annotation_client, participant_links, research, self_reports

urlpatterns = [
    # annotation client
    path(
        "studies/<int:study_id>/assignments/next/",
        annotation_client.ClaimNextView.as_view(),
        name="api-claim-next",
    ),
    path(
        "assignments/<int:assignment_id>/heartbeat/",
        annotation_client.HeartbeatView.as_view(),
        name="api-heartbeat",
    ),
    path(
        "assignments/<int:assignment_id>/annotation/",
        annotation_client.AnnotationSubmitView.as_view(),
        name="api-annotation-submit",
    ),
    # researchers
    path("studies/", research.StudyListView.as_view(), name="api-studies"),
    path("studies/<int:study_id>/", research.StudyDetailView.as_view(), name="api-study"),
    path("studies/<int:study_id>/clips/", research.ClipListView.as_view(), name="api-clips"),
    path("studies/<int:study_id>/clips/<int:clip_id>/", research.ClipDetailView.as_view(), name="api-clip"),
    path("studies/<int:study_id>/members/", research.MemberListView.as_view(), name="api-members"),
    path(
        "studies/<int:study_id>/members/<int:member_id>/labels/withdraw/",
        research.MemberLabelsWithdrawView.as_view(),
        name="api-member-labels-withdraw",
    ),
    path(
        "studies/<int:study_id>/members/<int:member_id>/labels/reinstate/",
        research.MemberLabelsReinstateView.as_view(),
        name="api-member-labels-reinstate",
    ),
    path(
        "studies/<int:study_id>/participants/",
        research.ParticipantListView.as_view(),
        name="api-participants",
    ),
    path(
        "studies/<int:study_id>/participants/<int:participant_id>/",
        research.ParticipantDetailView.as_view(),
        name="api-participant",
    ),
    path(
        "studies/<int:study_id>/participants/<int:participant_id>/withdraw/",
        research.ParticipantWithdrawView.as_view(),
        name="api-participant-withdraw",
    ),
    path(
        "studies/<int:study_id>/participants/<int:participant_id>/reinstate/",
        research.ParticipantReinstateView.as_view(),
        name="api-participant-reinstate",
    ),
    path(
        "studies/<int:study_id>/annotations/", research.AnnotationListView.as_view(), name="api-annotations"
    ),
    path("studies/<int:study_id>/agreement/", agreement.AgreementView.as_view(), name="api-agreement"),
    path(
        "studies/<int:study_id>/self-reports/",
        self_reports.SelfReportListView.as_view(),
        name="api-self-reports",
    ),
    path(
        "studies/<int:study_id>/self-reports/import/",
        self_reports.SelfReportImportView.as_view(),
        name="api-self-reports-import",
    ),
    # self-report links (labeling/api/participant_links.py)
    path(
        "studies/<int:study_id>/participants/<int:participant_id>/links/",
        participant_links.ParticipantLinkListView.as_view(),
        name="api-participant-links",
    ),
    path(
        "studies/<int:study_id>/participants/<int:participant_id>/links/<int:link_id>/revoke/",
        participant_links.ParticipantLinkRevokeView.as_view(),
        name="api-participant-link-revoke",
    ),
    # accounts
    path("me/", account.MeView.as_view(), name="api-me"),
    path("auth/token/", account.TokenView.as_view(), name="api-token"),
    path("auth/tokens/", account.TokenListView.as_view(), name="api-tokens"),
    path("auth/tokens/<int:token_id>/", account.TokenDetailView.as_view(), name="api-token-detail"),
]
