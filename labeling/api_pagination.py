from rest_framework import pagination


class CursorPagination(pagination.CursorPagination):
    """Cursor pagination with a capped page size (?page_size=, at most 500)."""

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = "-id"
