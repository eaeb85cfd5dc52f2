"""labeling.pages: a NotFound is the same 404 on every surface (page, admin, API) as Http404 was, and a page
view's other service errors become the page that view shows for them, in one place."""

import pytest
from django.http import Http404, HttpResponse
from django.test import RequestFactory
from rest_framework.test import APIClient

from labeling.errors import Conflict, NotFound, RateLimited, ServiceError
from labeling.pages import NotFoundMiddleware, service_error_page
from tests.factories import StudyFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_not_found_is_not_djangos_http404_so_commands_and_tasks_can_catch_it():
    assert issubclass(NotFound, ServiceError) and not issubclass(NotFound, Http404)
    assert NotFound("No such study.").status == 404


def test_a_selectors_not_found_is_the_sites_404_page(client, user):
    client.force_login(user)
    unknown_url = client.get("/no-such-page/")
    for url in (f"/studies/{StudyFactory().pk}/", "/studies/999999/queue/", "/invite/no-such-token/"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.content == unknown_url.content  # the very page Http404 gives


def test_under_debug_the_404_page_names_what_was_not_found(client, user, settings):
    settings.DEBUG = True
    client.force_login(user)
    response = client.get(f"/studies/{StudyFactory().pk}/")
    assert response.status_code == 404 and "No such study." in response.content.decode()


def test_every_page_and_the_admin_go_through_the_middleware_which_maps_only_not_found(settings):
    assert "labeling.pages.NotFoundMiddleware" in settings.MIDDLEWARE
    request = RequestFactory().get("/admin/labeling/study/1/change/")
    request.user = UserFactory(is_staff=True, is_superuser=True)
    middleware = NotFoundMiddleware(lambda r: HttpResponse())
    assert middleware.process_exception(request, NotFound("No such study.")).status_code == 404
    assert middleware.process_exception(request, Conflict("busy")) is None  # not a 404: left to Django
    assert middleware.process_exception(request, ValueError()) is None


def test_the_api_answers_not_found_in_its_error_shape(user):
    api = APIClient()
    api.force_authenticate(user)
    response = api.get(f"/api/studies/{StudyFactory().pk}/")
    assert response.status_code == 404 and response.json() == {"detail": "No such study."}


def test_service_error_page_shows_the_views_page_and_lets_not_found_through():
    shown = []
    to_raise: list[Exception] = []

    def page(request, exc, **kwargs):
        shown.append((exc, kwargs))
        return HttpResponse(exc.message, status=exc.status)

    @service_error_page(page)
    def view(request, study_id):
        if to_raise:
            raise to_raise.pop()
        return HttpResponse("fine")

    request = RequestFactory().get("/")
    assert view(request, study_id=7).content == b"fine" and shown == []
    limited = RateLimited("slow down", retry_after=5)
    to_raise.append(limited)
    response = view(request, study_id=7)
    assert (response.status_code, response.content) == (429, b"slow down")
    assert shown == [(limited, {"study_id": 7})]  # the page gets the view's URL arguments
    to_raise.append(NotFound("No such study."))
    with pytest.raises(NotFound):  # the site's 404 page, not this view's error page
        view(request, study_id=7)
    to_raise.append(ValueError("a bug"))
    with pytest.raises(ValueError):  # a bug stays a 500
        view(request, study_id=7)
    assert len(shown) == 1
