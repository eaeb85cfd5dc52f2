"""The hot-path serializers write their responses with a plain function; it must equal DRF's generic output."""

import pytest
from rest_framework import serializers

from labeling import services
from labeling.api.serializers import (
    AnnotationSerializer,
    AssignmentSerializer,
    ClipForAnnotatorSerializer,
    ResearchAnnotationSerializer,
)
from tests.factories import ClipFactory, rating_data


def generic(serializer_class, instance):
    return serializers.ModelSerializer.to_representation(serializer_class(), instance)


@pytest.mark.parametrize("with_poster", [False, True])
def test_fast_representations_equal_drf_generic_output(study, make_annotator, with_poster):
    ClipFactory(study=study, poster="posters/x.jpg" if with_poster else "")
    assignment = services.assignment_claim_next(membership=make_annotator(study))
    annotation, _ = services.annotation_submit(
        assignment=assignment,
        data=rating_data(
            valence=2,
            arousal=9,
            valence_confidence=1,
            arousal_confidence=5,
            context_tags=["activity:talking"],
            context_note="in a café",
            time_on_task_ms=2500,
            watched_fraction=0.99,
        ),
    )
    for cls, obj in [
        (ClipForAnnotatorSerializer, assignment.clip),
        (AssignmentSerializer, assignment),
        (AnnotationSerializer, annotation),
        (ResearchAnnotationSerializer, annotation),
    ]:
        fast = cls(obj).data
        assert dict(fast) == dict(generic(cls, obj)), cls.__name__
        assert list(fast) == list(cls().fields), cls.__name__  # same keys, same order as the schema
