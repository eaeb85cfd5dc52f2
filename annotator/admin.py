from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from annotator import services
from annotator.forms import AdminLoginForm
from annotator.models import User
from labeling.errors import ServiceError
from labeling.models import Assignment


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    """Accounts, including pseudonymous crowd annotators (one per study and crowd-platform id, no e-mail).

    Deleting goes through user_delete (live leases end first, so clips get their slots back); an annotator
    who asks to be removed is anonymised instead (labels kept)."""

    list_display = [
        "username",
        "crowd_pid",
        "crowd_study",
        "is_pseudonymous",
        "email",
        "is_staff",
        "is_active",
        "date_joined",
    ]
    list_filter = ["is_pseudonymous", "is_staff", "is_superuser", "is_active"]
    list_select_related = ["crowd_study"]
    search_fields = ["username", "email", "first_name", "last_name", "crowd_pid"]
    fieldsets = [
        *BaseUserAdmin.fieldsets,
        ("Crowd", {"fields": ["is_pseudonymous", "crowd_study", "crowd_pid"]}),
    ]
    readonly_fields = ["crowd_study", "crowd_pid"]  # set only by crowd entry (one study per crowd account)
    actions = ["anonymise"]

    def get_deleted_objects(self, objs, request):
        """A user's leases (read-only in the admin) go with them: user_delete ends them first. Users with
        ratings stay protected by the database (Annotation.annotator is PROTECT)."""
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        perms_needed.discard(Assignment._meta.verbose_name)
        return deleted, model_count, perms_needed, protected

    def delete_model(self, request, obj):
        services.user_delete(user=obj)

    def delete_queryset(self, request, queryset):
        for user in queryset:
            services.user_delete(user=user)

    @admin.action(description="Anonymise the selected annotators (labels are kept)", permissions=["change"])
    def anonymise(self, request, queryset):
        done = 0
        for user in queryset:
            try:
                services.annotator_anonymise(user=user)
                done += 1
            except ServiceError as exc:
                self.message_user(request, f"{user.get_username()}: {exc.message}", messages.ERROR)
        if done:
            self.message_user(
                request, f"{done} account(s) anonymised; their labels are kept.", messages.SUCCESS
            )


# The admin's log-in is throttled like the site's (annotator/auth.py), with the same message.
admin.site.login_form = AdminLoginForm
