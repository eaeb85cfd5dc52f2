"""URL converters. `dbid`: a row id that fits a 64-bit integer column; anything larger is simply no match (404).

SQLite raises OverflowError for an integer parameter beyond 2**63 - 1, so /s/99999999999999999999/ must never
reach a query. Registered once, on import (Django refuses to register a converter name twice).
"""

from django.urls import register_converter

MAX_DB_ID = 2**63 - 1


class DbIdConverter:
    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > MAX_DB_ID:
            raise ValueError("id out of range")  # the URL resolver treats this as "no match": 404
        return number

    def to_url(self, value) -> str:
        return str(int(value))


register_converter(DbIdConverter, "dbid")
