"""The exports app's answers to labeling's withdrawal hooks (labeling/hooks.py), connected in
ExportsConfig.ready(). The rules are in exports/withdrawal.py."""

from __future__ import annotations

from django.dispatch import receiver

from labeling import hooks

from .withdrawal import export_reinstatement_check, exports_mark_withdrawn


@receiver(hooks.data_withdrawn, dispatch_uid="exports.mark_withdrawn")
def mark_exports(sender, *, kind: str, study_id: int, subject_id: int, at, scope=None, **kwargs) -> None:
    exports_mark_withdrawn(kind=kind, study_id=study_id, subject_id=subject_id, at=at, scope=scope)


@receiver(hooks.annotator_reinstating, dispatch_uid="exports.reinstatement_guard")
def refuse_reinstatement(sender, *, study_id: int, withdrawn_at, **kwargs) -> None:
    export_reinstatement_check(study_id=study_id, withdrawn_at=withdrawn_at)
