from rest_framework import pagination


class CursorPagination(pagination.CursorPagination):
    """Cursor pagination with a capped page size (?page_size=, at most 500). Newest first by default."""

    page_size = 100
    page_size_query_param = "page_size"
    page_size_query_description = "Results per page (default 100, at most 500)."
    max_page_size = 500
    ordering = "-id"
