"""The research data: studies and their frozen rating schemes, people, clips and the queue, labels, and
computed reports. One module per area; import models from ``labeling.models``."""

from ._base import _clip_upload_to, _poster_upload_to, _random_token, _shuffle_key
from .clips import Assignment, Clip
from .labels import Annotation, SelfReport
from .people import (
    CONSENT_SCOPES,
    AnnotatorEvent,
    ApiToken,
    Invite,
    Membership,
    Participant,
    ParticipantEvent,
    ParticipantLink,
    api_token_hash,
    password_fingerprint,
)
from .reports import AgreementReport, Heartbeat
from .studies import Role, SchemeVersion, Study

__all__ = [
    "_clip_upload_to",
    "_poster_upload_to",
    "_random_token",
    "_shuffle_key",
    "Role",
    "Study",
    "SchemeVersion",
    "Membership",
    "Invite",
    "Participant",
    "ParticipantEvent",
    "ParticipantLink",
    "CONSENT_SCOPES",
    "AnnotatorEvent",
    "api_token_hash",
    "password_fingerprint",
    "ApiToken",
    "Clip",
    "Assignment",
    "Annotation",
    "SelfReport",
    "AgreementReport",
    "Heartbeat",
]
