from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "exports"
    verbose_name = "Dataset exports"

    def ready(self) -> None:
        # The system check (exports.E001) and the answers to labeling's withdrawal hooks (labeling/hooks.py).
        from . import checks, receivers  # noqa: F401
