"""Clip upload: an untrusted file becomes a Clip only after it is spooled (size cap, sha256), sniffed, probed
and decoded in a child process under a time limit, checked against the limits, and given a poster.

Any refusal raises ValidationFailed saying why and leaves nothing behind: no file, no poster, no row.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TypeGuard

from django.conf import settings
from django.core.files import File
from django.db import IntegrityError, transaction

from labeling.errors import ServiceError, ValidationFailed
from labeling.media import probe as media
from labeling.models import Clip, Participant, Study

log = logging.getLogger(__name__)


class _SpooledFile(File):
    """A file already on local disk: FileSystemStorage moves it into place instead of copying it."""

    def __init__(self, path: Path):
        super().__init__(None, name=path.name)
        self._path = path

    def temporary_file_path(self) -> str:
        return str(self._path)

    @property
    def size(self) -> int:
        return self._path.stat().st_size

    def open(self, mode="rb"):  # type: ignore[override]  # a file on disk: nothing but the mode applies
        self.file = open(self._path, mode)
        return self

    def chunks(self, chunk_size=None):
        with open(self._path, "rb") as f:
            while block := f.read(chunk_size or self.DEFAULT_CHUNK_SIZE):
                yield block

    def close(self):
        if self.file is not None:
            self.file.close()


def _refuse(message: str, **attrs) -> ValidationFailed:
    exc = ValidationFailed(message, {"file": message})
    for key, value in attrs.items():
        setattr(exc, key, value)
    return exc


def _duplicate(study: Study, sha256: str) -> ValidationFailed | None:
    existing = Clip.objects.filter(study=study, sha256=sha256).only("id", "original_name").first()
    if existing is None:
        return None
    return _refuse(
        f"This file is a duplicate of clip {existing.pk} (“{existing.original_name}”), already in this study.",
        duplicate_of=existing,
    )


def _participant_code(code: str | None) -> str:
    code = (code or "").strip()
    if not code:
        raise ValidationFailed("A participant needs a code.", {"participant": "must not be empty"})
    if len(code) > 64:
        raise ValidationFailed("A participant code has at most 64 characters.", {"participant": "too long"})
    return code


def _refuse_withdrawn(participant: Participant | None) -> None:
    if participant is not None and participant.withdrawn_at is not None:
        raise ValidationFailed(
            f"Participant {participant.code} has withdrawn: no clip of theirs can be added or made active "
            "(a researcher can reinstate them, which is logged).",
            {"participant": "has withdrawn"},
        )


def _refuses_annotation(participant: Participant | None) -> TypeGuard[Participant]:
    return participant is not None and not participant.consent_annotation


def _refuse_activation(participant: Participant) -> None:
    raise ValidationFailed(
        f"Participant {participant.code} does not consent to annotation: no clip of theirs can be made "
        "active. Record their consent first (it is logged), then make the clip active.",
        {"is_active": "participant does not consent to annotation"},
    )


def participant_get_or_create(*, study: Study, code: str) -> Participant:
    """The study's participant with this pseudonymous code, created if new."""
    code = _participant_code(code)
    try:
        with transaction.atomic():
            participant, _ = Participant.objects.get_or_create(study=study, code=code)
    except IntegrityError:  # created concurrently
        participant = Participant.objects.get(study=study, code=code)
    return participant


