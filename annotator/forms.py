from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm, BaseUserCreationForm


class LoginForm(AuthenticationForm):
    """The stock log-in form with the attributes browsers and password managers expect."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].widget.attrs.update({"autocomplete": "username", "autocapitalize": "none"})
        self.fields["password"].widget.attrs.update({"autocomplete": "current-password"})


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
