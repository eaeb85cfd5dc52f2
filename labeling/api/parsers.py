"""Request parsers that refuse text no database can store, before any view or service sees it.

PostgreSQL's text refuses NUL (``\\x00``) and a lone UTF-16 surrogate (``\\ud800``, which JSON can spell as an
escape) cannot be encoded as UTF-8 at all; SQLite stores the surrogate and every later read of that row fails.
So every string in a request body (keys and values, at any depth) is checked here, once, and a bad one is a
400 naming the field: ``{"detail": ..., "errors": {"scheme.context_groups.0.tags.1": "..."}}``. JSON nested
deeper than MAX_DEPTH (or deep enough to exhaust Python's recursion) is a 400 too, never a RecursionError.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import QueryDict
from rest_framework import exceptions, parsers

from labeling.text import text_problem

MAX_DEPTH = 32  # the deepest body the API accepts (a scheme spec is 4 levels deep)


def body_problems(data: Any) -> dict[str, str]:
    """{"field.path": message} for every string that cannot be stored; walks iteratively (no recursion)."""
    errors: dict[str, str] = {}
    stack: list[tuple[str, Any, int]] = [("", data, 0)]
    while stack:
        path, value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise exceptions.ParseError(f"The request body is nested more than {MAX_DEPTH} levels deep.")
        if isinstance(value, str):
            if problem := text_problem(value):
                errors.setdefault(path or "non_field_errors", problem)
        elif isinstance(value, dict):
            for key, item in value.items():
                key = str(key)
                child = f"{path}.{key}" if path else key
                if problem := text_problem(key):
                    errors.setdefault(path or "non_field_errors", f"a key {problem[0].lower()}{problem[1:]}")
                    continue
                stack.append((child, item, depth + 1))
        elif isinstance(value, (list, tuple)):
            stack.extend((f"{path}.{i}" if path else str(i), item, depth + 1) for i, item in enumerate(value))
    return errors


def _refuse(errors: dict[str, str]) -> None:
    if errors:
        raise exceptions.ValidationError(errors)


def _form_problems(data: QueryDict, files=None) -> dict[str, str]:
    fields = {key: data.getlist(key) for key in data}
    for key in files or {}:
        fields.setdefault(key, []).extend(f.name or "" for f in files.getlist(key))
    return body_problems({key: values[0] if len(values) == 1 else values for key, values in fields.items()})


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError(
                f"JSON parse error - the body is nested too deeply (at most {MAX_DEPTH} levels)."
            ) from None
        _refuse(body_problems(data))
        return data


class FormParser(parsers.FormParser):
    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        _refuse(_form_problems(data))
        return data


class MultiPartParser(parsers.MultiPartParser):
    def parse(self, stream, media_type=None, parser_context=None):
        result = super().parse(stream, media_type, parser_context)
        _refuse(_form_problems(result.data, result.files))
        return result


class FileBody:
    """A request body taken whole as a file (FileBodyParser): its bytes, and the format its type names."""

    def __init__(self, content: bytes, format: str):
        self.content, self.format = content, format


class FileBodyParser(parsers.BaseParser):
    """The body, unparsed, as a FileBody: for endpoints that take a file as their whole body (a self-report
    import sent as text/csv or application/json). Reads at most SELF_REPORT_IMPORT_MAX_BYTES + 1 bytes: the
    service names the limit of a larger file (the request guard refuses a larger Content-Length first)."""

    format = ""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = getattr(settings, "SELF_REPORT_IMPORT_MAX_BYTES", 0)
        return FileBody(stream.read(limit + 1) if stream is not None else b"", self.format)


class CSVFileParser(FileBodyParser):
    media_type = "text/csv"
    format = "csv"


class JSONFileParser(FileBodyParser):
    media_type = "application/json"
    format = "json"
