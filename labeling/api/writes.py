"""Study settings edits made through the API.

These are writes in the services style (keyword-only, transactional). They live here until
labeling/services/studies.py takes them over; nothing else in labeling/api writes to the database
except through labeling.services.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest

from labeling import services
from labeling.models import Clip, Study


@transaction.atomic
def study_update(*, study: Study, fields: dict[str, Any], scheme: dict[str, Any] | None = None) -> Study:
    """Change a study's settings and, optionally, its scheme (a used scheme makes a new version).

    Changing K (overlap_k) retargets every clip to max(K, its live assignments): raising K reopens full
    clips; lowering it never takes a clip below the annotators it already has. All or nothing.
    """
    locked = Study.objects.select_for_update().get(pk=study.pk)
    old_k = locked.overlap_k
    for name, value in fields.items():
        setattr(locked, name, value)
    locked.full_clean(validate_constraints=True)
    if fields:
        locked.save(update_fields=list(fields))
    if scheme is not None:
        services.study_scheme_update(study=locked, spec=scheme)
    if locked.overlap_k != old_k:
        Clip.objects.filter(study=locked).update(target_k=Greatest(Value(locked.overlap_k), F("n_assigned")))
    return locked
