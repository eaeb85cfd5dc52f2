from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.text import slugify

from labeling.errors import Conflict, NotAllowed, ValidationFailed
from labeling.models import (
    Annotation,
    Assignment,
    Clip,
    Membership,
    Role,
    SchemeVersion,
    SelfReport,
    Study,
)
from labeling.scheme import DEFAULT_SPEC, SchemeError, validate_spec
from labeling.services.assignments import leases_release


def _checked_spec(spec: dict[str, Any] | None) -> dict[str, Any]:
    try:
        return validate_spec(spec if spec is not None else dict(DEFAULT_SPEC))
    except SchemeError as exc:
        raise ValidationFailed("The rating scheme is not valid.", exc.errors) from exc


@transaction.atomic
def study_create(
    *,
    title: str,
    created_by,
    slug: str = "",
    scheme: dict[str, Any] | None = None,
    **fields: Any,
) -> Study:
    """Create a study with scheme version 1; the creator becomes its researcher."""
    spec = _checked_spec(scheme)
    slug = slug or slugify(title)[:80]
    if not slug:
        raise ValidationFailed("The study needs a title.", {"title": "must not be empty"})
    if Study.objects.filter(slug=slug).exists():
        raise ValidationFailed("A study with this slug exists.", {"slug": f"{slug!r} is taken"})
    study = Study(title=title, slug=slug, created_by=created_by, **fields)
    study.full_clean()
    study.save()
    SchemeVersion.objects.create(study=study, version=1, spec=spec)
    if created_by is not None:
        Membership.objects.create(
            study=study, user=created_by, role=Role.RESEARCHER, consented_at=timezone.now()
        )
    return study


@transaction.atomic
def study_scheme_update(*, study: Study, spec: dict[str, Any]) -> SchemeVersion:
    """Change the study's scheme. A version already used by a label, a lease or a self-report is frozen: make
    the next one."""
    spec = _checked_spec(spec)
    current = SchemeVersion.objects.select_for_update(no_key=True).filter(study=study).latest("version")
    if not _scheme_in_use(current):
        # Editing in place is safe only if no lease or label can take this version meanwhile. FOR UPDATE is
        # the one row lock that waits for, and holds off, inserts that reference the row (their foreign-key
        # check takes KEY SHARE); it is taken only here, on a version nothing uses yet, and checked again.
        current = SchemeVersion.objects.select_for_update().get(pk=current.pk)
        if not _scheme_in_use(current):
            current.spec = spec
            current.save(update_fields=["spec"])
            return current
    return SchemeVersion.objects.create(study=study, version=current.version + 1, spec=spec)


def _scheme_in_use(scheme: SchemeVersion) -> bool:
    """Whether a label, a lease or a self-report given in the platform records this version."""
    return (
        Annotation.objects.filter(scheme_version=scheme).exists()
        or Assignment.objects.filter(scheme_version=scheme).exists()
        or SelfReport.objects.filter(scheme_version=scheme).exists()
    )


@transaction.atomic
def study_update(*, study: Study, fields: dict[str, Any], scheme: dict[str, Any] | None = None) -> Study:
    """Change a study's settings and, optionally, its scheme (a used scheme makes a new version).

    Changing K (overlap_k) retargets every clip to max(K + its extra_k, its live assignments): raising K
    reopens full clips and keeps agreement-policy extensions; lowering it never takes a clip below the
    annotators it already has (the expiry of those leases brings the target down). All or nothing.

    The study row is locked FOR NO KEY UPDATE: concurrent updates of the study wait, claims and submits in
    it do not (their inserts' foreign-key checks take KEY SHARE on it, which only FOR UPDATE blocks). The
    clips are retargeted before the scheme is touched: an unused scheme's in-place edit waits for inserts
    that reference it, and such an insert may hold a clip row this update would otherwise wait for.
    """
    if scheme is not None:
        scheme = _checked_spec(scheme)  # refused before anything is locked or written
    locked = Study.objects.select_for_update(no_key=True).get(pk=study.pk)
    old_k = locked.overlap_k
    for name, value in fields.items():
        setattr(locked, name, value)
    locked.full_clean(validate_constraints=True)
    if fields:
        locked.save(update_fields=list(fields))
    if locked.overlap_k != old_k:
        Clip.objects.filter(study=locked).update(
            target_k=Greatest(Value(locked.overlap_k) + F("extra_k"), F("n_assigned"))
        )
    if scheme is not None:
        study_scheme_update(study=locked, spec=scheme)
    return locked


