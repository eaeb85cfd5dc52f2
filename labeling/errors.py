"""Errors raised by services and selectors; views turn them into clear messages (HTTP status in `status`)."""


class ServiceError(Exception):
    status = 400

    def __init__(self, message: str, errors: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}

    def as_dict(self) -> dict:
        return {"detail": self.message, **({"errors": self.errors} if self.errors else {})}


class ValidationFailed(ServiceError):
    status = 400


class NotAllowed(ServiceError):
    status = 403


class NotFound(ServiceError):
    """No such row, or not the requester's to see (another user's row is "not found", never "forbidden").

    Raised by selectors and services instead of Django's Http404, so commands and tasks can use them too.
    The API's exception handler answers it as 404 in the error shape; HTML views and the admin show the
    site's 404 page (labeling.pages.NotFoundMiddleware)."""

    status = 404


class Conflict(ServiceError):
    status = 409


class Gone(ServiceError):
    """The object exists but its content may no longer be served (a dataset export holding withdrawn data)."""

    status = 410


class RateLimited(ServiceError):
    """Too many attempts from one client (or at one target) for now; `retry_after` is in seconds."""

    status = 429

    def __init__(self, message: str, errors: dict[str, str] | None = None, *, retry_after: int = 60):
        super().__init__(message, errors)
        self.retry_after = retry_after


class Unavailable(ServiceError):
    """A service the request needs (the task broker) is unreachable; nothing was changed."""

    status = 503
