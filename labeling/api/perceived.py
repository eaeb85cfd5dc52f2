"""Serializers of a clip's perceived-vs-experienced figures in the research API (GET
/api/studies/<id>/clips/<clip_id>/): the filmed person's self-reports and the observers' summary beside
them. Researchers only; shaped from selectors.clip_perceived."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from labeling.api.serializers import ClipSerializer, SelfReportSerializer


class ClipDimensionSerializer(serializers.Serializer):
    n = serializers.IntegerField(help_text="Observer ratings of this dimension (the labels that count).")
    mean = serializers.FloatField(allow_null=True)
    sd = serializers.FloatField(allow_null=True, help_text="Sample sd (n - 1); null below 2 ratings.")
    min = serializers.FloatField(allow_null=True)
    max = serializers.FloatField(allow_null=True)
    self = serializers.FloatField(
        allow_null=True,
        help_text="The clip's self-report value: the mean of its whole-clip reports, else the "
        "window-length-weighted mean of its windowed reports.",
    )
    reports_used = serializers.IntegerField(help_text="Self-reports that value was computed from.")
    gap = serializers.FloatField(allow_null=True, help_text="self - observers' mean.")
    outside_range = serializers.BooleanField(
        allow_null=True, help_text="The self-report lies outside [min, max] (null below 2 ratings)."
    )
    outside_sd = serializers.BooleanField(
        allow_null=True, help_text="The self-report lies outside mean +/- 1 sd (null below 2 ratings)."
    )


class ClipDimensionsSerializer(serializers.Serializer):
    valence = ClipDimensionSerializer()
    arousal = ClipDimensionSerializer()


class ClipObserversSerializer(serializers.Serializer):
    n_ratings = serializers.IntegerField(help_text="Observer ratings that count, 'cannot judge' included.")
    n_cannot_judge = serializers.IntegerField()
    dimensions = ClipDimensionsSerializer(help_text="Canonical scale -1..1.")


class ClipDetailSerializer(ClipSerializer):
    """A clip as its researchers see it, with the observers' summary and the filmed person's self-reports."""

    observers = serializers.SerializerMethodField()
    self_reports = serializers.SerializerMethodField()

    class Meta(ClipSerializer.Meta):
        fields = [*ClipSerializer.Meta.fields, "observers", "self_reports"]

    @extend_schema_field(ClipObserversSerializer)
    def get_observers(self, clip) -> dict:
        figures = self.context["perceived"]
        return ClipObserversSerializer(
            {k: figures[k] for k in ("n_ratings", "n_cannot_judge", "dimensions")}
        ).data

    @extend_schema_field(SelfReportSerializer(many=True))
    def get_self_reports(self, clip) -> list:
        return SelfReportSerializer(self.context["perceived"]["self_reports"], many=True).data
