"""load_ratings: the study's ratings as arrays, in submission order, with names and the tag vocabulary."""

from labeling.models import Annotation
from labeling.reports import load_ratings


def test_load_ratings_keeps_submission_order_and_names(crowd_study):
    ratings = load_ratings(study=crowd_study)
    assert list(ratings.ann_ids) == sorted(ratings.ann_ids)
    assert ratings.watermark["annotation_count"] == Annotation.objects.filter(study=crowd_study).count()
    assert all(ratings.clip_names) and all(ratings.usernames)
    assert ratings.vocabulary[0] == "setting:home"  # the scheme's order first
