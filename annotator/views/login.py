"""The log-in page: Django's, answering 429 with a clear message while the account or client is locked."""

from __future__ import annotations

from django.contrib.auth import views as auth_views

from annotator.forms import LoginForm


class LoginView(auth_views.LoginView):
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def form_invalid(self, form):
        response = super().form_invalid(form)
        wait = form.throttled_seconds
        if wait:
            response.status_code = 429
            response["Retry-After"] = str(wait)
        return response
