from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import pre_save


class LabelingConfig(AppConfig):
    name = "labeling"
    verbose_name = "Labeling"

    def ready(self) -> None:
        from labeling import signals  # noqa: F401 - connects the lease safety net
        from labeling.services.tokens import on_user_pre_save

        # A password change revokes the user's API tokens; a hash upgrade of the same password does not.
        pre_save.connect(
            on_user_pre_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="api-tokens-password"
        )
