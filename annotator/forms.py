from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm, BaseUserCreationForm
from django.core.exceptions import ValidationError

from annotator.auth import THROTTLED_ATTR, throttled_message


class ThrottledLoginMixin:
    """Says why a log-in was refused when the account or client is locked (annotator/auth.py)."""

    def clean(self):
        try:
            return super().clean()
        except ValidationError:
            wait = getattr(self.request, THROTTLED_ATTR, 0) if self.request is not None else 0
            if wait:
                raise ValidationError(throttled_message(wait), code="throttled") from None
            raise

    @property
    def throttled_seconds(self) -> int:
        return getattr(self.request, THROTTLED_ATTR, 0) if self.request is not None else 0


class LoginForm(ThrottledLoginMixin, AuthenticationForm):
    """The stock log-in form with the attributes browsers and password managers expect."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].widget.attrs.update({"autocomplete": "username", "autocapitalize": "none"})
        self.fields["password"].widget.attrs.update({"autocomplete": "current-password"})


class AdminLoginForm(ThrottledLoginMixin, AdminAuthenticationForm):
    """The admin's log-in form, throttled like the site's."""


class ConsentForm(forms.Form):
    """Accept or decline the study's consent text (the button pressed carries the decision)."""

    decision = forms.ChoiceField(choices=[("accept", "I agree"), ("decline", "I do not agree")])


class SignupForm(BaseUserCreationForm):
    """A normal account (user name + password, checked by AUTH_PASSWORD_VALIDATORS), for researcher invites."""

    class Meta(BaseUserCreationForm.Meta):
        model = get_user_model()
        fields = ("username",)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].widget.attrs.update({"autocomplete": "username", "autocapitalize": "none"})
