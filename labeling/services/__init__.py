"""Writes. Each function is keyword-only, transactional, and named <entity>_<action>."""

from .agreement import (
    agreement_compute,
    agreement_request,
    agreement_run_now,
    agreement_schedule_due,
    clip_targets_extend,
)
from .annotations import annotation_submit
from .assignments import assignment_claim_next, assignment_heartbeat, leases_expire, leases_release
from .clips import (
    clip_create,
    clip_inactive_reason,
    clip_update,
    clip_update_check,
    clips_upload,
    participant_get_or_create,
)
from .heartbeats import heartbeat_record
from .participant_links import (
    participant_link_consent,
    participant_link_issue,
    participant_link_revoke,
    participant_link_touch,
    self_report_submit,
)
from .participants import (
    ParticipantChange,
    consent_fields_clean,
    participant_create,
    participant_update,
)
from .self_reports import ImportReport, SelfReportImportRefused, self_reports_import
from .studies import (
    membership_add,
    membership_add_by_username,
    membership_consent,
    membership_problem,
    membership_remove,
    study_create,
    study_scheme_update,
    study_update,
)
from .tokens import api_token_create, api_token_revoke
from .withdrawal import (
    annotator_labels_reinstate,
    annotator_labels_withdraw,
    participant_reinstate,
    participant_withdraw,
)

__all__ = [
    "ImportReport",
    "ParticipantChange",
    "SelfReportImportRefused",
    "UploadResult",
    "agreement_compute",
    "agreement_request",
    "agreement_run_now",
    "agreement_schedule_due",
    "clip_targets_extend",
    "annotation_submit",
    "annotator_labels_reinstate",
    "annotator_labels_withdraw",
    "api_token_create",
    "api_token_revoke",
    "assignment_claim_next",
    "assignment_heartbeat",
    "clip_create",
    "clip_inactive_reason",
    "clips_upload",
    "clip_update",
    "clip_update_check",
    "consent_fields_clean",
    "heartbeat_record",
    "leases_expire",
    "leases_release",
    "membership_add",
    "membership_add_by_username",
    "membership_consent",
    "membership_problem",
    "membership_remove",
    "participant_create",
    "participant_get_or_create",
    "participant_link_consent",
    "participant_link_issue",
    "participant_link_revoke",
    "participant_link_touch",
    "participant_reinstate",
    "participant_update",
    "participant_withdraw",
    "self_reports_import",
    "self_report_submit",
    "study_create",
    "study_scheme_update",
    "study_update",
]
