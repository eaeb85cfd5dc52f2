"""Reads of a study's clips: coverage (ratings per clip against K) in one query."""

import pytest

from labeling import selectors


def test_coverage_counts_for_a_known_setup(dashboard_setup, django_assert_num_queries):
    with django_assert_num_queries(1):
        cov = selectors.study_coverage(study=dashboard_setup["study"])
    assert [b["clips"] for b in cov["buckets"]] == [2, 1, 1, 1]
    assert [b["label"] for b in cov["buckets"]] == ["0", "1", "2", "3+"]
    assert cov["clips"] == 5 and cov["inactive"] == 1 and cov["complete"] == 1
    assert cov["ratings"] == 6 and cov["wanted"] == 15 and cov["done"] == 6
    assert cov["percent"] == pytest.approx(40.0)
    assert cov["leased"] == 1
    assert dashboard_setup["lease"].clip_id == dashboard_setup["clips"][3].pk