def clip_create(
    *,
    study: Study,
    file,
    original_name: str,
    uploaded_by=None,
    participant: Participant | None = None,
    participant_code: str | None = None,
) -> Clip:
    """Validate an uploaded video and add it to the study as a Clip wanting `study.overlap_k` annotators.

    `file` is a Django UploadedFile or any binary file object. The filmed person is `participant`, or the
    study's participant with `participant_code` (created with the clip, in the same transaction, so a refused
    upload leaves no participant behind). Raises ValidationFailed (message says why: not a video, too large,
    truncated or damaged, too long, resolution too high, not playable in browsers, duplicate of clip N, the
    participant withdrew); a refusal leaves nothing behind. A clip of a participant who does not consent to
    annotation is added inactive (clip_inactive_reason says why, for the uploader).
    """
    original_name = Path(str(original_name or "").replace("\\", "/")).name.strip()[:255] or "upload"
    if participant is not None and participant.study_id != study.pk:
        raise ValidationFailed(
            "The participant belongs to another study.", {"participant": "not in this study"}
        )
    if participant_code is not None and participant is None:
        participant_code = _participant_code(participant_code)
        participant = Participant.objects.filter(study=study, code=participant_code).first()
    _refuse_withdrawn(participant)
    tmp_dir = Path(settings.MEDIA_ROOT) / "tmp"
    poster_tmp = None
    spooled = None
    stored: list = []
    try:
        try:
            spooled = media.spool(file, directory=tmp_dir, max_bytes=settings.CLIP_MAX_BYTES)
            media.sniff(spooled.path)
        except media.MediaRefused as exc:
            raise _refuse(exc.message) from None
        if dup := _duplicate(study, spooled.sha256):
            raise dup
        poster_tmp = spooled.path.with_suffix(".jpg")
        try:
            info = media.probe(
                spooled.path,
                poster_path=poster_tmp,
                timeout=settings.CLIP_PROBE_TIMEOUT_SECONDS,
                max_seconds=settings.CLIP_MAX_SECONDS,
                max_pixels=settings.CLIP_MAX_PIXELS,
                max_fps=settings.CLIP_MAX_FPS,
            )
            media.check_limits(
                info,
                max_seconds=settings.CLIP_MAX_SECONDS,
                max_pixels=settings.CLIP_MAX_PIXELS,
                max_fps=settings.CLIP_MAX_FPS,
            )
            media.check_playable(info, getattr(settings, "CLIP_PLAYABLE_FORMATS", None))
        except media.MediaRefused as exc:
            raise _refuse(exc.message) from None
        if not poster_tmp.exists():
            raise _refuse("This video could not be decoded (no poster frame).")
        if info["fps"] <= 0 or info["duration_s"] <= 0:
            raise _refuse("This video has no usable frame rate or duration.")
        ext, _ = media.storage_for(info["container"])
        clip = Clip(
            study=study,
            original_name=original_name,
            sha256=spooled.sha256,
            size_bytes=spooled.size,
            container=info["container"][:64],
            video_codec=info["video_codec"][:64],
            duration_s=info["duration_s"],
            fps=round(info["fps"], 3),
            width=info["width"],
            height=info["height"],
            has_audio=info["has_audio"],
            participant=participant,
            uploaded_by=uploaded_by,
            target_k=study.overlap_k,
        )
        clip.file.save(f"clip.{ext}", _SpooledFile(spooled.path), save=False)
        stored.append(clip.file)
        clip.poster.save("poster.jpg", _SpooledFile(poster_tmp), save=False)
        stored.append(clip.poster)
        try:
            with transaction.atomic():
                if clip.participant is None and participant_code:
                    clip.participant = participant_get_or_create(study=study, code=participant_code)
                # Locked, so a withdrawal cannot slip in between this check and the new clip.
                if clip.participant is not None:
                    clip.participant = Participant.objects.select_for_update(no_key=True).get(
                        pk=clip.participant.pk
                    )
                    _refuse_withdrawn(clip.participant)
                    # Never served without consent to annotation: added, but out of the queue.
                    clip.is_active = not _refuses_annotation(clip.participant)
                clip.save()
        except IntegrityError:
            if dup := _duplicate(study, spooled.sha256):  # the same file uploaded concurrently
                raise dup from None
            raise
        stored.clear()
        return clip
    finally:
        for field in stored:
            try:
                field.storage.delete(field.name)
            except OSError:
                log.exception("could not remove %s after a refused upload", field.name)
        for path in (spooled.path if spooled else None, poster_tmp):
            if path is not None:
                path.unlink(missing_ok=True)


