from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "exports"
    verbose_name = "Dataset exports"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system check)
