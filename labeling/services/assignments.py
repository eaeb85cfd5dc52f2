"""The queue: breadth-first towards K distinct annotators per clip, leases, heartbeats, expiry.

Concurrency: on PostgreSQL the candidate clip row is taken with SELECT ... FOR NO KEY UPDATE SKIP LOCKED,
so concurrent claimers spread over clips instead of queueing on one row. On every backend the counter
moves by a conditional UPDATE (n_assigned < target_k), and the database constraints (one live assignment
per clip and annotator, n_assigned <= target_k) are the guarantee.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, OuterRef, Q, Value
from django.db.models.functions import Greatest, Least
from django.utils import timezone

from labeling import selectors
from labeling.errors import Conflict, NotAllowed
from labeling.models import Assignment, Clip, Membership
from labeling.services import _pg

# An annotator may hold two leases per study: the clip being rated and the next one, preloaded. Until their
# first rating in the study only one, and a short one (the rating page's heartbeat, every minute, extends it
# to the study's lease length), so made-up participants who never rate cannot starve the queue.
MAX_ACTIVE_LEASES = 2
FIRST_LEASE_MINUTES = 5
_CLAIM_ATTEMPTS = 8


def _lease_end(membership: Membership, now: datetime) -> datetime:
    return now + timedelta(minutes=membership.study.lease_minutes)


def _first_lease_end(membership: Membership, now: datetime) -> datetime:
    return now + timedelta(minutes=min(membership.study.lease_minutes, FIRST_LEASE_MINUTES))


def _may_take_second_lease(*, study_id: int, user_id: int, now: datetime) -> bool:
    """Whether an annotator asking to preload may get a new lease: yes once they have rated a clip of the
    study, or when they hold no live lease at all. One query, run only on preload claims."""
    statuses = set(
        Assignment.objects.filter(study_id=study_id, annotator_id=user_id)
        .filter(
            Q(status=Assignment.Status.SUBMITTED)
            | Q(status=Assignment.Status.ACTIVE, lease_expires_at__gt=now, clip__is_active=True)
        )
        .values_list("status", flat=True)
        .distinct()
    )
    return Assignment.Status.SUBMITTED in statuses or Assignment.Status.ACTIVE not in statuses


FIRST_RATING_FIRST = "Rate the clip you have first: the next one is chosen after your first rating."
ANNOTATOR_WITHDRAWN = "The researchers of this study have withdrawn your ratings from it, so you cannot rate clips here any more."


def _slots_return(rows: list[tuple[int, int, int]]) -> None:
    """Give the clips of ended leases (rows of id, clip_id, the study's K) their slots back."""
    study_k = {r[1]: r[2] for r in rows}
    for clip_id, n in Counter(r[1] for r in rows).items():
        # A target raised to make room for live leases (K lowered meanwhile) falls back to K + extra_k.
        wanted = Greatest(Value(study_k[clip_id]) + F("extra_k"), F("n_assigned") - n)
        Clip.objects.filter(pk=clip_id).update(
            n_assigned=F("n_assigned") - n, target_k=Least(F("target_k"), wanted)
        )


def leases_expire(*, study_id: int | None = None, now: datetime | None = None) -> int:
    """Return expired leases to the pool; returns how many. Safe to run concurrently and repeatedly."""
    now = now or timezone.now()
    qs = Assignment.objects.filter(status=Assignment.Status.ACTIVE, lease_expires_at__lte=now)
    if study_id is not None:
        qs = qs.filter(study_id=study_id)
    if not qs.exists():  # the usual case, on every claim: one indexed probe and no transaction
        return 0
    with transaction.atomic():
        if connection.features.has_select_for_update_skip_locked:
            qs = qs.select_for_update(skip_locked=True, no_key=True, of=("self",))
        rows = list(qs.values_list("id", "clip_id", "study__overlap_k")[:1000])
        if not rows:
            return 0
        expired = Assignment.objects.filter(
            id__in=[r[0] for r in rows], status=Assignment.Status.ACTIVE
        ).update(status=Assignment.Status.EXPIRED)
        if expired != len(rows):  # cannot happen under the row locks / SQLite's one writer; never miscount
            raise IntegrityError("lease expiry raced; retry")
        _slots_return(rows)
        return expired


@transaction.atomic
def leases_release(*, annotator_id: int, study_id: int | None = None, now: datetime | None = None) -> int:
    """End every live lease of one annotator (in one study, or everywhere) now: each clip gets its slot
    back. Used when a member is removed, a user deleted or anonymised. Returns how many leases ended.

    Unlike the expiry sweep this waits for row locks (never skips one): a lease skipped here would be
    deleted with its user still counted on the clip.
    """
    now = now or timezone.now()
    qs = Assignment.objects.filter(annotator_id=annotator_id, status=Assignment.Status.ACTIVE)
    if study_id is not None:
        qs = qs.filter(study_id=study_id)
    if connection.features.has_select_for_update:
        qs = qs.select_for_update(no_key=True, of=("self",))
    rows = list(qs.order_by("clip_id").values_list("id", "clip_id", "study__overlap_k"))
    if not rows:
        return 0
    ended = Assignment.objects.filter(id__in=[r[0] for r in rows], status=Assignment.Status.ACTIVE).update(
        status=Assignment.Status.EXPIRED, lease_expires_at=now
    )
    if ended != len(rows):  # pragma: no cover - the rows are locked (PostgreSQL) or SQLite has one writer
        raise IntegrityError("lease release raced; retry")
    _slots_return(rows)
    return ended


def assignment_claim_next(
    *, membership: Membership, exclude_ids: tuple[int, ...] | list[int] = (), now: datetime | None = None
) -> Assignment | None:
    """The annotator's next clip: their own unexpired lease first, else a new lease on the least-covered clip.

    Returns None when nothing is left for this annotator; NotAllowed before consent, or once the annotator's
    labels are withdrawn from the study. `exclude_ids` skips leases the client already holds (the clip on
    screen), so the next one can be preloaded; until the annotator's first rating in the study that second
    lease is refused (Conflict), and a first new lease is short (FIRST_LEASE_MINUTES).
    """
    if membership.consented_at is None:
        raise NotAllowed("Consent must be accepted before the first clip.")
    if membership.labels_withdrawn_at is not None:
        raise NotAllowed(ANNOTATOR_WITHDRAWN)
    study = membership.study
    user_id = membership.user_id
    now = now or timezone.now()
    lease_end = _lease_end(membership, now)
    allow_new = not exclude_ids or _may_take_second_lease(study_id=study.pk, user_id=user_id, now=now)
    if _pg.enabled() and study.is_active and len(exclude_ids) < MAX_ACTIVE_LEASES:
        claimed = _pg.claim(
            study_id=study.pk,
            user_id=user_id,
            exclude_ids=list(exclude_ids),
            now=now,
            lease_end=lease_end,
            first_lease_end=_first_lease_end(membership, now),
            allow_new=allow_new,
        )
        if claimed is not None:  # the usual case, in one statement
            return claimed

    own = (
        Assignment.objects.filter(
            study_id=study.pk, annotator_id=user_id, status=Assignment.Status.ACTIVE, clip__is_active=True
        )
        .exclude(id__in=list(exclude_ids))
        .order_by("leased_at", "id")
        .select_related("clip", "scheme_version")
    )
    live_leases = list(own[:MAX_ACTIVE_LEASES])
    for lease in live_leases:
        if lease.lease_expires_at > now:
            lease.lease_expires_at = lease_end
            Assignment.objects.filter(pk=lease.pk, status=Assignment.Status.ACTIVE).update(
                lease_expires_at=lease.lease_expires_at
            )
            return lease
    if len(exclude_ids) >= MAX_ACTIVE_LEASES:
        return None
    if not study.is_active:  # a lease already held may be finished; no new ones
        raise NotAllowed("This study is closed.")
    if not allow_new:
        raise Conflict(FIRST_RATING_FIRST, {"exclude": "a second clip is held only after the first rating"})

    # The general path: expired leases back to the pool first, then a claim that waits for locked rows.
    leases_expire(study_id=study.pk, now=now)
    if not Assignment.objects.filter(
        study_id=study.pk, annotator_id=user_id, status=Assignment.Status.SUBMITTED
    ).exists():
        lease_end = _first_lease_end(membership, now)
    scheme = selectors.scheme_current(study=study)
    assert scheme is not None, "study_create gives every study its scheme v1"
    seen = Assignment.objects.filter(clip_id=OuterRef("pk"), annotator_id=user_id)
    candidates = (
        Clip.objects.filter(study_id=study.pk, is_active=True, n_assigned__lt=F("target_k"))
        .exclude(Exists(seen))
        .order_by("n_assigned", "shuffle_key")
    )
    skip_locked = connection.features.has_select_for_update_skip_locked
    for _ in range(_CLAIM_ATTEMPTS):
        try:
            with transaction.atomic():
                if skip_locked:
                    clip = candidates.select_for_update(skip_locked=True, no_key=True, of=("self",)).first()
                    if clip is None:
                        # Every candidate left may only be locked for a moment by another claimer: wait for
                        # the lock rather than tell this annotator that nothing is left.
                        clip = candidates.select_for_update(no_key=True, of=("self",)).first()
                else:
                    clip = candidates.first()
                if clip is None:
                    return None
                taken = Clip.objects.filter(pk=clip.pk, n_assigned__lt=F("target_k")).update(
                    n_assigned=F("n_assigned") + 1
                )
                if not taken:
                    continue
                clip.n_assigned += 1
                return Assignment.objects.create(  # with its clip attached: callers show it without a query
                    study_id=study.pk,
                    clip=clip,
                    annotator_id=user_id,
                    scheme_version=scheme,
                    leased_at=now,
                    lease_expires_at=lease_end,
                )
        except IntegrityError:
            continue  # the same annotator claimed this clip from another tab at the same moment
    raise Conflict("The queue is busy; please try again.")


@transaction.atomic
def assignment_heartbeat(*, assignment: Assignment, now: datetime | None = None) -> Assignment:
    """Extend the lease while the page is open. A lease that already expired is taken back if the clip has room
    (not once the annotator's labels are withdrawn from the study: their leases were ended then).

    Each step is a conditional UPDATE whose row count decides the next, so a heartbeat racing a submit, a
    second heartbeat or the expiry sweep can never move the clip's counter twice.
    """
    now = now or timezone.now()
    lease_end = now + timedelta(minutes=assignment.study.lease_minutes)
    mine = Assignment.objects.filter(pk=assignment.pk)
    if mine.filter(status=Assignment.Status.ACTIVE, clip__is_active=True).update(lease_expires_at=lease_end):
        assignment.status, assignment.lease_expires_at = Assignment.Status.ACTIVE, lease_end
        return assignment
    assignment.refresh_from_db(fields=["status"])
    if assignment.status == Assignment.Status.SUBMITTED:
        raise Conflict("This clip has already been rated.")
    if not Clip.objects.filter(pk=assignment.clip_id, is_active=True).exists():
        raise Conflict("This clip has been withdrawn from the study.")
    if selectors.annotator_labels_withdrawn(study_id=assignment.study_id, user_id=assignment.annotator_id):
        raise Conflict(ANNOTATOR_WITHDRAWN)
    # Expired: flip it back first (only one caller can), then take a slot on the clip, or undo both.
    if not mine.filter(status=Assignment.Status.EXPIRED).update(
        status=Assignment.Status.ACTIVE, leased_at=now, lease_expires_at=lease_end
    ):
        assignment.refresh_from_db()
        if assignment.status == Assignment.Status.ACTIVE:
            return assignment
        raise Conflict("This clip has already been rated.")
    if not Clip.objects.filter(pk=assignment.clip_id, n_assigned__lt=F("target_k")).update(
        n_assigned=F("n_assigned") + 1
    ):
        raise Conflict("The lease on this clip expired and the clip went to another annotator.")
    assignment.refresh_from_db()
    return assignment