def clip_inactive_reason(clip: Clip) -> str:
    """Why a clip is kept out of the queue by its participant's consent, in a sentence for the researcher;
    empty otherwise (active, or inactive for another reason)."""
    if clip.is_active or clip.withdrawn_at is not None or not _refuses_annotation(clip.participant):
        return ""
    return (
        f"Inactive: participant {clip.participant.code} does not consent to annotation, so it is not shown "
        "to annotators."
    )


_UNCHANGED = object()


def clip_update_check(*, clip: Clip, is_active: bool | None = None, participant=_UNCHANGED) -> None:
    """Raise ValidationFailed if this edit is not allowed (a form calls it first; clip_update always does)."""
    if participant is not _UNCHANGED and participant != clip.participant:
        if participant is not None and participant.study_id != clip.study_id:
            raise ValidationFailed(
                "The participant belongs to another study.", {"participant": "not in this study"}
            )
        if clip.withdrawn_at is not None:
            raise ValidationFailed(
                "This clip's participant has withdrawn: it cannot be given to someone else.",
                {"participant": "has withdrawn"},
            )
        _refuse_withdrawn(participant)
    if is_active and not clip.is_active and clip.withdrawn_at is not None:
        raise ValidationFailed(
            "This clip's participant has withdrawn: it cannot be made active again (reinstating the "
            "participant, which is logged, is the only way back).",
            {"is_active": "participant has withdrawn"},
        )
    moved = participant is not _UNCHANGED and participant != clip.participant
    owner: Participant | None = participant if moved else clip.participant
    active = clip.is_active if is_active is None else is_active
    if active and (moved or not clip.is_active) and _refuses_annotation(owner):
        _refuse_activation(owner)


@transaction.atomic
def clip_update(*, clip: Clip, is_active: bool | None = None, participant=_UNCHANGED) -> Clip:
    """A researcher's edit of a clip: whether it is in the queue, and who is filmed in it. Only these fields
    are written (the queue counters move under concurrent claims). A withdrawn participant's clip cannot be
    made active or moved to another participant, and no clip can be given to a withdrawn participant: only
    reinstating the participant (labeling.services.participant_reinstate, logged) brings it back; the
    database refuses an active withdrawn clip whatever the code does (clip_withdrawn_is_inactive). A clip
    of a participant who does not consent to annotation cannot be made active, nor can an active clip be
    given to such a participant."""
    # Participants first, then the clip: the order participant_withdraw locks in.
    current = Clip.objects.values_list("participant_id", flat=True).get(pk=clip.pk)
    target = participant.pk if participant is not _UNCHANGED and participant is not None else None
    locked_people = {
        p.pk: p
        for p in Participant.objects.select_for_update(no_key=True)
        .filter(pk__in=[pk for pk in (current, target) if pk is not None])
        .order_by("pk")
    }
    if target is not None:
        participant = locked_people[target]
    locked = (
        Clip.objects.select_for_update(of=("self",), no_key=True)
        .select_related("participant")
        .get(pk=clip.pk)
    )
    clip_update_check(clip=locked, is_active=is_active, participant=participant)
    fields = []
    if participant is not _UNCHANGED and participant != locked.participant:
        locked.participant = participant
        fields.append("participant")
    if is_active is not None and is_active != locked.is_active:
        locked.is_active = is_active
        fields.append("is_active")
    if fields:
        locked.save(update_fields=fields)
    return locked


@dataclass
class UploadResult:
    name: str
    clip: Clip | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.clip is not None


def clips_upload(*, study: Study, files, uploaded_by) -> list[UploadResult]:
    """Import each file through clip_create (each in its own transaction); one refused file does not stop the others."""
    results = []
    for f in files:
        name = getattr(f, "name", "") or "unnamed"
        try:
            clip = clip_create(study=study, file=f, original_name=name, uploaded_by=uploaded_by)
        except ServiceError as exc:
            results.append(UploadResult(name=name, error=exc.message))
        else:
            results.append(UploadResult(name=name, clip=clip))
    return results
