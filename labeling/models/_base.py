"""Helpers shared by the model modules: default values and upload paths.

Migrations refer to these by their
``labeling.models.<name>`` path (re-exported by the package), so keep the names."""

import secrets
import uuid
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .clips import Clip


def _clip_upload_to(instance: "Clip", filename: str) -> str:
    ext = filename.rsplit(".", 1)[-1].lower()[:8] if "." in filename else "bin"
    return f"clips/{instance.study_id}/{uuid.uuid4().hex}.{ext}"


def _poster_upload_to(instance: "Clip", filename: str) -> str:
    return f"posters/{instance.study_id}/{uuid.uuid4().hex}.jpg"


def _random_token() -> str:
    return secrets.token_urlsafe(18)


def _shuffle_key() -> int:
    return secrets.randbelow(2**31)
