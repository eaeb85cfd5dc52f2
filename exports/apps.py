from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "exports"
    verbose_name = "Dataset exports"

    def ready(self) -> None:
        from exports import receivers  # noqa: F401 - answers labeling's withdrawal hooks
