from django import forms
from django.contrib.auth.forms import AuthenticationForm


class LoginForm(AuthenticationForm):
    """The stock log-in form with the attributes browsers and password managers expect."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].widget.attrs.update({"autocomplete": "username", "autocapitalize": "none"})
        self.fields["password"].widget.attrs.update({"autocomplete": "current-password"})


class ConsentForm(forms.Form):
    """Accept or decline the study's consent text (the button pressed carries the decision)."""

    decision = forms.ChoiceField(choices=[("accept", "I agree"), ("decline", "I do not agree")])