def membership_problem(*, study: Study, user, role: str) -> str | None:
    """Why `user` cannot be a member of `study` in `role`, or None. A crowd account (User.crowd_study set)
    belongs to its own study, as an annotator, and to no other."""
    crowd_study_id = getattr(user, "crowd_study_id", None)
    if crowd_study_id is not None and (crowd_study_id != study.pk or role != Role.ANNOTATOR):
        return "This is a crowd participant's account: it can only annotate in the study it joined through."
    return None


def membership_add(
    *, study: Study, user, role: str = Role.ANNOTATOR, via: str = Membership.Via.ACCOUNT, **fields: Any
) -> Membership:
    """Make `user` a member (idempotent: an existing membership is returned unchanged).

    Refuses (NotAllowed) to make a crowd account a member of any study but its own, or a researcher.
    """
    existing = Membership.objects.filter(study=study, user=user).first()
    if existing is not None:
        return existing
    problem = membership_problem(study=study, user=user, role=role)
    if problem:
        raise NotAllowed(problem)
    membership, _ = Membership.objects.get_or_create(
        study=study, user=user, defaults={"role": role, "joined_via": via, **fields}
    )
    return membership


@transaction.atomic
def membership_add_by_username(*, study: Study, username: str, role: str) -> tuple[Membership, bool]:
    """Make the user named `username` a member of `study` in `role` (a researcher adding someone by name).

    Returns (membership, created). Already a member in that role: the membership unchanged, created False.
    Refuses with ValidationFailed when no user has that name or the account is a crowd participant's of
    another study (or would not be an annotator), and with Conflict when they are a member in another role.
    """
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise ValidationFailed("Nobody was added.", {"username": f"no user named {username!r}"})
    existing = Membership.objects.filter(study=study, user=user).first()
    if existing is not None:
        if existing.role != role:
            raise Conflict(
                f"{username} is already a member of this study as {existing.get_role_display().lower()}."
            )
        return existing, False
    problem = membership_problem(study=study, user=user, role=role)
    if problem:  # a crowd participant's account belongs to its own study only
        raise ValidationFailed("Nobody was added.", {"username": problem})
    return membership_add(study=study, user=user, role=role), True


MEMBER_WITHDRAWN_KEPT = (
    "This annotator's labels are withdrawn, so the membership is kept: it is what keeps their labels out of "
    "every analysis and them from taking clips here. Reinstate their labels first to remove them."
)


@transaction.atomic
def membership_remove(*, membership: Membership) -> None:
    """Remove a member from a study: their live leases end now (each clip gets its slot back) and the
    membership goes, so they can no longer claim, keep or submit a clip there. Their labels stay.

    A member whose labels are withdrawn is not removed (Conflict): their membership records the withdrawal."""
    if Membership.objects.filter(pk=membership.pk, labels_withdrawn_at__isnull=False).exists():
        raise Conflict(MEMBER_WITHDRAWN_KEPT)
    leases_release(annotator_id=membership.user_id, study_id=membership.study_id)
    Membership.objects.filter(pk=membership.pk).delete()


def membership_consent(*, membership: Membership) -> Membership:
    if membership.consented_at is None:
        membership.consented_at = timezone.now()
        membership.save(update_fields=["consented_at"])
    return membership
