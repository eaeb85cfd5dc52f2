"""System check: exports are served only through the permission-checked API, so EXPORTS_ROOT must not lie
inside (or contain) a folder the site or a web server serves publicly: MEDIA_ROOT, STATIC_ROOT, the static
folders."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.checks import Error, Tags, register


def _overlap(a: Path, b: Path) -> bool:
    a, b = a.resolve(), b.resolve()
    return a.is_relative_to(b) or b.is_relative_to(a)


@register(Tags.security)
def exports_root_is_private(app_configs=None, **kwargs) -> list[Error]:
    root = Path(settings.EXPORTS_ROOT)
    public = {
        "MEDIA_ROOT": settings.MEDIA_ROOT,
        "STATIC_ROOT": settings.STATIC_ROOT,
        **{f"STATICFILES_DIRS[{i}]": d for i, d in enumerate(settings.STATICFILES_DIRS)},
    }
    return [
        Error(
            f"EXPORTS_ROOT ({root}) overlaps {name} ({folder}): dataset exports would be reachable without "
            "the researchers-only check.",
            hint="Set EXPORTS_ROOT to a folder of its own, outside every folder served publicly.",
            id="exports.E001",
        )
        for name, folder in public.items()
        if folder and _overlap(root, Path(folder))
    ]
