"""Writes. Each function is keyword-only, transactional, and named <entity>_<action>."""

from .annotations import annotation_submit
from .assignments import assignment_claim_next, assignment_heartbeat, leases_expire
from .studies import (
    membership_add,
    membership_consent,
    participant_withdraw,
    study_create,
    study_scheme_update,
)

__all__ = [
    "annotation_submit",
    "assignment_claim_next",
    "assignment_heartbeat",
    "leases_expire",
    "membership_add",
    "membership_consent",
    "participant_withdraw",
    "study_create",
    "study_scheme_update",
]
