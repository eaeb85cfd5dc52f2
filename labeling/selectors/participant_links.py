"""Self-report links, read: the link a key opens (for the participant's pages), the participant's own clips
behind it, and the links of a participant (for researchers; never a key: only its hash is stored).

A link opens one participant's clips and nothing else. Every read here starts from the link, so another
participant's clip, another study's clip or a withdrawn clip is NotFound, exactly like a clip that does not
exist. A link that exists but may not be used any more (revoked, expired, its participant withdrew) is Gone,
with a plain message the page shows.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from labeling.errors import Gone, NotFound
from labeling.models import Clip, Participant, ParticipantLink, SelfReport, api_token_hash

from ._base import BAD_ID

# Keys are secrets.token_urlsafe(32): 43 characters. Anything much longer is no key (and is not hashed).
MAX_KEY_LENGTH = 200

REVOKED = "This link has been switched off by the research team, so it no longer opens anything."
EXPIRED = "This link has expired, so it no longer opens anything."
WITHDRAWN = "You have withdrawn from this study, so this link no longer opens anything."
ASK_AGAIN = " If you would still like to take part, please ask the research team for a new link."


def participant_link_state(link: ParticipantLink, *, now: datetime | None = None) -> str:
    """ "revoked", "withdrawn" (the participant withdrew), "expired" or "active"; the first that applies."""
    now = now or timezone.now()
    if link.revoked_at is not None:
        return "revoked"
    if link.participant.withdrawn_at is not None:
        return "withdrawn"
    if link.expires_at <= now:
        return "expired"
    return "active"


def participant_link_problem(link: ParticipantLink, *, now: datetime | None = None) -> str | None:
    """Why the link may not be used (a sentence for the participant), or None when it may."""
    state = participant_link_state(link, now=now)
    if state == "revoked":
        return REVOKED + ASK_AGAIN
    if state == "withdrawn":
        return WITHDRAWN + " Thank you for the part you took."
    if state == "expired":
        return EXPIRED + ASK_AGAIN
    return None


def participant_link_open(*, key: str, now: datetime | None = None) -> ParticipantLink:
    """The link a key opens, with its participant and study: NotFound for a key that is no link's, Gone (with
    the reason) for a link that may not be used any more. One indexed lookup by the key's SHA-256."""
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
        raise NotFound("This link does not open anything.")
    try:
        link = ParticipantLink.objects.select_related("participant__study").get(key_hash=api_token_hash(key))
    except ParticipantLink.DoesNotExist:
        raise NotFound("This link does not open anything.") from None
    problem = participant_link_problem(link, now=now)
    if problem:
        raise Gone(problem)
    return link


def _reported(link: ParticipantLink, instrument: str) -> Exists:
    """A whole-clip self-report of the link's participant on the clip of the outer query, on `instrument`:
    what self_report_submit would refuse as a second report (the natural key)."""
    return Exists(
        SelfReport.objects.filter(
            participant_id=link.participant_id,
            clip=OuterRef("pk"),
            instrument=instrument,
            start_s__isnull=True,
        )
    )


def participant_clips(*, link: ParticipantLink, instrument: str) -> QuerySet[Clip]:
    """The link's participant's own clips in their study (withdrawn clips out), each with `rated`: whether
    they already gave a whole-clip report on it with `instrument` (the study's current one). Their clips are
    listed whatever Participant.consent_annotation says: their own report is not annotation."""
    study_id = link.participant.study_id
    return (
        Clip.objects.filter(participant_id=link.participant_id, study_id=study_id, withdrawn_at__isnull=True)
        .annotate(rated=_reported(link, instrument))
        .order_by("created_at", "id")
    )


def participant_clip(*, link: ParticipantLink, instrument: str, clip_id: int) -> Clip:
    """One of participant_clips, or NotFound (another participant's or study's clip is no different from a
    clip that does not exist)."""
    try:
        return participant_clips(link=link, instrument=instrument).select_related("study").get(pk=clip_id)
    except (Clip.DoesNotExist, *BAD_ID):
        raise NotFound("No such clip.") from None


def participant_links(*, participant: Participant) -> QuerySet[ParticipantLink]:
    """A participant's self-report links, newest first (the participant is already scoped to the requester)."""
    return (
        ParticipantLink.objects.filter(participant=participant)
        .select_related("participant", "created_by")
        .order_by("-created_at", "-id")
    )


def participant_link_for_researcher(*, participant: Participant, link_id: int) -> ParticipantLink:
    """One of participant_links, or NotFound (another participant's link included)."""
    try:
        return participant_links(participant=participant).get(pk=link_id)
    except (ParticipantLink.DoesNotExist, *BAD_ID):
        raise NotFound("No such link.") from None
