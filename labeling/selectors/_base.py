"""What the selector modules share: the ids a lookup treats as "no such row", and the correlated count."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db.models import F, Func, IntegerField, QuerySet, Subquery
from django.db.models.functions import Coalesce

# The requester: settings.AUTH_USER_MODEL (annotator's User), which labeling does not import. For the type
# checker, django-stubs expands its `_User` alias to that model; at run time the name is Django's base class.
if TYPE_CHECKING:
    from django.contrib.auth.models import _User as User
else:
    from django.contrib.auth.models import AbstractUser as User

__all__ = ["BAD_ID", "User", "count_of"]

# A lookup by an id that is not a number, or one the database cannot hold, finds nothing: "not found", like
# another user's row (SQLite raises OverflowError for integers beyond 64 bits).
BAD_ID = (ValueError, TypeError, OverflowError)


def count_of(queryset: QuerySet[Any]) -> Coalesce:
    """A correlated COUNT subquery of `queryset` (filtered on an OuterRef), 0 when nothing matches.

    Several side by side multiply no rows (a join with Count would) and make no query per row."""
    counted = queryset.order_by().annotate(n=Func(F("pk"), function="COUNT")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)
