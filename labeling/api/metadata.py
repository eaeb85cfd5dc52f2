"""OPTIONS responses of the API (DRF's DEFAULT_METADATA_CLASS)."""

from rest_framework import metadata


class Metadata(metadata.SimpleMetadata):
    """Name, description, renders and parses; no per-field "actions". The OpenAPI schema (/api/schema/)
    describes request bodies, and our views pick their serializers per use case rather than declaring a
    serializer_class that DRF could introspect (doing so made OPTIONS a 500)."""

    def determine_actions(self, request, view):
        return {}
