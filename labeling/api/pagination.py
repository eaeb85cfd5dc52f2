import re

from rest_framework import exceptions, pagination

_ID = re.compile(r"^-?\d{1,19}$")


class CursorPagination(pagination.CursorPagination):
    """Cursor pagination with a capped page size (?page_size=, at most 500). Newest first by default.

    A cursor is opaque, but only base64 of a query string: a forged or damaged one (a position that is not an
    id, NUL bytes, bad base64) is a 400 naming `cursor`, never a database error.
    """

    page_size = 100
    page_size_query_param = "page_size"
    page_size_query_description = "Results per page (default 100, at most 500)."
    max_page_size = 500
    ordering = "-id"
    invalid_cursor_message = "Invalid cursor: use the `next` and `previous` links as they were given."

    def decode_cursor(self, request):
        try:
            cursor = super().decode_cursor(request)
        except exceptions.NotFound:
            cursor = False
        if cursor is False or (
            cursor is not None and cursor.position is not None and not _ID.match(cursor.position)
        ):
            raise exceptions.ValidationError({self.cursor_query_param: self.invalid_cursor_message})
        return cursor
