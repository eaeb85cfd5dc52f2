from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from annotator.forms import AdminLoginForm
from annotator.models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    """Accounts, including pseudonymous crowd annotators (one per crowd-platform id, no e-mail)."""

    list_display = [
        "username",
        "crowd_pid",
        "is_pseudonymous",
        "email",
        "is_staff",
        "is_active",
        "date_joined",
    ]
    list_filter = ["is_pseudonymous", "is_staff", "is_superuser", "is_active"]
    search_fields = ["username", "email", "first_name", "last_name", "crowd_pid"]
    fieldsets = [*BaseUserAdmin.fieldsets, ("Crowd", {"fields": ["is_pseudonymous", "crowd_pid"]})]


# The admin's log-in is throttled like the site's (annotator/auth.py), with the same message.
admin.site.login_form = AdminLoginForm
