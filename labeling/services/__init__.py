"""Writes. Each function is keyword-only, transactional, and named <entity>_<action>."""

from .agreement import (
    agreement_compute,
    agreement_request,
    agreement_run_now,
    agreement_schedule_due,
    clip_targets_extend,
)
from .annotations import annotation_submit
from .assignments import assignment_claim_next, assignment_heartbeat, leases_expire
from .clips import clip_create, participant_get_or_create
from .heartbeats import heartbeat_record
from .studies import (
    membership_add,
    membership_consent,
    participant_withdraw,
    study_create,
    study_scheme_update,
    study_update,
)

__all__ = [
    "agreement_compute",
    "agreement_request",
    "agreement_run_now",
    "agreement_schedule_due",
    "clip_targets_extend",
    "annotation_submit",
    "assignment_claim_next",
    "assignment_heartbeat",
    "clip_create",
    "heartbeat_record",
    "leases_expire",
    "membership_add",
    "membership_consent",
    "participant_get_or_create",
    "participant_withdraw",
    "study_create",
    "study_scheme_update",
    "study_update",
]
