"""Ways in: the home page, invite links and crowd-platform links."""

from __future__ import annotations

from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from annotator import services
from annotator.client import client_address
from annotator.forms import SignupForm
from labeling import selectors
from labeling.errors import RateLimited, ServiceError
from labeling.models import Invite, Membership, Role
from labeling.pages import service_error_page

BACKEND = "django.contrib.auth.backends.ModelBackend"


def _next_page(membership: Membership) -> str:
    """Where a member goes after entering: consent first, then the queue."""
    if membership.consented_at is None:
        return reverse("study-consent", args=[membership.study_id])
    return reverse("study-queue", args=[membership.study_id])


def entry_error(
    request: HttpRequest, *, title: str, message: str, errors=None, status: int = 400, study=None
):
    return render(
        request,
        "annotator/entry_error.html",
        {"title": title, "message": message, "errors": errors or {}, "study": study},
        status=status,
    )


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    memberships = list(selectors.memberships_for_user(user=request.user, newest_study_first=True))
    rows = []
    for m in memberships:
        row = {"membership": m, "study": m.study, "is_researcher": m.role == Role.RESEARCHER}
        if row["is_researcher"]:
            row["url"] = f"/studies/{m.study_id}/"
        else:
            row["url"] = _next_page(m)
            row["progress"] = selectors.annotator_progress(membership=m)
        rows.append(row)
    return render(request, "annotator/home.html", {"rows": rows})


def _invite_page(request: HttpRequest, invite: Invite, *, signup=None, status: int = 200) -> HttpResponse:
    needs_account = services.invite_account_problem(
        invite=invite, user=request.user if request.user.is_authenticated else None
    )
    if needs_account and signup is None and not request.user.is_authenticated:
        signup = SignupForm()
    return render(
        request,
        "annotator/invite.html",
        {"invite": invite, "study": invite.study, "needs_account": needs_account, "signup": signup},
        status=status,
    )


def _invite_refused(request: HttpRequest, exc: ServiceError, **kwargs) -> HttpResponse:
    return entry_error(request, title="Invite link not usable", message=exc.message, status=exc.status)


@require_http_methods(["GET", "POST"])
@service_error_page(_invite_refused)
def invite_entry(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows what the invite is for (link scanners must not use it up); POST joins. A researcher invite
    needs a real account: the visitor logs in first or signs up here with a user name and password."""
    invite = selectors.invite_get(token=token)
    user = request.user if request.user.is_authenticated else None
    member = user is not None and selectors.membership_find(user=user, study_id=invite.study_id)
    if member:
        return redirect(_next_page(member))
    problem = services.invite_problem(invite)
    if problem:
        return entry_error(
            request, title="Invite link not usable", message=problem, status=410, study=invite.study
        )
    if request.method == "GET":
        return _invite_page(request, invite)
    if user is None and invite.role == Role.RESEARCHER:
        signup = SignupForm(request.POST)
        if not signup.is_valid():
            return _invite_page(request, invite, signup=signup, status=400)
        user, membership = services.invite_accept_signup(
            invite=invite,
            username=signup.cleaned_data["username"],
            password=signup.cleaned_data["password1"],
        )
    else:
        user, membership = services.invite_accept(invite=invite, user=user)
    if not request.user.is_authenticated:
        login(request, user, backend=BACKEND)
    return redirect(_next_page(membership))


def _crowd_refused(request: HttpRequest, exc: ServiceError, *, slug: str) -> HttpResponse:
    """The link's parameters are wrong, or the study cannot take this participant now (full, closed, too many
    sign-ups from this network: RateLimited, with Retry-After)."""
    study = services.crowd_study_for_link(slug=slug, key=request.GET.get("key"))
    title = "This study link is incomplete" if exc.errors else "Cannot start this study"
    if isinstance(exc, RateLimited):
        title = "Please try again shortly"
    response = entry_error(
        request, title=title, message=exc.message, errors=exc.errors, status=exc.status, study=study
    )
    if isinstance(exc, RateLimited):
        response["Retry-After"] = str(exc.retry_after)
    return response


@require_http_methods(["GET", "POST"])
@service_error_page(_crowd_refused)
def crowd_entry(request: HttpRequest, slug: str) -> HttpResponse:
    """A crowd platform's link (?key=<study's crowd key>&PROLIFIC_PID=...): one pseudonymous account per
    study and PROLIFIC_PID, logged in on every visit.

    A browser logged in as another account (a researcher, a guest, or another crowd participant, also of
    this study) is never switched silently: GET shows a page that asks, and only its POST (CSRF-checked)
    continues as the participant of the link."""
    study = services.crowd_study_for_link(slug=slug, key=request.GET.get("key"))
    if study is None:  # unknown study, crowd entry off, or a wrong key: all look the same
        return entry_error(
            request,
            title="Study link not found",
            message="This link does not open a study. Check that you used the whole link from the crowd-work platform.",
            status=404,
        )
    params = services.crowd_params_check(
        pid=request.GET.get("PROLIFIC_PID"),
        study_id=request.GET.get("STUDY_ID"),
        session_id=request.GET.get("SESSION_ID"),
    )
    current = request.user
    same_account = current.is_authenticated and (
        getattr(current, "crowd_study_id", None) == study.pk and current.crowd_pid == params["pid"]
    )
    if current.is_authenticated and not same_account and request.method != "POST":
        response = render(
            request,
            "annotator/crowd_signed_in.html",
            {"study": study, "current": current, "action": request.get_full_path()},
            status=409,
        )
        response["Cache-Control"] = "no-store"
        return response
    user, membership = services.crowd_enter(
        study=study,
        pid=params["pid"],
        study_id=params["study_id"],
        session_id=params["session_id"],
        client=client_address(request),
    )
    if current.pk != user.pk:
        login(request, user, backend=BACKEND)  # a new session: the previous account is logged out
    return redirect(_next_page(membership))
