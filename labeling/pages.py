"""How HTML pages answer the project's errors (labeling.errors), in one place.

- ``NotFound`` (a selector's "no such row, or not yours") is the site's 404 page, exactly as ``Http404`` is:
  :class:`NotFoundMiddleware` maps it for every page and the admin. (The API maps it in
  labeling/api/base.py.)
- Any other ``ServiceError`` a page view lets through becomes the page that view shows for it: decorate the
  view with :func:`service_error_page` and give it a function that renders that page. Views write no
  ``except ServiceError`` blocks of their own.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.handlers.exception import response_for_exception
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase

from labeling.errors import NotFound, ServiceError

View = Callable[..., HttpResponseBase]
# page(request, exc, **the view's URL arguments): the page the view shows for a service error.
ErrorPage = Callable[..., HttpResponseBase]


def service_error_page(page: ErrorPage) -> Callable[[View], View]:
    """Decorate a page view: a ServiceError it lets through becomes ``page(request, exc, **view_kwargs)``.

    NotFound is not the view's to show: it passes on to the site's 404 page (NotFoundMiddleware), as Http404
    would. Put this decorator below ``login_required`` and the method checks, so it wraps only the view's own
    work."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            try:
                return view(request, *args, **kwargs)
            except NotFound:
                raise
            except ServiceError as exc:
                return page(request, exc, **kwargs)

        return wrapped

    return decorate


class NotFoundMiddleware:
    """A NotFound escaping a view is answered like Http404: the site's 404 page (the debug page under DEBUG),
    logged as "Not Found". Selectors raise NotFound rather than Http404 so commands and tasks can use them."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, NotFound):
            return response_for_exception(request, Http404(exception.message))
        return None
